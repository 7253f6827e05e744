"""camvault's signed statements: typed bodies, the signed envelope, and the manifest chain.

Specified in docs/FORMAT.md part 3. In short:

- every statement type has a domain ``camvault/v1/<name>`` (the version is part of it);
- a signed statement's wire form is the RFC 8785 canonical JSON of the envelope
  ``{"body": {...}, "sig": <base64url>, "signer": "ed25519:<base64url>", "type": <domain>}``;
- the Ed25519 signature (RFC 8032) covers
  ``domain || "\\n" || canonical_json({"body": ..., "signer": ..., "type": ...})``,
  that is the whole envelope except the signature, so the signer's key and the type are signed
  too (no key substitution, no cross-type reuse);
- parsing is strict: exact field sets, exact JSON types (no bool for int, no floats), bounded
  values, and the input bytes must be the canonical encoding; every refusal is a
  :class:`StatementError` saying which field is wrong and why;
- a statement hash is SHA-256 of the full canonical envelope (signature included).

Parsing never checks a signature; :func:`verify` does, under the key the caller expects.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar

from crypto.canonical import canonical_json, parse_canonical_json
from crypto.ed25519 import (
    SIGNATURE_SIZE,
    Ed25519PublicKey,
    Ed25519SigningKey,
    b64url_decode,
    b64url_encode,
)
from crypto.errors import KeyFormatError, SignatureError, StatementError
from crypto.escrow import MAX_CUSTODIANS, MIN_THRESHOLD, CustodianPublicKey
from crypto.metadata import RecordingKind, RecordingMetadata, check_id, check_time_ms
from crypto.x25519 import X25519Recipient, normalized_public_key

DOMAIN_PREFIX = "camvault/v1/"

#: Largest accepted encoded signed statement (a site-keys statement with the maximum numbers of
#: custodians and recipients is about 9 KiB).
MAX_STATEMENT_SIZE = 64 * 1024

#: A maintenance consent may be valid for at most this long ("minimum time needed").
MAX_CONSENT_VALIDITY_MS = 7 * 24 * 3600 * 1000

MAX_RECIPIENTS = 64
MAX_CONSENT_CAMERAS = 256
MAX_PRE_ALARM_S = 3600
MAX_POST_ALARM_S = 3600
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


# --- statement bodies -------------------------------------------------------------------------


class Statement(_Record):
    """Base of the typed statement bodies. ``TYPE`` is the domain, e.g. camvault/v1/consent."""

    __slots__ = ()
    TYPE: ClassVar[str]

    def canonical(self) -> bytes:
        """RFC 8785 canonical JSON of the body (no domain prefix)."""
        return canonical_json(self.to_json())


S = TypeVar("S", bound=Statement)


@dataclass(frozen=True, slots=True)
class Custodian(_Record):
    """One key custodian of a site: its escrow X25519 key and its log's Ed25519 key."""

    custodian_id: str
    escrow_key: CustodianPublicKey
    log_key: Ed25519PublicKey
    url: str | None

    _NAME: ClassVar[str] = "custodian"
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "custodian_id": _ID,
        "escrow_key": _ESCROW_KEY,
        "log_key": _PUBKEY,
        "url": _URL,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)


