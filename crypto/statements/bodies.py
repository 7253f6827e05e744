"""The statement bodies: one declaration per statement type.

Each body is a :func:`statement` class whose fields name their JSON member's spec
(:mod:`crypto.statements.fields`); its domain is ``camvault/v1/<name>``. Cross-member rules
live in ``_check``. Adding a statement type is one such class: the envelope, the parser and
:data:`STATEMENT_TYPES` pick it up.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

from crypto.age.x25519 import X25519Recipient, normalized_public_key
from crypto.canonical import canonical_json
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import KeyFormatError, StatementError
from crypto.escrow import (
    MAX_CUSTODIANS,
    MIN_THRESHOLD,
    CustodianPublicKey,
    HybridCustodianPublicKey,
)
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements.fields import (
    BOOL,
    COUNTER,
    ESCROW_KEY,
    ID,
    MAX_COUNTER,
    PUBKEY,
    RECIPIENT,
    SHA256,
    TEXT,
    TIME,
    URL,
    Record,
    Spec,
    array,
    check_int,
    check_sha256,
    check_unique,
    checked_by_class,
    enum_member,
    instance_of,
    integer,
    member,
    nested,
    optional,
    optional_member,
    record,
)

DOMAIN_PREFIX = "camvault/v1/"

#: A maintenance consent may be valid for at most this long ("minimum time needed").
MAX_CONSENT_VALIDITY_MS = 7 * 24 * 3600 * 1000

MAX_RECIPIENTS = 64
MAX_CONSENT_CAMERAS = 256
MAX_PRE_ALARM_S = 3600
MAX_POST_ALARM_S = 3600
#: Recordings one RecordingDeletion may name (a larger deletion is several statements).
MAX_DELETION_RECORDINGS = 1000
#: Longest retention a RetentionPolicy may name (100 years; the storage service's bound).
MAX_RETENTION_DAYS = 36500
#: Longest interval a camera may promise between two ChainHeads (a day).
MAX_HEAD_INTERVAL_S = 86400


class Statement(Record):
    """Base of the typed statement bodies. ``TYPE`` is the domain, e.g. camvault/v1/consent."""

    __slots__ = ()
    TYPE: ClassVar[str]

    def canonical(self) -> bytes:
        """RFC 8785 canonical JSON of the body (no domain prefix)."""
        return canonical_json(self.to_json())


S = TypeVar("S", bound=Statement)

#: Every statement type, by domain (filled by :func:`statement`).
STATEMENT_TYPES: dict[str, type[Statement]] = {}


@dataclass_transform(frozen_default=True, field_specifiers=(member,))
def statement(name: str) -> Callable[[type[S]], type[S]]:
    """Class decorator: :func:`~crypto.statements.fields.record` ``name`` with the domain
    ``camvault/v1/<name>`` as ``TYPE``, registered in :data:`STATEMENT_TYPES`."""

    def build(cls: type[S]) -> type[S]:
        made = record(name)(cls)
        made.TYPE = DOMAIN_PREFIX + name
        STATEMENT_TYPES[made.TYPE] = made
        return made

    return build


# --- site keys --------------------------------------------------------------------------------


def _hybrid_escrow_key(value: object, what: str) -> HybridCustodianPublicKey:
    if not isinstance(value, str):
        raise StatementError(f"{what}: must be a camvault-custodian-pq1... string")
    try:
        return HybridCustodianPublicKey.from_text(value)
    except KeyFormatError as exc:
        raise StatementError(f"{what}: {exc}") from exc


HYBRID_ESCROW_KEY: Spec[HybridCustodianPublicKey] = Spec(
    instance_of(HybridCustodianPublicKey), _hybrid_escrow_key, HybridCustodianPublicKey.to_text
)


@record("custodian")
class Custodian(Record):
    """One key custodian of a site: its escrow X25519 key and its log's Ed25519 key, and its
    hybrid (ML-KEM-768 + X25519) escrow key if it publishes one: new recordings then seal this
    custodian's share to it (docs/FORMAT.md, "Hybrid escrow stanza").

    ``hybrid_escrow_key`` is left out of the JSON when None, never written as null, so every
    SiteKeys signed before the member existed keeps its bytes and its signature. The X25519
    ``escrow_key`` stays required: it opens the recordings escrowed before, and names the
    custodian in the set.
    """

    custodian_id: str = member(ID)
    escrow_key: CustodianPublicKey = member(ESCROW_KEY)
    log_key: Ed25519PublicKey = member(PUBKEY)
    url: str | None = member(URL)
    hybrid_escrow_key: HybridCustodianPublicKey | None = optional_member(
        optional(HYBRID_ESCROW_KEY)
    )

    def to_json(self) -> dict[str, Any]:
        body = Record.to_json(self)
        if self.hybrid_escrow_key is None:
            del body["hybrid_escrow_key"]
        return body

    @classmethod
    def from_json(cls, obj: object) -> Self:
        if isinstance(obj, dict):
            if "hybrid_escrow_key" not in obj:
                obj = {**obj, "hybrid_escrow_key": None}
            elif obj["hybrid_escrow_key"] is None:  # one encoding per statement
                raise StatementError("custodian.hybrid_escrow_key: leave it out instead of null")
        # Explicit: a zero-argument super() fails in a slots=True dataclass (Python < 3.14).
        return super(Custodian, cls).from_json(obj)  # noqa: UP008

    def sealing_key(self) -> CustodianPublicKey | HybridCustodianPublicKey:
        """The key a camera seals this custodian's share to: the hybrid one if published."""
        return self.escrow_key if self.hybrid_escrow_key is None else self.hybrid_escrow_key


