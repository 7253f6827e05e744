"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme) for camvault's data model.

camvault only signs and binds values of a deliberately small JSON subset: objects with
string keys, arrays, strings, booleans, null and integers in the IEEE-754 exact range
(|n| <= 2**53 - 1). Floats are refused rather than serialised, so the number formatting rules
of RFC 8785 section 3.2.2.3 reduce to the decimal form of an integer, which is exact.

Rules implemented (RFC 8785 section 3.2):
- no insignificant whitespace;
- object members sorted by their names compared as arrays of UTF-16 code units (3.2.3);
- strings serialised as ECMAScript JSON.stringify does (3.2.2.2): '"' and '\\' escaped, the
  controls U+0008, U+0009, U+000A, U+000C, U+000D as \\b \\t \\n \\f \\r, other controls
  below U+0020 as lowercase \\u00xx, everything else literal UTF-8; lone surrogates refused;
- duplicate member names cannot occur (dict keys).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from crypto.errors import StatementError

MAX_SAFE_INTEGER = 2**53 - 1


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be")


def _check_string(s: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StatementError("canonical JSON: string contains a lone surrogate") from exc


def _encode(value: object, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise StatementError("canonical JSON: integer outside the exact IEEE-754 range")
        out.append(str(value))
    elif isinstance(value, float):
        raise StatementError("canonical JSON: floating-point numbers are not allowed")
    elif isinstance(value, str):
        _check_string(value)
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Mapping):
        items = []
        for k in value:
            if not isinstance(k, str):
                raise StatementError("canonical JSON: object keys must be strings")
            _check_string(k)
            items.append(k)
        items.sort(key=_utf16_key)
        out.append("{")
        for i, k in enumerate(items):
            if i:
                out.append(",")
            out.append(json.dumps(k, ensure_ascii=False))
            out.append(":")
            _encode(value[k], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    else:
        raise StatementError(f"canonical JSON: unsupported type {type(value).__name__}")


def canonical_json(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of ``value`` (camvault's JSON subset)."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


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