@dataclass(frozen=True, slots=True)
class SiteKeys(Statement):
    """The site's key material, signed by the customer's site key (enrollment and changes).

    ``version`` starts at 1 and grows with every change; a change must be signed by the
    customer key of the version the verifier has pinned (see :func:`verify_site_keys`).
    """

    site_id: str
    version: int
    customer_key: Ed25519PublicKey
    recipients: tuple[X25519Recipient, ...]
    custodians: tuple[Custodian, ...]
    threshold: int
    issued_at_ms: int

    _NAME: ClassVar[str] = "site-keys"
    TYPE: ClassVar[str] = DOMAIN_PREFIX + _NAME
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "site_id": _ID,
        "version": _integer(1, MAX_COUNTER),
        "customer_key": _PUBKEY,
        "recipients": _array(_RECIPIENT, 1, MAX_RECIPIENTS, unique=True),
        "custodians": _array(_object(Custodian), MIN_THRESHOLD, MAX_CUSTODIANS),
        # Parsed within the widest bounds; the constructor bounds it by len(custodians).
        "threshold": _checked_by_class(_integer(MIN_THRESHOLD, MAX_CUSTODIANS)),
        "issued_at_ms": _TIME,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)

    def _check(self) -> None:
        w = "site-keys"
        _unique([c.custodian_id for c in self.custodians], f"{w}.custodians custodian_id")
        _unique([c.escrow_key for c in self.custodians], f"{w}.custodians escrow_key")
        _unique([c.log_key for c in self.custodians], f"{w}.custodians log_key")
        recipient_keys = {normalized_public_key(r.public_key) for r in self.recipients}
        if any(normalized_public_key(c.escrow_key.data) in recipient_keys for c in self.custodians):
            # An escrow key listed as a plain recipient would hand that custodian the file key.
            raise StatementError(f"{w}: a custodian escrow_key is also listed in recipients")
        _int(self.threshold, f"{w}.threshold", MIN_THRESHOLD, len(self.custodians))


class DeviceKind(StrEnum):
    CAMERA = "camera"
    PANEL = "panel"


@dataclass(frozen=True, slots=True)
class CameraProfile(_Record):
    """What a camera model allows a custodian to release for an alarm (DESIGN "Release")."""

    pre_alarm_s: int
    post_alarm_s: int
    live_allowed: bool
    stills_only: bool

    _NAME: ClassVar[str] = "camera_profile"
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "pre_alarm_s": _integer(0, MAX_PRE_ALARM_S),
        "post_alarm_s": _integer(0, MAX_POST_ALARM_S),
        "live_allowed": _BOOL,
        "stills_only": _BOOL,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)

    def _check(self) -> None:
        if self.stills_only and self.live_allowed:
            raise StatementError("camera_profile: stills_only excludes live_allowed")


@dataclass(frozen=True, slots=True)
class DeviceEnrollment(Statement):
    """A camera or panel of the site and its signing key, signed by the customer's site key.

    ``camera_profile`` is required for cameras and must be null for panels.
    """

    site_id: str
    device_id: str
    kind: DeviceKind
    model: str
    device_key: Ed25519PublicKey
    camera_profile: CameraProfile | None
    issued_at_ms: int

    _NAME: ClassVar[str] = "device-enrollment"
    TYPE: ClassVar[str] = DOMAIN_PREFIX + _NAME
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "site_id": _ID,
        "device_id": _ID,
        "kind": _member(DeviceKind),
        "model": _TEXT,
        "device_key": _PUBKEY,
        "camera_profile": _checked_by_class(_optional(_object(CameraProfile))),
        "issued_at_ms": _TIME,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)

    def _check(self) -> None:
        if self.kind is DeviceKind.CAMERA and not isinstance(self.camera_profile, CameraProfile):
            raise StatementError("device-enrollment.camera_profile: required for a camera")
        if self.kind is DeviceKind.PANEL and self.camera_profile is not None:
            raise StatementError("device-enrollment.camera_profile: must be null for a panel")