@statement("site-keys")
class SiteKeys(Statement):
    """The site's key material, signed by the customer's site key (enrollment and changes).

    ``version`` starts at 1 and grows with every change; a change must be signed by the
    customer key of the version the verifier has pinned (see :func:`verify_site_keys`).
    """

    site_id: str = member(ID)
    version: int = member(integer(1, MAX_COUNTER))
    customer_key: Ed25519PublicKey = member(PUBKEY)
    recipients: tuple[X25519Recipient, ...] = member(
        array(RECIPIENT, 1, MAX_RECIPIENTS, unique=True)
    )
    custodians: tuple[Custodian, ...] = member(
        array(nested(Custodian), MIN_THRESHOLD, MAX_CUSTODIANS)
    )
    # Parsed within the widest bounds; the constructor bounds it by len(custodians).
    threshold: int = member(checked_by_class(integer(MIN_THRESHOLD, MAX_CUSTODIANS)))
    issued_at_ms: int = member(TIME)

    def _check(self) -> None:
        w = "site-keys"
        check_unique([c.custodian_id for c in self.custodians], f"{w}.custodians custodian_id")
        check_unique([c.escrow_key for c in self.custodians], f"{w}.custodians escrow_key")
        check_unique([c.log_key for c in self.custodians], f"{w}.custodians log_key")
        recipient_keys = {normalized_public_key(r.public_key) for r in self.recipients}
        if any(normalized_public_key(c.escrow_key.data) in recipient_keys for c in self.custodians):
            # An escrow key listed as a plain recipient would hand that custodian the file key.
            raise StatementError(f"{w}: a custodian escrow_key is also listed in recipients")
        hybrid = [c.hybrid_escrow_key for c in self.custodians if c.hybrid_escrow_key is not None]
        check_unique(hybrid, f"{w}.custodians hybrid_escrow_key")
        if any(normalized_public_key(h.x25519_half) in recipient_keys for h in hybrid):
            # Its owner holds that X25519 secret: it would open the customer's stanza.
            raise StatementError(f"{w}: a custodian hybrid_escrow_key's X25519 half is a recipient")
        check_int(self.threshold, f"{w}.threshold", MIN_THRESHOLD, len(self.custodians))


# --- devices ----------------------------------------------------------------------------------


class DeviceKind(StrEnum):
    CAMERA = "camera"
    PANEL = "panel"


@record("camera_profile")
class CameraProfile(Record):
    """What a camera model allows a custodian to release for an alarm (DESIGN "Release")."""

    pre_alarm_s: int = member(integer(0, MAX_PRE_ALARM_S))
    post_alarm_s: int = member(integer(0, MAX_POST_ALARM_S))
    live_allowed: bool = member(BOOL)
    stills_only: bool = member(BOOL)

    def _check(self) -> None:
        if self.stills_only and self.live_allowed:
            raise StatementError("camera_profile: stills_only excludes live_allowed")


