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


# --- issue 4: the storage service core ---------------------------------------------------------
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