@dataclass(frozen=True, slots=True)
class Manifest(Statement):
    """One recording, signed by the camera that made it; manifests of a camera form a chain.

    ``sequence`` counts the camera's manifests from 0; ``prev_manifest_sha256`` is the
    :func:`manifest_hash` of the manifest with sequence - 1, and is None (JSON null) exactly
    when ``sequence`` is 0. ``header_sha256`` is SHA-256 of the age header as first written
    (up to and including the MAC line's newline); ``payload_sha256`` is SHA-256 of everything
    after the header (nonce || STREAM ciphertext), ``payload_size`` its length in bytes.
    """

    site_id: str
    camera_id: str
    recording_id: str
    kind: RecordingKind
    start_ms: int
    end_ms: int
    payload_sha256: bytes
    payload_size: int
    header_sha256: bytes
    sequence: int
    prev_manifest_sha256: bytes | None
    issued_at_ms: int

    _NAME: ClassVar[str] = "manifest"
    TYPE: ClassVar[str] = DOMAIN_PREFIX + _NAME
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "site_id": _ID,
        "camera_id": _ID,
        "recording_id": _ID,
        "kind": _member(RecordingKind),
        "start_ms": _TIME,
        "end_ms": _TIME,
        "payload_sha256": _SHA256,
        "payload_size": _COUNTER,
        "header_sha256": _SHA256,
        "sequence": _COUNTER,
        "prev_manifest_sha256": _checked_by_class(_optional(_SHA256)),
        "issued_at_ms": _TIME,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)

    def _check(self) -> None:
        if self.end_ms < self.start_ms:
            raise StatementError("manifest.end_ms: must not be before start_ms")
        what = "manifest.prev_manifest_sha256"
        if self.sequence == 0:
            if self.prev_manifest_sha256 is not None:
                raise StatementError(f"{what}: must be null for sequence 0")
        else:
            if self.prev_manifest_sha256 is None:
                raise StatementError(f"{what}: required for sequence > 0")
            _sha256(self.prev_manifest_sha256, what)

    def metadata(self) -> RecordingMetadata:
        """The recording metadata this manifest describes (bound into its escrow stanzas)."""
        return RecordingMetadata(
            site_id=self.site_id,
            camera_id=self.camera_id,
            recording_id=self.recording_id,
            kind=self.kind,
            start_ms=self.start_ms,
            end_ms=self.end_ms,
        )


class AlarmType(StrEnum):
    INTRUSION = "intrusion"
    FIRE = "fire"
    PANIC = "panic"
    TAMPER = "tamper"
    MEDICAL = "medical"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class AlarmEvent(Statement):
    """An alarm raised by a panel, signed by the panel. ``counter`` grows strictly per panel."""

    site_id: str
    panel_id: str
    event_id: str
    alarm_type: AlarmType
    triggered_at_ms: int
    counter: int

    _NAME: ClassVar[str] = "alarm-event"
    TYPE: ClassVar[str] = DOMAIN_PREFIX + _NAME
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "site_id": _ID,
        "panel_id": _ID,
        "event_id": _ID,
        "alarm_type": _member(AlarmType),
        "triggered_at_ms": _TIME,
        "counter": _COUNTER,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)


@dataclass(frozen=True, slots=True)
class AlarmCancel(Statement):
    """The customer cancels an alarm (closes its access period), signed by the site key."""

    site_id: str
    panel_id: str
    event_id: str
    issued_at_ms: int

    _NAME: ClassVar[str] = "alarm-cancel"
    TYPE: ClassVar[str] = DOMAIN_PREFIX + _NAME
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "site_id": _ID,
        "panel_id": _ID,
        "event_id": _ID,
        "issued_at_ms": _TIME,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)


class ConsentScope(StrEnum):
    LIVE = "live"
    RECORDINGS = "recordings"
    STILLS = "stills"


