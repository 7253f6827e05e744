"""Table models of the storage service. Every change here comes with an Alembic migration
(tests/db/test_migrations.py fails when models and migrations drift apart)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Site(SQLModel, table=True):
    """A customer's site. The signed SiteKeys statement is its root of trust: the customer
    signing key pinned at enrollment, the customer recipients, the custodian set."""

    __tablename__ = "sites"

    id: str = Field(primary_key=True, max_length=128)
    customer_signing_key: str = Field(max_length=128, description="pinned Ed25519 key (text)")
    keys_version: int = Field(default=0, ge=0)
    site_keys: bytes = Field(description="latest customer-signed SiteKeys statement")
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


# --- the storage service core: site settings, devices, uploads, recordings, nonces, operators --
# Times of the service's own bookkeeping are integer milliseconds since the Unix epoch (UTC):
# the same unit as the signed statements, and compared identically by SQLite and PostgreSQL.

MS = sa.BigInteger
#: Surrogate keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class SiteSettings(SQLModel, table=True):
    """Per-site policy chosen by the customer (one row per site, created with the site)."""

    __tablename__ = "site_settings"

    site_id: str = Field(
        primary_key=True, max_length=128, foreign_key="sites.id", ondelete="CASCADE"
    )
    retention_days: int | None = Field(default=None, ge=1)


class Device(SQLModel, table=True):
    """A camera or panel of a site, from its customer-signed DeviceEnrollment. For cameras,
    ``last_sequence`` / ``last_manifest_sha256`` are the head of the manifest chain."""

    __tablename__ = "devices"

    site_id: str = Field(
        primary_key=True, max_length=128, foreign_key="sites.id", ondelete="CASCADE"
    )
    device_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=16)
    model: str = Field(max_length=128)
    device_key: str = Field(max_length=128, description="Ed25519 public key (text)")
    enrollment: bytes = Field(description="customer-signed DeviceEnrollment")
    issued_at_ms: int = Field(sa_type=MS)
    last_sequence: int | None = Field(default=None, sa_type=MS)
    last_manifest_sha256: bytes | None = Field(default=None)
    created_ms: int = Field(sa_type=MS)
    revoked_ms: int | None = Field(default=None, sa_type=MS)


class Upload(SQLModel, table=True):
    """An upload in progress: the camera PUTs the payload to ``object_key`` through presigned
    URLs, then commits. Expired rows are swept (their object and multipart upload removed)."""

    __tablename__ = "uploads"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "camera_id", "recording_id", name="uq_uploads_recording"),
    )

    id: str = Field(primary_key=True, max_length=64)
    site_id: str = Field(max_length=128, foreign_key="sites.id", ondelete="CASCADE", index=True)
    camera_id: str = Field(max_length=128)
    recording_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    start_ms: int = Field(sa_type=MS)
    end_ms: int = Field(sa_type=MS)
    payload_size: int = Field(sa_type=MS)
    object_key: str = Field(max_length=1024)
    multipart_upload_id: str | None = Field(default=None, max_length=1024)
    part_size: int | None = Field(default=None, sa_type=MS)
    created_ms: int = Field(sa_type=MS)
    expires_ms: int = Field(sa_type=MS, index=True)


class Recording(SQLModel, table=True):
    """A committed recording. Deleting it crypto-shreds it: ``header`` becomes NULL in the
    transaction that sets ``deleted_ms`` and queues the payload object for removal; the row
    stays as a tombstone (manifest kept) so the customer's chain check can tell "deleted by
    the customer" from "missing"."""

    __tablename__ = "recordings"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "camera_id", "recording_id", name="uq_recordings_id"),
        sa.UniqueConstraint("site_id", "camera_id", "sequence", name="uq_recordings_sequence"),
        sa.Index("ix_recordings_site_start", "site_id", "start_ms", "id"),
        sa.Index("ix_recordings_camera_start", "site_id", "camera_id", "start_ms", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BIGID)
    site_id: str = Field(max_length=128, foreign_key="sites.id", ondelete="CASCADE")
    camera_id: str = Field(max_length=128)
    recording_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    start_ms: int = Field(sa_type=MS)
    end_ms: int = Field(sa_type=MS)
    payload_size: int = Field(sa_type=MS)
    payload_sha256: bytes
    sequence: int = Field(sa_type=MS)
    manifest: bytes = Field(description="camera-signed Manifest (canonical JSON)")
    manifest_sha256: bytes
    header: bytes | None = Field(default=None, description="age header; NULL once deleted")
    object_key: str = Field(max_length=1024)
    committed_ms: int = Field(sa_type=MS)
    deleted_ms: int | None = Field(default=None, sa_type=MS)
    deleted_reason: str | None = Field(default=None, max_length=16)


