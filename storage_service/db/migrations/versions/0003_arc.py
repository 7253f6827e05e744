"""alarms, panel counters, consent requests, consents, device telemetry, inbox items

Revision ID: 0003_arc
Revises: 0002_core
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

#: BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0003_arc"
down_revision = "0002_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("panel_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("event_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("alarm_type", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("triggered_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.LargeBinary(), nullable=False),
        sa.Column("state", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("access_until_ms", sa.BigInteger(), nullable=False),
        sa.Column("acknowledged_ms", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_by", sqlmodel.AutoString(length=128), nullable=True),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sqlmodel.AutoString(length=128), nullable=True),
        sa.Column("cancelled_ms", sa.BigInteger(), nullable=True),
        sa.Column("cancel", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "panel_id", "event_id", name="uq_alarms_event"),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alarms_site_triggered", ["site_id", "triggered_at_ms"], unique=False
        )
        batch_op.create_index(
            "ix_alarms_state_triggered", ["state", "triggered_at_ms"], unique=False
        )

    op.create_table(
        "consent_requests",
        sa.Column("id", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("operator_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("cameras", sa.Text(), nullable=False),
        sa.Column("scope", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("recordings_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("recordings_to_ms", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.BigInteger(), nullable=False),
        sa.Column("reason", sqlmodel.AutoString(length=512), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("state", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("decided_ms", sa.BigInteger(), nullable=True),
        sa.Column("consent_id", sqlmodel.AutoString(length=128), nullable=True),
        sa.Column("refusal_reason", sqlmodel.AutoString(length=512), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_requests_operator_id"), ["operator_id"], unique=False
        )
        batch_op.create_index(
            "ix_consent_requests_site_created", ["site_id", "created_ms"], unique=False
        )

    op.create_table(
        "consents",
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("consent_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("request_id", sqlmodel.AutoString(length=32), nullable=True),
        sa.Column("grantee_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("not_before_ms", sa.BigInteger(), nullable=False),
        sa.Column("not_after_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.Column("revocation", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "consent_id"),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_grantee_id"), ["grantee_id"], unique=False)

    op.create_table(
        "device_telemetry",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("device_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("reported_ms", sa.BigInteger(), nullable=False),
        sa.Column("battery_pct", sa.Integer(), nullable=True),
        sa.Column("signal_dbm", sa.Integer(), nullable=True),
        sa.Column("firmware", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("storage_health", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("storage_free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("temperature_c", sa.Float(), nullable=True),
        sa.Column("uptime_s", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_telemetry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_device_telemetry_device",
            ["site_id", "device_id", "received_ms", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_device_telemetry_expires_ms"), ["expires_ms"], unique=False
        )
        batch_op.create_index(
            "ix_device_telemetry_site", ["site_id", "received_ms", "id"], unique=False
        )

    op.create_table(
        "inbox_items",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.AutoString(length=24), nullable=False),
        sa.Column("source", sqlmodel.AutoString(length=300), nullable=False),
        sa.Column("source_ref", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "kind", "source", "source_ref", name="uq_inbox_source"),
    )
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_items_site", ["site_id", "id"], unique=False)

    op.create_table(
        "panel_counters",
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("panel_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("last_counter", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "panel_id"),
    )


def downgrade() -> None:
    op.drop_table("panel_counters")
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_items_site")

    op.drop_table("inbox_items")
    with op.batch_alter_table("device_telemetry", schema=None) as batch_op:
        batch_op.drop_index("ix_device_telemetry_site")
        batch_op.drop_index(batch_op.f("ix_device_telemetry_expires_ms"))
        batch_op.drop_index("ix_device_telemetry_device")

    op.drop_table("device_telemetry")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_grantee_id"))

    op.drop_table("consents")
    with op.batch_alter_table("consent_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_requests_site_created")
        batch_op.drop_index(batch_op.f("ix_consent_requests_operator_id"))

    op.drop_table("consent_requests")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_alarms_state_triggered")
        batch_op.drop_index("ix_alarms_site_triggered")

    op.drop_table("alarms")