class Purpose(StrEnum):
    """Why recordings are released (DESIGN: alarm verification or maintenance, nothing else)."""

    ALARM_VERIFICATION = "alarm-verification"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class Consent(Statement):
    """A maintenance consent signed by the customer's site key.

    The grantee is named by id and, optionally, pinned to an Ed25519 key. ``recordings_from_ms``
    .. ``recordings_to_ms`` bounds the recordings that may be released; ``not_before_ms`` ..
    ``not_after_ms`` is when the consent may be used, at most MAX_CONSENT_VALIDITY_MS long.
    A consent's purpose is always maintenance (alarm access is justified by an AlarmEvent).
    """

    consent_id: str
    site_id: str
    grantee_id: str
    grantee_key: Ed25519PublicKey | None
    cameras: tuple[str, ...]
    scope: tuple[ConsentScope, ...]
    recordings_from_ms: int
    recordings_to_ms: int
    not_before_ms: int
    not_after_ms: int
    purpose: Purpose
    issued_at_ms: int

    _NAME: ClassVar[str] = "consent"
    TYPE: ClassVar[str] = DOMAIN_PREFIX + _NAME
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "consent_id": _ID,
        "site_id": _ID,
        "grantee_id": _ID,
        "grantee_key": _optional(_PUBKEY),
        "cameras": _array(_ID, 1, MAX_CONSENT_CAMERAS, unique=True),
        "scope": _array(_member(ConsentScope), 1, len(ConsentScope), unique=True),
        "recordings_from_ms": _TIME,
        "recordings_to_ms": _TIME,
        "not_before_ms": _TIME,
        "not_after_ms": _TIME,
        "purpose": _member(Purpose),
        "issued_at_ms": _TIME,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)

    def _check(self) -> None:
        if self.recordings_to_ms < self.recordings_from_ms:
            raise StatementError("consent.recordings_to_ms: must not be before recordings_from_ms")
        if self.not_after_ms <= self.not_before_ms:
            raise StatementError("consent.not_after_ms: must be after not_before_ms")
        if self.not_after_ms - self.not_before_ms > MAX_CONSENT_VALIDITY_MS:
            raise StatementError(
                f"consent: validity period longer than the maximum of {MAX_CONSENT_VALIDITY_MS} ms"
            )
        if self.purpose is not Purpose.MAINTENANCE:
            raise StatementError("consent.purpose: a consent's purpose must be 'maintenance'")


@dataclass(frozen=True, slots=True)
class Revocation(Statement):
    """The customer revokes a consent, signed by the site key."""

    site_id: str
    consent_id: str
    issued_at_ms: int

    _NAME: ClassVar[str] = "revocation"
    TYPE: ClassVar[str] = DOMAIN_PREFIX + _NAME
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "site_id": _ID,
        "consent_id": _ID,
        "issued_at_ms": _TIME,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)


class OperatorRole(StrEnum):
    OPERATOR = "operator"
    TECHNICIAN = "technician"


@dataclass(frozen=True, slots=True)
class OperatorRegistration(Statement):
    """The ARC registers an operator or technician and its personal key (signed by the ARC)."""

    operator_id: str
    operator_key: Ed25519PublicKey
    role: OperatorRole
    issued_at_ms: int

    _NAME: ClassVar[str] = "operator-registration"
    TYPE: ClassVar[str] = DOMAIN_PREFIX + _NAME
    _SPEC: ClassVar[Mapping[str, _Field[Any]]] = {
        "operator_id": _ID,
        "operator_key": _PUBKEY,
        "role": _member(OperatorRole),
        "issued_at_ms": _TIME,
    }
    FIELDS: ClassVar[tuple[str, ...]] = tuple(_SPEC)


#: Every statement type, by domain.
STATEMENT_TYPES: dict[str, type[Statement]] = {
    cls.TYPE: cls
    for cls in (
        SiteKeys,
        DeviceEnrollment,
        Manifest,
        AlarmEvent,
        AlarmCancel,
        Consent,
        Revocation,
        OperatorRegistration,
    )
}


# --- envelope ---------------------------------------------------------------------------------

_ENVELOPE_FIELDS = ("body", "sig", "signer", "type")


def _signed_message(domain: str, signer: Ed25519PublicKey, body: Mapping[str, Any]) -> bytes:
    """The bytes an Ed25519 signature covers: domain || "\\n" || canonical(envelope - sig)."""
    unsigned = {"body": body, "signer": signer.to_text(), "type": domain}
    return domain.encode("ascii") + b"\n" + canonical_json(unsigned)


