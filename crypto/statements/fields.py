"""The validation framework of signed statements: each JSON member declared once.

A statement body (or a nested object such as a custodian) is a frozen dataclass decorated with
:func:`record`, whose fields are declared with :func:`member` and a :class:`Spec`::

    @record("revocation")
    class Revocation(Record):
        site_id: str = member(ID)
        consent_id: str = member(ID)
        issued_at_ms: int = member(TIME)

The :class:`Spec` of a member holds its constructor check, its strict JSON parser and its JSON
writer; :class:`Record` runs them for the whole object (``__post_init__``, ``from_json``,
``to_json``), then the rules that relate members (``_check``). Every refusal is a
:class:`~crypto.errors.StatementError` naming the member as ``<record name>.<member>``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, cast, dataclass_transform

from crypto.age.x25519 import X25519Recipient
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import KeyFormatError, StatementError
from crypto.escrow import CustodianPublicKey
from crypto.metadata import check_id, check_time_ms

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

MAX_TEXT_LEN = 128
MAX_URL_LEN = 2048
MAX_COUNTER = 2**53 - 1

_HEX256_RE = re.compile(r"^[0-9a-f]{64}$")
_URL_RE = re.compile(r"^https?://[\x21-\x7e]+$")
_SPEC_KEY = "camvault.spec"

E = TypeVar("E", bound=Enum)
T = TypeVar("T")
R = TypeVar("R", bound="Record")

# --- value checks -----------------------------------------------------------------------------


def require_members(obj: object, what: str, names: Sequence[str]) -> Mapping[str, object]:
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


def check_int(value: object, what: str, lo: int, hi: int) -> int:
    """An integer (not a bool) in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise StatementError(f"{what}: must be an integer")
    if not lo <= value <= hi:
        raise StatementError(f"{what}: must be between {lo} and {hi}")
    return value


def check_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise StatementError(f"{what}: must be true or false")
    return value


def check_text(value: object, what: str, max_len: int = MAX_TEXT_LEN) -> str:
    """A printable string of 1-``max_len`` characters without surrounding spaces."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise StatementError(f"{what}: must be a string of 1-{max_len} characters")
    if not value.isprintable() or value != value.strip():
        raise StatementError(f"{what}: control characters or surrounding spaces are not allowed")
    return value


def check_enum(cls: type[E], value: object, what: str) -> E:
    """A member of ``cls``, or the string value of one."""
    if isinstance(value, cls):
        return value
    allowed = [m.value for m in cls]
    if not isinstance(value, str) or value not in allowed:
        raise StatementError(f"{what}: must be one of {allowed}")
    return cls(value)


def instance_of(cls: type[T], article: str = "a") -> Callable[[object, str], T]:
    """A constructor check: the value must already be a ``cls`` (an enum member, a parsed key)."""

    def check(value: object, what: str) -> T:
        if not isinstance(value, cls):
            raise StatementError(f"{what}: must be {article} {cls.__name__}")
        return value

    return check


def check_sha256(value: object, what: str) -> bytes:
    """A 32-byte SHA-256 value."""
    if not isinstance(value, bytes) or len(value) != 32:
        raise StatementError(f"{what}: must be 32 bytes")
    return value


def sha256_from_hex(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX256_RE.fullmatch(value):
        raise StatementError(f"{what}: must be 64 lowercase hex digits (SHA-256)")
    return bytes.fromhex(value)


check_pubkey = instance_of(Ed25519PublicKey, "an")


def pubkey_from_text(value: object, what: str) -> Ed25519PublicKey:
    """An ``ed25519:`` public key text; a malformed one is a StatementError naming ``what``."""
    try:
        return Ed25519PublicKey.from_text(value, what)
    except KeyFormatError as exc:
        raise StatementError(str(exc)) from exc


def check_length(value: Sequence[object], what: str, lo: int, hi: int) -> None:
    if not lo <= len(value) <= hi:
        raise StatementError(f"{what}: must have {lo}-{hi} elements")


def check_unique(values: Sequence[object], what: str) -> None:
    seen: set[object] = set()
    for v in values:
        if v in seen:
            raise StatementError(f"{what}: duplicate element {v!s}")
        seen.add(v)


def parse_age_recipient(value: object, what: str = "age recipient") -> X25519Recipient:
    """Parse an age X25519 recipient (C2SP age spec, "The X25519 recipient type").

    Delegates to crypto.age.x25519: Bech32 with HRP ``age`` (checksum checked) of 32 bytes,
    lowercase only, so that each recipient has exactly one spelling.
    """
    return _from_key_text(
        X25519Recipient.parse, value, what, "an age X25519 recipient string (age1...)"
    )


def _escrow_key_from_text(value: object, what: str) -> CustodianPublicKey:
    return _from_key_text(CustodianPublicKey.from_text, value, what, "a string")


def _from_key_text(parse: Callable[[str], T], value: object, what: str, expected: str) -> T:
    """``parse(value)`` for a string ``value``; every refusal a StatementError naming ``what``."""
    if not isinstance(value, str):
        raise StatementError(f"{what}: must be {expected}")
    try:
        return parse(value)
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
class Spec(Generic[T]):
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


def plain(check: Callable[[object, str], T]) -> Spec[T]:
    """A member that is its own JSON value (string, integer, boolean or null)."""
    return Spec(check, check, _same)


def integer(lo: int, hi: int) -> Spec[int]:
    """An integer in ``lo..hi``."""

    def check(value: object, what: str) -> int:
        return check_int(value, what, lo, hi)

    return plain(check)


def enum_member(cls: type[E]) -> Spec[E]:
    """A member of enum ``cls``, written as its value."""

    def parse(value: object, what: str) -> E:
        return check_enum(cls, value, what)

    def dump(value: E) -> object:
        return value.value

    return Spec(instance_of(cls), parse, dump)


def optional(spec: Spec[T]) -> Spec[T | None]:
    """``spec``, or None (JSON null)."""

    def check(value: object, what: str) -> object:
        return None if value is None else spec.check(value, what)

    def parse(value: object, what: str) -> T | None:
        return None if value is None else spec.parse(value, what)

    def dump(value: T | None) -> object:
        return None if value is None else spec.dump(value)

    return Spec(check, parse, dump)


def array(item: Spec[T], lo: int, hi: int, *, unique: bool = False) -> Spec[tuple[T, ...]]:
    """A tuple of ``lo``-``hi`` items (a JSON array); with ``unique``, no item twice."""

    def check(value: object, what: str) -> object:
        if not isinstance(value, tuple):
            raise StatementError(f"{what}: must be a tuple")
        check_length(value, what, lo, hi)
        for v in value:
            item.check(v, f"{what}[]")
        if unique:
            check_unique(value, what)
        return value

    def parse(value: object, what: str) -> tuple[T, ...]:
        if not isinstance(value, list):
            raise StatementError(f"{what}: must be a JSON array")
        check_length(value, what, lo, hi)
        return tuple(item.parse(v, f"{what}[]") for v in value)

    def dump(value: tuple[T, ...]) -> object:
        return [item.dump(v) for v in value]

    return Spec(check, parse, dump)


def checked_by_class(spec: Spec[T]) -> Spec[T]:
    """``spec``, checked in the constructor by the class's ``_check`` (it depends on others)."""
    return Spec(_no_check, spec.parse, spec.dump)


