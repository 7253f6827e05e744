"""The statement bodies: one frozen dataclass per statement type, with its members' specs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from crypto.age.x25519 import X25519Recipient, normalized_public_key
from crypto.canonical import canonical_json
from crypto.ed25519 import (
    Ed25519PublicKey,
)
from crypto.errors import StatementError
from crypto.escrow import MAX_CUSTODIANS, MIN_THRESHOLD, CustodianPublicKey
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements.fields import (
    _BOOL,
    _COUNTER,
    _ESCROW_KEY,
    _ID,
    _PUBKEY,
    _RECIPIENT,
    _SHA256,
    _TEXT,
    _TIME,
    _URL,
    MAX_COUNTER,
    _array,
    _checked_by_class,
    _Field,
    _int,
    _integer,
    _member,
    _object,
    _optional,
    _Record,
    _sha256,
    _unique,
)

DOMAIN_PREFIX = "camvault/v1/"

#: A maintenance consent may be valid for at most this long ("minimum time needed").
MAX_CONSENT_VALIDITY_MS = 7 * 24 * 3600 * 1000

MAX_RECIPIENTS = 64
MAX_CONSENT_CAMERAS = 256
MAX_PRE_ALARM_S = 3600
MAX_POST_ALARM_S = 3600

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