@dataclass(frozen=True, slots=True)
class SignedStatement:
    """A statement with its signer and signature, as carried on the wire.

    ``unverified_statement`` has been parsed strictly but its signature has NOT been checked:
    use :meth:`verify` (or :func:`verify`) to get a statement you can act on.
    """

    unverified_statement: Statement
    signer: Ed25519PublicKey
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.unverified_statement, Statement):
            raise StatementError("signed statement: not a Statement")
        _pubkey(self.signer, "signed statement: signer")
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise StatementError(f"signed statement: signature must be {SIGNATURE_SIZE} bytes")

    @property
    def statement_type(self) -> str:
        return self.unverified_statement.TYPE

    def to_json(self) -> dict[str, Any]:
        return {
            "body": self.unverified_statement.to_json(),
            "sig": b64url_encode(self.signature),
            "signer": self.signer.to_text(),
            "type": self.statement_type,
        }

    def encode(self) -> bytes:
        """The wire form: RFC 8785 canonical JSON of the envelope."""
        return canonical_json(self.to_json())

    def statement_hash(self) -> bytes:
        """SHA-256 of :meth:`encode` (identifies this signed statement, e.g. in logs)."""
        return hashlib.sha256(self.encode()).digest()

    def signed_message(self) -> bytes:
        """The exact bytes the signature covers (see :func:`_signed_message`)."""
        return _signed_message(
            self.statement_type, self.signer, self.unverified_statement.to_json()
        )

    def verify(self, expected_key: Ed25519PublicKey | None, expected_type: type[S]) -> S:
        return verify(self, expected_key, expected_type)


def sign_statement(statement: Statement, signing_key: Ed25519SigningKey) -> SignedStatement:
    """Sign ``statement`` with ``signing_key`` (deterministic: same input, same bytes)."""
    if not isinstance(statement, Statement) or type(statement).TYPE not in STATEMENT_TYPES:
        raise StatementError("sign_statement: not a camvault statement")
    signer = signing_key.public_key
    message = _signed_message(statement.TYPE, signer, statement.to_json())
    return SignedStatement(statement, signer, signing_key.sign(message))


def parse_signed(data: bytes) -> SignedStatement:
    """Parse the wire form of a signed statement, strictly. Does NOT verify the signature.

    Refused (each with a :class:`StatementError` naming the problem): oversized input, bytes
    that are not the RFC 8785 canonical encoding of their value, floats, unknown or missing
    envelope or body fields, unknown types, wrong JSON types (including booleans for integers),
    out-of-range values, malformed keys and signatures of the wrong length.
    """
    if not isinstance(data, bytes):
        raise StatementError("signed statement: must be bytes")
    if len(data) > MAX_STATEMENT_SIZE:
        raise StatementError(f"signed statement: larger than {MAX_STATEMENT_SIZE} bytes")
    obj = parse_canonical_json(data)
    env = _fields(obj, "signed statement", _ENVELOPE_FIELDS)
    domain = env["type"]
    if not isinstance(domain, str) or domain not in STATEMENT_TYPES:
        raise StatementError(
            f"signed statement: unknown type {domain!r} (expected one of {sorted(STATEMENT_TYPES)})"
        )
    signer = _pubkey_from_text(env["signer"], "signed statement: signer")
    sig_text = env["sig"]
    if not isinstance(sig_text, str):
        raise StatementError("signed statement: sig must be a base64url string")
    try:
        sig = b64url_decode(sig_text, "signed statement: sig")
    except KeyFormatError as exc:
        raise StatementError(str(exc)) from exc
    if len(sig) != SIGNATURE_SIZE:
        raise StatementError(
            f"signed statement: sig must encode {SIGNATURE_SIZE} bytes, got {len(sig)}"
        )
    statement = STATEMENT_TYPES[domain].from_json(env["body"])
    signed = SignedStatement(statement, signer, sig)
    if signed.encode() != data:
        # Cannot happen if every from_json is the exact inverse of to_json; refuse rather than
        # let the bytes we verify differ from the bytes we were given.
        raise StatementError("signed statement: body does not round-trip")
    return signed


