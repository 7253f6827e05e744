"""The validation framework of signed statements: strict checks of JSON members.

Each member of a statement body is declared once as a :class:`_Field` (its constructor check,
its JSON parser, its JSON writer); :class:`_Record` runs them for a whole JSON object.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Generic, Self, TypeVar

from crypto.age.x25519 import X25519Recipient
from crypto.ed25519 import (
    Ed25519PublicKey,
)
from crypto.errors import KeyFormatError, StatementError
from crypto.escrow import CustodianPublicKey
from crypto.metadata import check_id, check_time_ms

MAX_TEXT_LEN = 128
MAX_URL_LEN = 2048
MAX_COUNTER = 2**53 - 1

_HEX256_RE = re.compile(r"^[0-9a-f]{64}$")
_URL_RE = re.compile(r"^https?://[\x21-\x7e]+$")

E = TypeVar("E", bound=Enum)
T = TypeVar("T")
R = TypeVar("R", bound="_Record")

# --- field checks -----------------------------------------------------------------------------


def _fields(obj: object, what: str, names: Sequence[str]) -> Mapping[str, object]:
    """Require a JSON object with exactly the member names ``names``."""
    if not isinstance(obj, dict):
        raise StatementError(f"{what}: must be a JSON object")
    keys = set(obj)
    unknown = sorted(k for k in keys if k not in names)
    if unknown:
        raise StatementError(f"{what}: unknown field {unknown[0]!r}")
    missing = [k for k in names if k not in keys]
    if missing:
        raise StatementError(f"{what}: missing field {missing[0]!r}")
    return obj


def _int(value: object, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StatementError(f"{what}: must be an integer")
    if not lo <= value <= hi:
        raise StatementError(f"{what}: must be between {lo} and {hi}")
    return value


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise StatementError(f"{what}: must be true or false")
    return value


def _text(value: object, what: str, max_len: int = MAX_TEXT_LEN) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise StatementError(f"{what}: must be a string of 1-{max_len} characters")
    if not value.isprintable() or value != value.strip():
        raise StatementError(f"{what}: control characters or surrounding spaces are not allowed")
    return value


def _enum(cls: type[E], value: object, what: str) -> E:
    if isinstance(value, cls):
        return value
    allowed = [m.value for m in cls]
    if not isinstance(value, str) or value not in allowed:
        raise StatementError(f"{what}: must be one of {allowed}")
    return cls(value)


def _instance(cls: type[T], article: str = "a") -> Callable[[object, str], T]:
    """A constructor check: the value must already be a ``cls`` (an enum member, a parsed key)."""

    def check(value: object, what: str) -> T:
        if not isinstance(value, cls):
            raise StatementError(f"{what}: must be {article} {cls.__name__}")
        return value

    return check


def _sha256(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise StatementError(f"{what}: must be 32 bytes")
    return value


def _sha256_from_hex(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX256_RE.fullmatch(value):
        raise StatementError(f"{what}: must be 64 lowercase hex digits (SHA-256)")
    return bytes.fromhex(value)


_pubkey = _instance(Ed25519PublicKey, "an")


def _pubkey_from_text(value: object, what: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_text(value, what)
    except KeyFormatError as exc:
        raise StatementError(str(exc)) from exc


def _list(value: object, what: str, lo: int, hi: int) -> list[object]:
    if not isinstance(value, list):
        raise StatementError(f"{what}: must be a JSON array")
    if not lo <= len(value) <= hi:
        raise StatementError(f"{what}: must have {lo}-{hi} elements")
    return value


def _tuple(value: object, what: str, lo: int, hi: int) -> tuple[Any, ...]:
    if not isinstance(value, tuple):
        raise StatementError(f"{what}: must be a tuple")
    if not lo <= len(value) <= hi:
        raise StatementError(f"{what}: must have {lo}-{hi} elements")
    return value


def _unique(values: Sequence[object], what: str) -> None:
    seen: set[object] = set()
    for v in values:
        if v in seen:
            raise StatementError(f"{what}: duplicate element {v!s}")
        seen.add(v)


def parse_age_recipient(value: object, what: str = "age recipient") -> X25519Recipient:
    """Parse an age X25519 recipient (C2SP age spec, "The X25519 recipient type").

    Delegates to crypto.x25519: Bech32 with HRP ``age`` (checksum checked) of 32 bytes, lowercase
    only, so that each recipient has exactly one spelling.
    """
    if not isinstance(value, str):
        raise StatementError(f"{what}: must be an age X25519 recipient string (age1...)")
    try:
        return X25519Recipient.parse(value)
    except KeyFormatError as exc:
        raise StatementError(f"{what}: {exc}") from exc


def _escrow_key_from_text(value: object, what: str) -> CustodianPublicKey:
    if not isinstance(value, str):
        raise StatementError(f"{what}: must be a string")
    try:
        return CustodianPublicKey.from_text(value)
    except KeyFormatError as exc:
        raise StatementError(f"{what}: {exc}") from exc


def _url(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_URL_LEN or not _URL_RE.fullmatch(value):
        raise StatementError(f"{what}: must be null or an http(s) URL of printable ASCII")
    return value


# --- member specs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field(Generic[T]):
    """One member of a JSON object: its check in the constructor, its parser and its writer.

    ``check`` refuses a constructor argument of the wrong Python type or value; ``parse`` turns a
    JSON value into the member's Python value, as strictly; ``dump`` is the inverse of ``parse``.
    Each takes ``what`` (e.g. ``consent.site_id``) to name the member in a refusal.
    """

    check: Callable[[object, str], object]
    parse: Callable[[object, str], T]
    dump: Callable[[T], object]


def _same(value: T) -> T:
    return value


def _no_check(value: object, what: str) -> None:
    return None


def _plain(check: Callable[[object, str], T]) -> _Field[T]:
    """A member that is its own JSON value (string, integer, boolean or null)."""
    return _Field(check, check, _same)


def _integer(lo: int, hi: int) -> _Field[int]:
    def check(value: object, what: str) -> int:
        return _int(value, what, lo, hi)

    return _plain(check)


def _member(cls: type[E]) -> _Field[E]:
    """A member of enum ``cls``, written as its value."""

    def parse(value: object, what: str) -> E:
        return _enum(cls, value, what)

    def dump(value: E) -> object:
        return value.value

    return _Field(_instance(cls), parse, dump)


def _optional(field: _Field[T]) -> _Field[T | None]:
    """``field``, or None (JSON null)."""

    def check(value: object, what: str) -> object:
        return None if value is None else field.check(value, what)

    def parse(value: object, what: str) -> T | None:
        return None if value is None else field.parse(value, what)

    def dump(value: T | None) -> object:
        return None if value is None else field.dump(value)

    return _Field(check, parse, dump)


def _array(item: _Field[T], lo: int, hi: int, *, unique: bool = False) -> _Field[tuple[T, ...]]:
    """A tuple of ``lo``-``hi`` items (a JSON array); with ``unique``, no item twice."""

    def check(value: object, what: str) -> object:
        items = _tuple(value, what, lo, hi)
        for v in items:
            item.check(v, f"{what}[]")
        if unique:
            _unique(items, what)
        return items

    def parse(value: object, what: str) -> tuple[T, ...]:
        return tuple(item.parse(v, f"{what}[]") for v in _list(value, what, lo, hi))

    def dump(value: tuple[T, ...]) -> object:
        return [item.dump(v) for v in value]

    return _Field(check, parse, dump)


def _checked_by_class(field: _Field[T]) -> _Field[T]:
    """``field``, checked in the constructor by the class's ``_check`` (it depends on others)."""
    return _Field(_no_check, field.parse, field.dump)