class DeletionQueue(SQLModel, table=True):
    """Objects (and multipart uploads) to remove from the store; drained by the sweeper."""

    __tablename__ = "deletion_queue"

    id: int | None = Field(default=None, primary_key=True, sa_type=BIGID)
    object_key: str = Field(max_length=1024)
    multipart_upload_id: str | None = Field(default=None, max_length=1024)
    enqueued_ms: int = Field(sa_type=MS)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=512)


class RequestNonce(SQLModel, table=True):
    """Nonces of accepted signed requests, kept until the signature expires (replay guard)."""

    __tablename__ = "request_nonces"

    keyid: str = Field(primary_key=True, max_length=300)
    nonce: str = Field(primary_key=True, max_length=128)
    expires_ms: int = Field(sa_type=MS, index=True)


class Operator(SQLModel, table=True):
    """An ARC operator or technician, from an ARC-signed OperatorRegistration."""

    __tablename__ = "operators"

    id: str = Field(primary_key=True, max_length=128)
    operator_key: str = Field(max_length=128)
    role: str = Field(max_length=16)
    registration: bytes
    issued_at_ms: int = Field(sa_type=MS)
    created_ms: int = Field(sa_type=MS)


# --- alarms, consents, telemetry, notifications -----------------------------------------------


class Alarm(SQLModel, table=True):
    """An alarm from a panel-signed AlarmEvent; one row per (site, panel, event id).

    ``state``: open → acknowledged → closed (operators), or cancelled (customer-signed
    AlarmCancel). The access period (live feed, operator reads) ends at ``access_until_ms``
    or when the alarm is closed or cancelled, whichever comes first."""

    __tablename__ = "alarms"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "panel_id", "event_id", name="uq_alarms_event"),
        sa.Index("ix_alarms_site_triggered", "site_id", "triggered_at_ms"),
        sa.Index("ix_alarms_state_triggered", "state", "triggered_at_ms"),
    )

    id: str = Field(primary_key=True, max_length=32)
    site_id: str = Field(max_length=128, foreign_key="sites.id", ondelete="CASCADE")
    panel_id: str = Field(max_length=128)
    event_id: str = Field(max_length=128)
    alarm_type: str = Field(max_length=16)
    triggered_at_ms: int = Field(sa_type=MS)
    counter: int = Field(sa_type=MS)
    event: bytes = Field(description="panel-signed AlarmEvent (canonical JSON)")
    state: str = Field(max_length=16)
    created_ms: int = Field(sa_type=MS)
    access_until_ms: int = Field(sa_type=MS)
    acknowledged_ms: int | None = Field(default=None, sa_type=MS)
    acknowledged_by: str | None = Field(default=None, max_length=128)
    closed_ms: int | None = Field(default=None, sa_type=MS)
    closed_by: str | None = Field(default=None, max_length=128)
    cancelled_ms: int | None = Field(default=None, sa_type=MS)
    cancel: bytes | None = Field(default=None, description="customer-signed AlarmCancel")


class PanelCounter(SQLModel, table=True):
    """The highest AlarmEvent counter accepted from each panel (strictly increasing)."""

    __tablename__ = "panel_counters"

    site_id: str = Field(
        primary_key=True, max_length=128, foreign_key="sites.id", ondelete="CASCADE"
    )
    panel_id: str = Field(primary_key=True, max_length=128)
    last_counter: int = Field(sa_type=MS)


class ConsentRequest(SQLModel, table=True):
    """A technician's request for a maintenance consent; the customer approves it by
    posting a signed Consent, or refuses it. ``cameras`` / ``scope`` are JSON arrays."""

    __tablename__ = "consent_requests"
    __table_args__ = (sa.Index("ix_consent_requests_site_created", "site_id", "created_ms"),)

    id: str = Field(primary_key=True, max_length=32)
    site_id: str = Field(max_length=128, foreign_key="sites.id", ondelete="CASCADE")
    operator_id: str = Field(max_length=128, index=True)
    cameras: str = Field(sa_type=sa.Text)
    scope: str = Field(max_length=128)
    recordings_from_ms: int = Field(sa_type=MS)
    recordings_to_ms: int = Field(sa_type=MS)
    duration_s: int = Field(sa_type=MS)
    reason: str = Field(max_length=512)
    created_ms: int = Field(sa_type=MS)
    state: str = Field(max_length=16)
    decided_ms: int | None = Field(default=None, sa_type=MS)
    consent_id: str | None = Field(default=None, max_length=128)
    refusal_reason: str | None = Field(default=None, max_length=512)