def verify(
    signed: SignedStatement, expected_key: Ed25519PublicKey | None, expected_type: type[S]
) -> S:
    """Check type and signature, and return the typed statement.

    ``expected_key`` is the key the caller's trust rules require (a pinned site key, an
    enrolled device key, ...). ``None`` accepts the signer named in the envelope: the caller
    must then decide whether that signer is trusted (only for self-signed first enrollment).
    Raises :class:`StatementError` for the wrong type, :class:`SignatureError` for the wrong
    signer or a signature that does not verify.
    """
    if not isinstance(signed, SignedStatement):
        raise StatementError("verify: not a SignedStatement")
    if getattr(expected_type, "TYPE", None) not in STATEMENT_TYPES:
        raise StatementError("verify: expected_type is not a statement type")
    statement = signed.unverified_statement
    if not isinstance(statement, expected_type) or signed.statement_type != expected_type.TYPE:
        raise StatementError(
            f"statement type is {signed.statement_type}, expected {expected_type.TYPE}"
        )
    key = signed.signer if expected_key is None else expected_key
    if signed.signer != key:
        raise SignatureError(
            f"statement signed by {signed.signer.to_text()}, expected {key.to_text()}"
        )
    key.verify(signed.signed_message(), signed.signature)
    return statement


def verify_site_keys(signed: SignedStatement, pinned: SiteKeys | None) -> SiteKeys:
    """Trust-on-first-use rule for site keys (DESIGN "Trust roots").

    With nothing pinned, the statement must be self-signed by its own ``customer_key``. With a
    pinned version, it must be for the same site, have a strictly greater version, and be
    signed by the pinned ``customer_key`` (which authorises any new customer key).
    """
    if pinned is None:
        claimed = signed.unverified_statement
        if not isinstance(claimed, SiteKeys):
            raise StatementError(
                f"statement type is {signed.statement_type}, expected {SiteKeys.TYPE}"
            )
        return verify(signed, claimed.customer_key, SiteKeys)
    site = verify(signed, pinned.customer_key, SiteKeys)
    if site.site_id != pinned.site_id:
        raise StatementError(f"site-keys: for site {site.site_id!r}, pinned {pinned.site_id!r}")
    if site.version <= pinned.version:
        raise StatementError(
            f"site-keys: version {site.version} is not newer than pinned version {pinned.version}"
        )
    return site


# --- manifest chain ---------------------------------------------------------------------------


def manifest_hash(signed: SignedStatement) -> bytes:
    """SHA-256 of a signed manifest's canonical envelope: what the next manifest links to."""
    if not isinstance(signed.unverified_statement, Manifest):
        raise StatementError(f"statement type is {signed.statement_type}, expected {Manifest.TYPE}")
    return signed.statement_hash()


class ChainProblemKind(StrEnum):
    BAD_SIGNATURE = "bad-signature"  # not signed by this camera's key (foreign / forged)
    NOT_A_MANIFEST = "not-a-manifest"  # another statement type in the list
    WRONG_CAMERA = "wrong-camera"  # validly signed but for another site or camera
    OUT_OF_ORDER = "out-of-order"  # sequence goes backwards: reordering
    DUPLICATE_SEQUENCE = "duplicate-sequence"  # a sequence number appears more than once
    MISSING = "missing"  # a gap in the sequence numbers: deletion
    PREV_HASH_MISMATCH = "prev-hash-mismatch"  # link broken: insertion or substitution
    TRUNCATED = "truncated"  # fewer manifests than the camera is known to have made


@dataclass(frozen=True, slots=True)
class ChainProblem:
    kind: ChainProblemKind
    index: int | None  # position in the list given, if the problem is about one entry
    sequence: int | None  # the sequence number concerned (first one, for ranges)
    detail: str


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """The last manifest of this camera already verified earlier (for incremental checks)."""

    sequence: int
    manifest_hash: bytes

    def __post_init__(self) -> None:
        _int(self.sequence, "chain anchor: sequence", 0, MAX_COUNTER)
        _sha256(self.manifest_hash, "chain anchor: manifest_hash")