@statement("device-enrollment")
class DeviceEnrollment(Statement):
    """A camera or panel of the site and its signing key, signed by the customer's site key.

    ``camera_profile`` is required for cameras and must be null for panels. ``version`` grows
    by 1 with each rotation of the device's key (docs/FORMAT.md, "Device lifecycle").
    """

    site_id: str = member(ID)
    device_id: str = member(ID)
    kind: DeviceKind = member(enum_member(DeviceKind))
    model: str = member(TEXT)
    device_key: Ed25519PublicKey = member(PUBKEY)
    camera_profile: CameraProfile | None = member(checked_by_class(optional(nested(CameraProfile))))
    issued_at_ms: int = member(TIME)
    # Grows by 1 with each rotation of the device's key. Version 1 is written without the
    # member (enrollments from before rotation stay byte-identical); a version >= 2 with it.
    version: int = member(integer(1, MAX_COUNTER), default=1)

    def _check(self) -> None:
        if self.kind is DeviceKind.CAMERA and not isinstance(self.camera_profile, CameraProfile):
            raise StatementError("device-enrollment.camera_profile: required for a camera")
        if self.kind is DeviceKind.PANEL and self.camera_profile is not None:
            raise StatementError("device-enrollment.camera_profile: must be null for a panel")

    def to_json(self) -> dict[str, Any]:
        body = Record.to_json(self)
        if self.version == 1:
            del body["version"]
        return body

    @classmethod
    def from_json(cls, obj: object) -> Self:
        if isinstance(obj, dict):
            if "version" not in obj:
                obj = {**obj, "version": 1}
            elif obj["version"] == 1:  # one encoding per enrollment
                raise StatementError("device-enrollment.version: 1 is written by leaving it out")
        # (the slotted dataclass is a new class: a zero-argument super() would not find it)
        return super(DeviceEnrollment, cls).from_json(obj)  # noqa: UP008


@statement("device-revocation")
class DeviceRevocation(Statement):
    """The customer revokes a device's key, signed by the site key: recordings, chain heads
    and alarms the key signed at or after ``revoked_from_ms`` are refused (by the storage
    service, the custodians and the customer's clients). Before it, the key was the site's,
    so what it signed then stands. A rotation is a DeviceEnrollment of version n+1 with the
    new key plus this revocation of the old one."""

    site_id: str = member(ID)
    device_id: str = member(ID)
    kind: DeviceKind = member(enum_member(DeviceKind))
    device_key: Ed25519PublicKey = member(PUBKEY)
    revoked_from_ms: int = member(TIME)
    reason: str = member(TEXT)
    issued_at_ms: int = member(TIME)


# --- recordings -------------------------------------------------------------------------------


@statement("manifest")
class Manifest(Statement):
    """One recording, signed by the camera that made it; manifests of a camera form a chain.

    ``sequence`` counts the camera's manifests from 0; ``prev_manifest_sha256`` is the
    :func:`manifest_hash` of the manifest with sequence - 1, and is None (JSON null) exactly
    when ``sequence`` is 0. ``header_sha256`` is SHA-256 of the age header as first written
    (up to and including the MAC line's newline); ``payload_sha256`` is SHA-256 of everything
    after the header (nonce || STREAM ciphertext), ``payload_size`` its length in bytes.
    """

    site_id: str = member(ID)
    camera_id: str = member(ID)
    recording_id: str = member(ID)
    kind: RecordingKind = member(enum_member(RecordingKind))
    start_ms: int = member(TIME)
    end_ms: int = member(TIME)
    payload_sha256: bytes = member(SHA256)
    payload_size: int = member(COUNTER)
    header_sha256: bytes = member(SHA256)
    sequence: int = member(COUNTER)
    prev_manifest_sha256: bytes | None = member(checked_by_class(optional(SHA256)))
    issued_at_ms: int = member(TIME)

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
            check_sha256(self.prev_manifest_sha256, what)

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


@statement("chain-head")
class ChainHead(Statement):
    """The head of a camera's manifest chain, signed by the camera at a regular interval even
    when it records nothing (docs/CHAIN_HEADS.md): its latest manifest's ``sequence`` and
    :func:`~crypto.statements.chain.manifest_hash` (both null before its first manifest), at
    ``issued_at_ms``, with the promise of a newer head at least every ``interval_s`` seconds.
    A client shown recordings that do not reach the head, or a head older than the interval
    plus a margin, knows recordings were hidden or the camera went silent."""

    site_id: str = member(ID)
    camera_id: str = member(ID)
    sequence: int | None = member(optional(COUNTER))
    manifest_sha256: bytes | None = member(optional(SHA256))
    issued_at_ms: int = member(TIME)
    interval_s: int = member(integer(1, MAX_HEAD_INTERVAL_S))

    def _check(self) -> None:
        if (self.sequence is None) != (self.manifest_sha256 is None):
            raise StatementError(
                "chain-head.manifest_sha256: null exactly when sequence is null (no manifest yet)"
            )