class StoredConsent(SQLModel, table=True):
    """A customer-signed Consent as stored and relayed (custodians enforce it), and its
    customer-signed Revocation once revoked."""

    __tablename__ = "consents"

    site_id: str = Field(
        primary_key=True, max_length=128, foreign_key="sites.id", ondelete="CASCADE"
    )
    consent_id: str = Field(primary_key=True, max_length=128)
    request_id: str | None = Field(default=None, max_length=32)
    grantee_id: str = Field(max_length=128, index=True)
    statement: bytes
    not_before_ms: int = Field(sa_type=MS)
    not_after_ms: int = Field(sa_type=MS)
    created_ms: int = Field(sa_type=MS)
    revoked_ms: int | None = Field(default=None, sa_type=MS)
    revocation: bytes | None = None


class TelemetryReport(SQLModel, table=True):
    """Technical health data of a device (plaintext to the ARC; never mixed with recordings).
    Each row expires at ``expires_ms`` (received + the retention limit); the sweeper deletes
    expired rows and readers never return them."""

    __tablename__ = "device_telemetry"
    __table_args__ = (
        sa.Index("ix_device_telemetry_device", "site_id", "device_id", "received_ms", "id"),
        sa.Index("ix_device_telemetry_site", "site_id", "received_ms", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BIGID)
    site_id: str = Field(max_length=128, foreign_key="sites.id", ondelete="CASCADE")
    device_id: str = Field(max_length=128)
    received_ms: int = Field(sa_type=MS)
    expires_ms: int = Field(sa_type=MS, index=True)
    reported_ms: int = Field(sa_type=MS)
    battery_pct: int | None = None
    signal_dbm: int | None = None
    firmware: str = Field(max_length=64)
    storage_health: str = Field(max_length=16)
    storage_free_bytes: int | None = Field(default=None, sa_type=MS)
    temperature_c: float | None = None
    uptime_s: int = Field(sa_type=MS)


class InboxItem(SQLModel, table=True):
    """One item of a site's customer inbox: a camera's smart alert (age ciphertext, opaque),
    a custodian's access notice (JSON text), a consent request or an alarm (JSON).
    (site, kind, source, source_ref) makes deliveries idempotent."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "kind", "source", "source_ref", name="uq_inbox_source"),
        sa.Index("ix_inbox_items_site", "site_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BIGID)
    site_id: str = Field(max_length=128, foreign_key="sites.id", ondelete="CASCADE")
    kind: str = Field(max_length=24)
    source: str = Field(max_length=300)
    source_ref: str = Field(max_length=128)
    created_ms: int = Field(sa_type=MS)
    body: bytes


class StoredChainHead(SQLModel, table=True):
    """The latest camera-signed ChainHead of each camera (docs/CHAIN_HEADS.md): one row per
    camera, replaced only by a head that does not go backwards (sequence and time)."""

    __tablename__ = "chain_heads"

    site_id: str = Field(
        primary_key=True, max_length=128, foreign_key="sites.id", ondelete="CASCADE"
    )
    camera_id: str = Field(primary_key=True, max_length=128)
    sequence: int | None = Field(default=None, sa_type=MS)
    manifest_sha256: bytes | None = Field(default=None)
    issued_at_ms: int = Field(sa_type=MS)
    interval_s: int
    head: bytes = Field(description="camera-signed ChainHead (canonical JSON)")
    received_ms: int = Field(sa_type=MS)


class DeviceRevocationRow(SQLModel, table=True):
    """A device key the customer revoked (customer-signed DeviceRevocation): the device may
    not authenticate with it any more, and no enrollment may name it again."""

    __tablename__ = "device_revocations"

    site_id: str = Field(
        primary_key=True, max_length=128, foreign_key="sites.id", ondelete="CASCADE"
    )
    device_id: str = Field(primary_key=True, max_length=128)
    device_key: str = Field(primary_key=True, max_length=128, description="the revoked key")
    revoked_from_ms: int = Field(sa_type=MS)
    statement: bytes = Field(description="customer-signed DeviceRevocation")
    received_ms: int = Field(sa_type=MS)
