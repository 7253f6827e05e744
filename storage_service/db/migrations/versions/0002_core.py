"""storage service core: site settings, devices, uploads, recordings, deletion queue,
request nonces, operators

Revision ID: 0002_core
Revises: 0001_sites
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

#: BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0002_core"
down_revision = "0001_sites"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deletion_queue",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("object_key", sqlmodel.AutoString(length=1024), nullable=False),
        sa.Column("multipart_upload_id", sqlmodel.AutoString(length=1024), nullable=True),
        sa.Column("enqueued_ms", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.AutoString(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "operators",
        sa.Column("id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("operator_key", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("role", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("registration", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "request_nonces",
        sa.Column("keyid", sqlmodel.AutoString(length=300), nullable=False),
        sa.Column("nonce", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("keyid", "nonce"),
    )
    with op.batch_alter_table("request_nonces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_nonces_expires_ms"), ["expires_ms"], unique=False
        )

    op.create_table(
        "devices",
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("device_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("model", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("device_key", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("enrollment", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=True),
        sa.Column("last_manifest_sha256", sa.LargeBinary(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "device_id"),
    )
    op.create_table(
        "recordings",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("camera_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("recording_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("payload_size", sa.BigInteger(), nullable=False),
        sa.Column("payload_sha256", sa.LargeBinary(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        sa.Column("manifest_sha256", sa.LargeBinary(), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=True),
        sa.Column("object_key", sqlmodel.AutoString(length=1024), nullable=False),
        sa.Column("committed_ms", sa.BigInteger(), nullable=False),
        sa.Column("deleted_ms", sa.BigInteger(), nullable=True),
        sa.Column("deleted_reason", sqlmodel.AutoString(length=16), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "camera_id", "recording_id", name="uq_recordings_id"),
        sa.UniqueConstraint("site_id", "camera_id", "sequence", name="uq_recordings_sequence"),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recordings_camera_start", ["site_id", "camera_id", "start_ms", "id"], unique=False
        )
        batch_op.create_index(
            "ix_recordings_site_start", ["site_id", "start_ms", "id"], unique=False
        )

    op.create_table(
        "site_settings",
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id"),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("camera_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("recording_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("payload_size", sa.BigInteger(), nullable=False),
        sa.Column("object_key", sqlmodel.AutoString(length=1024), nullable=False),
        sa.Column("multipart_upload_id", sqlmodel.AutoString(length=1024), nullable=True),
        sa.Column("part_size", sa.BigInteger(), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "camera_id", "recording_id", name="uq_uploads_recording"),
    )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_uploads_expires_ms"), ["expires_ms"], unique=False)
        batch_op.create_index(batch_op.f("ix_uploads_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uploads_site_id"))
        batch_op.drop_index(batch_op.f("ix_uploads_expires_ms"))

    op.drop_table("uploads")
    op.drop_table("site_settings")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index("ix_recordings_site_start")
        batch_op.drop_index("ix_recordings_camera_start")

    op.drop_table("recordings")
    op.drop_table("devices")
    with op.batch_alter_table("request_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_nonces_expires_ms"))

    op.drop_table("request_nonces")
    op.drop_table("operators")
    op.drop_table("deletion_queue")