def verify_chain(
    manifests: Sequence[SignedStatement],
    camera_key: Ed25519PublicKey,
    *,
    site_id: str,
    camera_id: str,
    anchor: ChainAnchor | None = None,
    expected_last_sequence: int | None = None,
) -> list[ChainProblem]:
    """Check one camera's manifests, in the order the storage service returned them.

    Returns every problem found (empty list: the chain is intact). Without ``anchor`` the chain
    must start at sequence 0; with it, at ``anchor.sequence + 1`` linking to its hash. Deletion
    of the newest manifests is only detectable with ``expected_last_sequence`` (the highest
    sequence number the camera is known to have used, e.g. from its own status report).
    """
    problems: list[ChainProblem] = []

    def report(k: ChainProblemKind, i: int | None, seq: int | None, detail: str) -> None:
        problems.append(ChainProblem(k, i, seq, detail))

    entries: list[tuple[int, Manifest, bytes]] = []
    for i, signed in enumerate(manifests):
        try:
            m = verify(signed, camera_key, Manifest)
        except SignatureError as exc:
            report(ChainProblemKind.BAD_SIGNATURE, i, None, str(exc))
            continue
        except StatementError as exc:
            report(ChainProblemKind.NOT_A_MANIFEST, i, None, str(exc))
            continue
        if m.site_id != site_id or m.camera_id != camera_id:
            report(
                ChainProblemKind.WRONG_CAMERA,
                i,
                m.sequence,
                f"manifest of {m.site_id}/{m.camera_id}, expected {site_id}/{camera_id}",
            )
            continue
        entries.append((i, m, signed.statement_hash()))

    start = 0 if anchor is None else anchor.sequence + 1
    last: int | None = None
    by_seq: dict[int, list[tuple[int, Manifest, bytes]]] = {}
    for i, m, h in entries:
        if m.sequence < start:
            report(
                ChainProblemKind.OUT_OF_ORDER,
                i,
                m.sequence,
                f"sequence {m.sequence} is at or before the anchor (next expected {start})",
            )
            continue
        if last is not None and m.sequence < last:
            report(
                ChainProblemKind.OUT_OF_ORDER, i, m.sequence, f"sequence {m.sequence} after {last}"
            )
        last = m.sequence
        by_seq.setdefault(m.sequence, []).append((i, m, h))

    for seq, group in sorted(by_seq.items()):
        if len(group) > 1:
            distinct = {h for _, _, h in group}
            how = (
                "the same manifest listed again"
                if len(distinct) == 1
                else f"{len(distinct)} different manifests (fork or substitution)"
            )
            report(
                ChainProblemKind.DUPLICATE_SEQUENCE,
                group[1][0],
                seq,
                f"sequence {seq} appears {len(group)} times: {how}",
            )

    top = max(by_seq, default=start - 1)
    expected = start
    for seq in sorted(by_seq):
        if seq > expected:
            report(
                ChainProblemKind.MISSING,
                None,
                expected,
                f"sequence {expected}..{seq - 1} missing (deleted)",
            )
        expected = seq + 1
    if expected_last_sequence is not None and expected_last_sequence > top:
        report(
            ChainProblemKind.TRUNCATED,
            None,
            top + 1,
            f"sequence {top + 1}..{expected_last_sequence} missing at the end (deleted)",
        )

    for seq, group in sorted(by_seq.items()):
        if seq == 0:
            continue  # parsing guarantees prev_manifest_sha256 is null for sequence 0
        if anchor is not None and seq - 1 == anchor.sequence:
            allowed = {anchor.manifest_hash}
        elif seq - 1 in by_seq:
            allowed = {h for _, _, h in by_seq[seq - 1]}
        else:
            continue  # predecessor missing: already reported
        for i, m, _ in group:
            if m.prev_manifest_sha256 not in allowed:
                report(
                    ChainProblemKind.PREV_HASH_MISMATCH,
                    i,
                    seq,
                    f"sequence {seq} does not link to the manifest with sequence {seq - 1}",
                )
    return problems