def nested(cls: type[R]) -> Spec[R]:
    """A nested object of record class ``cls``."""

    def parse(value: object, what: str) -> R:
        return cls.from_json(value)

    def dump(value: R) -> object:
        return value.to_json()

    return Spec(instance_of(cls), parse, dump)


ID = plain(check_id)
TIME = plain(check_time_ms)
TEXT = plain(check_text)
BOOL = plain(check_bool)
URL = plain(_url)
COUNTER = integer(0, MAX_COUNTER)
PUBKEY: Spec[Ed25519PublicKey] = Spec(check_pubkey, pubkey_from_text, Ed25519PublicKey.to_text)
SHA256: Spec[bytes] = Spec(check_sha256, sha256_from_hex, bytes.hex)
ESCROW_KEY: Spec[CustodianPublicKey] = Spec(
    instance_of(CustodianPublicKey), _escrow_key_from_text, CustodianPublicKey.to_text
)
RECIPIENT: Spec[X25519Recipient] = Spec(
    instance_of(X25519Recipient, "an"), parse_age_recipient, str
)


# --- records ----------------------------------------------------------------------------------


def member(spec: Spec[T], *, default: T | None = None) -> T:
    """Declare a field of a :func:`record` class by the :class:`Spec` of its JSON member
    (``default``: the constructor's value when the argument is left out; the field then comes
    after those without one)."""
    if default is None:
        declared: T = dataclasses.field(metadata={_SPEC_KEY: spec})
    else:
        declared = dataclasses.field(default=default, metadata={_SPEC_KEY: spec})
    return declared


def optional_member(spec: Spec[T | None]) -> T | None:
    """A :func:`member` whose constructor default is None (for a member added to a record
    later and left out of its JSON when None; the record's ``to_json``/``from_json`` do that)."""
    declared: T | None = dataclasses.field(default=None, metadata={_SPEC_KEY: spec})
    return declared


class Record:
    """A JSON object with a fixed set of members, each declared once with :func:`member`.

    :func:`record` fills the class variables: ``SPEC`` maps each member name to its
    :class:`Spec` in declaration order, ``FIELDS`` is ``tuple(SPEC)`` and ``NAME`` prefixes every
    refusal (``<NAME>.<member>: ...``). The constructor checks each member, then the rules that
    relate members (``_check``); ``from_json`` requires exactly the members of ``FIELDS`` and
    parses each one before constructing (so the same rules apply).
    """

    __slots__ = ()
    NAME: ClassVar[str]
    SPEC: ClassVar[Mapping[str, Spec[Any]]]
    FIELDS: ClassVar[tuple[str, ...]]

    def __post_init__(self) -> None:
        for name, spec in self.SPEC.items():
            spec.check(getattr(self, name), f"{self.NAME}.{name}")
        self._check()

    def _check(self) -> None:
        """Rules across members, run after each member passed its own check."""

    def to_json(self) -> dict[str, Any]:
        return {name: spec.dump(getattr(self, name)) for name, spec in self.SPEC.items()}

    @classmethod
    def from_json(cls, obj: object) -> Self:
        o = require_members(obj, cls.NAME, cls.FIELDS)
        return cls(
            **{name: spec.parse(o[name], f"{cls.NAME}.{name}") for name, spec in cls.SPEC.items()}
        )


@dataclass_transform(frozen_default=True, field_specifiers=(member,))
def record(name: str) -> Callable[[type[R]], type[R]]:
    """Class decorator: a frozen, slotted dataclass named ``name`` in refusals, whose ``SPEC``
    and ``FIELDS`` are read from its :func:`member` fields."""

    def build(cls: type[R]) -> type[R]:
        made = dataclass(frozen=True, slots=True)(cls)
        made.NAME = name
        declared = dataclasses.fields(cast("type[DataclassInstance]", made))
        made.SPEC = {f.name: f.metadata[_SPEC_KEY] for f in declared}
        made.FIELDS = tuple(made.SPEC)
        return made

    return build