@statement("recording-deletion")
class RecordingDeletion(Statement):
    """The customer deleted these recordings of one camera, signed by the site key: the
    custodians refuse their escrow stanzas from then on, for good."""

    site_id: str = member(ID)
    camera_id: str = member(ID)
    recording_ids: tuple[str, ...] = member(array(ID, 1, MAX_DELETION_RECORDINGS, unique=True))
    issued_at_ms: int = member(TIME)


@statement("retention-policy")
class RetentionPolicy(Statement):
    """The customer's retention of the site's recordings, signed by the site key: a recording
    whose end is more than ``retention_days`` days in the past is deleted (null: recordings
    are kept until the customer deletes them). The custodians refuse the stanzas of such
    recordings themselves, as the storage service's sweeper removes them; a later policy
    replaces an earlier one (by ``issued_at_ms``) but never brings back what one expired."""

    site_id: str = member(ID)
    retention_days: int | None = member(optional(integer(1, MAX_RETENTION_DAYS)))
    issued_at_ms: int = member(TIME)


# --- alarms -----------------------------------------------------------------------------------


class AlarmType(StrEnum):
    INTRUSION = "intrusion"
    FIRE = "fire"
    PANIC = "panic"
    TAMPER = "tamper"
    MEDICAL = "medical"
    OTHER = "other"


@statement("alarm-event")
class AlarmEvent(Statement):
    """An alarm raised by a panel, signed by the panel. ``counter`` grows strictly per panel."""

    site_id: str = member(ID)
    panel_id: str = member(ID)
    event_id: str = member(ID)
    alarm_type: AlarmType = member(enum_member(AlarmType))
    triggered_at_ms: int = member(TIME)
    counter: int = member(COUNTER)


@statement("alarm-cancel")
class AlarmCancel(Statement):
    """The customer cancels an alarm (closes its access period), signed by the site key."""

    site_id: str = member(ID)
    panel_id: str = member(ID)
    event_id: str = member(ID)
    issued_at_ms: int = member(TIME)


@statement("alarm-close")
class AlarmClose(Statement):
    """An ARC operator closes an alarm (ends its access period at the custodians), signed by
    the operator's registered key. ``operator_id`` names the signer."""

    site_id: str = member(ID)
    panel_id: str = member(ID)
    event_id: str = member(ID)
    operator_id: str = member(ID)
    closed_at_ms: int = member(TIME)


# --- consents ---------------------------------------------------------------------------------


class ConsentScope(StrEnum):
    LIVE = "live"
    RECORDINGS = "recordings"
    STILLS = "stills"


class Purpose(StrEnum):
    """Why recordings are released (DESIGN: alarm verification or maintenance, nothing else)."""

    ALARM_VERIFICATION = "alarm-verification"
    MAINTENANCE = "maintenance"


@statement("consent")
class Consent(Statement):
    """A maintenance consent signed by the customer's site key.

    The grantee is named by id and, optionally, pinned to an Ed25519 key. ``recordings_from_ms``
    .. ``recordings_to_ms`` bounds the recordings that may be released; ``not_before_ms`` ..
    ``not_after_ms`` is when the consent may be used, at most MAX_CONSENT_VALIDITY_MS long.
    A consent's purpose is always maintenance (alarm access is justified by an AlarmEvent).
    """

    consent_id: str = member(ID)
    site_id: str = member(ID)
    grantee_id: str = member(ID)
    grantee_key: Ed25519PublicKey | None = member(optional(PUBKEY))
    cameras: tuple[str, ...] = member(array(ID, 1, MAX_CONSENT_CAMERAS, unique=True))
    scope: tuple[ConsentScope, ...] = member(
        array(enum_member(ConsentScope), 1, len(ConsentScope), unique=True)
    )
    recordings_from_ms: int = member(TIME)
    recordings_to_ms: int = member(TIME)
    not_before_ms: int = member(TIME)
    not_after_ms: int = member(TIME)
    purpose: Purpose = member(enum_member(Purpose))
    issued_at_ms: int = member(TIME)

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


@statement("revocation")
class Revocation(Statement):
    """The customer revokes a consent, signed by the site key."""

    site_id: str = member(ID)
    consent_id: str = member(ID)
    issued_at_ms: int = member(TIME)


# --- operators --------------------------------------------------------------------------------


class OperatorRole(StrEnum):
    OPERATOR = "operator"
    TECHNICIAN = "technician"


@statement("operator-registration")
class OperatorRegistration(Statement):
    """The ARC registers an operator or technician and its personal key (signed by the ARC)."""

    operator_id: str = member(ID)
    operator_key: Ed25519PublicKey = member(PUBKEY)
    role: OperatorRole = member(enum_member(OperatorRole))
    issued_at_ms: int = member(TIME)
