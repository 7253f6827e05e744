"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme) for camvault's data model.

camvault only signs and binds values of a deliberately small JSON subset: objects with
string keys, arrays, strings, booleans, null and integers in the IEEE-754 exact range
(|n| <= 2**53 - 1). Floats are refused rather than serialised, so the number formatting rules
of RFC 8785 section 3.2.2.3 reduce to the decimal form of an integer, which is exact.

Serialisation is the ``rfc8785`` package (as sigstore-python uses it): no insignificant
whitespace, members sorted by UTF-16 code units, strings escaped as ECMAScript's
JSON.stringify does, lone surrogates refused. On top of it this module refuses floats, and
:func:`parse_canonical_json` accepts input only if it already is the canonical encoding of its
value (parse, re-serialise, compare the bytes).
"""

from __future__ import annotations

import json

import rfc8785

from crypto.errors import StatementError

MAX_SAFE_INTEGER = 2**53 - 1


def _refuse_floats(value: object) -> None:
    """Refuse a float anywhere in ``value`` (rfc8785 would serialise it)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float):
            raise StatementError("canonical JSON: floating-point numbers are not allowed")
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def canonical_json(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of ``value`` (camvault's JSON subset)."""
    _refuse_floats(value)
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except rfc8785.IntegerDomainError as exc:
        raise StatementError("canonical JSON: integer outside the exact IEEE-754 range") from exc
    except rfc8785.CanonicalizationError as exc:
        if isinstance(exc.__cause__, UnicodeEncodeError):
            raise StatementError("canonical JSON: string contains a lone surrogate") from exc
        raise StatementError(f"canonical JSON: {exc}") from exc
    except UnicodeEncodeError as exc:  # an object key: rfc8785 sorts keys by their UTF-16
        raise StatementError("canonical JSON: member name contains a lone surrogate") from exc


def _reject_constant(name: str) -> object:
    raise StatementError(f"canonical JSON: {name} is not allowed")


def _reject_float(text: str) -> object:
    raise StatementError("canonical JSON: floating-point numbers are not allowed")


MAX_INT_DIGITS = 16  # 2**53 - 1 has 16 digits; longer numbers are refused before conversion


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise StatementError("canonical JSON: integer outside the exact IEEE-754 range")
    return int(text)


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for k, v in pairs:
        if k in result:
            raise StatementError(f"canonical JSON: duplicate member {k!r}")
        result[k] = v
    return result


def parse_canonical_json(data: bytes) -> object:
    """Parse ``data`` and require it to be exactly the canonical encoding of its value.

    Refuses invalid UTF-8, duplicate members, floats, NaN/Infinity and any non-canonical
    spelling (whitespace, member order, escapes), so that a signature over bytes and a
    signature over the parsed value can never disagree.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StatementError("canonical JSON: not valid UTF-8") from exc
    try:
        value: object = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_reject_float,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        raise StatementError(f"canonical JSON: {exc.msg} at offset {exc.pos}") from exc
    except RecursionError as exc:
        raise StatementError("canonical JSON: nesting too deep") from exc
    try:
        canonical = canonical_json(value)
    except RecursionError as exc:
        raise StatementError("canonical JSON: nesting too deep") from exc
    if canonical != data:
        raise StatementError("canonical JSON: encoding is not canonical (RFC 8785)")
    return value