_ID = _plain(check_id)
_TIME = _plain(check_time_ms)
_TEXT = _plain(_text)
_BOOL = _plain(_bool)
_URL = _plain(_url)
_COUNTER = _integer(0, MAX_COUNTER)
_PUBKEY: _Field[Ed25519PublicKey] = _Field(_pubkey, _pubkey_from_text, Ed25519PublicKey.to_text)
_SHA256: _Field[bytes] = _Field(_sha256, _sha256_from_hex, bytes.hex)
_ESCROW_KEY: _Field[CustodianPublicKey] = _Field(
    _instance(CustodianPublicKey), _escrow_key_from_text, CustodianPublicKey.to_text
)
_RECIPIENT: _Field[X25519Recipient] = _Field(
    _instance(X25519Recipient, "an"), parse_age_recipient, str
)


class _Record:
    """A JSON object with a fixed set of members, declared once in ``_SPEC``.

    ``_SPEC`` maps each member name to its :class:`_Field` in canonical order (``FIELDS`` is
    ``tuple(_SPEC)``); ``_NAME`` prefixes every refusal (``<_NAME>.<member>: ...``). The
    constructor checks each member, then the rules that relate members (``_check``);
    ``from_json`` requires exactly the members of ``FIELDS`` and parses each one before
    constructing (so the same rules apply).
    """

    __slots__ = ()
    _NAME: ClassVar[str]
    _SPEC: ClassVar[Mapping[str, _Field[Any]]]
    FIELDS: ClassVar[tuple[str, ...]]

    def __post_init__(self) -> None:
        for name, field in self._SPEC.items():
            field.check(getattr(self, name), f"{self._NAME}.{name}")
        self._check()

    def _check(self) -> None:
        """Rules across members, run after each member passed its own check."""

    def to_json(self) -> dict[str, Any]:
        return {name: field.dump(getattr(self, name)) for name, field in self._SPEC.items()}

    @classmethod
    def from_json(cls, obj: object) -> Self:
        o = _fields(obj, cls._NAME, cls.FIELDS)
        return cls(
            **{
                name: field.parse(o[name], f"{cls._NAME}.{name}")
                for name, field in cls._SPEC.items()
            }
        )


def _object(cls: type[R]) -> _Field[R]:
    """A nested object of class ``cls``."""

    def parse(value: object, what: str) -> R:
        return cls.from_json(value)

    def dump(value: R) -> object:
        return value.to_json()

    return _Field(_instance(cls), parse, dump)
