"""escrow service: trust state, transparency log, notices, outbox, nonces

Revision ID: 0001_escrow
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_escrow"
down_revision = None
branch_labels = None
depends_on = None

ID = 128


def _bigid() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "escrow_sites",
        sa.Column("site_id", sa.String(ID), primary_key=True),
        sa.Column("customer_key", sa.String(100), nullable=False),
        sa.Column("keys_version", sa.BigInteger(), nullable=False),
        sa.Column("site_keys", sa.LargeBinary(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("access_period_s", sa.Integer(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "escrow_devices",
        sa.Column(
            "site_id", sa.String(ID), sa.ForeignKey("escrow_sites.site_id"), primary_key=True
        ),
        sa.Column("device_id", sa.String(ID), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(ID), nullable=False),
        sa.Column("device_key", sa.String(100), nullable=False),
        sa.Column("pre_alarm_s", sa.Integer(), nullable=True),
        sa.Column("post_alarm_s", sa.Integer(), nullable=True),
        sa.Column("live_allowed", sa.Boolean(), nullable=True),
        sa.Column("stills_only", sa.Boolean(), nullable=True),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "escrow_operators",
        sa.Column("operator_id", sa.String(ID), primary_key=True),
        sa.Column("operator_key", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "escrow_alarms",
        sa.Column("site_id", sa.String(ID), primary_key=True),
        sa.Column("panel_id", sa.String(ID), primary_key=True),
        sa.Column("event_id", sa.String(ID), primary_key=True),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("triggered_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("access_until_ms", sa.BigInteger(), nullable=False),
        sa.Column("statement_sha256", sa.LargeBinary(32), nullable=False),
    )
    op.create_index(
        "ix_escrow_alarms_panel_counter", "escrow_alarms", ["site_id", "panel_id", "counter"]
    )
    op.create_table(
        "escrow_alarm_cancels",
        sa.Column("site_id", sa.String(ID), primary_key=True),
        sa.Column("panel_id", sa.String(ID), primary_key=True),
        sa.Column("event_id", sa.String(ID), primary_key=True),
        sa.Column("cancelled_ms", sa.BigInteger(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "escrow_revocations",
        sa.Column("site_id", sa.String(ID), primary_key=True),
        sa.Column("consent_id", sa.String(ID), primary_key=True),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "escrow_log",
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("site_id", sa.String(ID), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_escrow_log_site", "escrow_log", ["site_id", "idx"])
    op.create_index("ix_escrow_log_leaf_hash", "escrow_log", ["leaf_hash"])
    op.create_table(
        "escrow_notices",
        sa.Column("id", _bigid(), primary_key=True),
        sa.Column("site_id", sa.String(ID), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("delivered_ms", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_escrow_notices_site", "escrow_notices", ["site_id", "id"])
    op.create_table(
        "escrow_outbox",
        sa.Column(
            "notice_id", sa.BigInteger(), sa.ForeignKey("escrow_notices.id"), primary_key=True
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_table(
        "escrow_nonces",
        sa.Column("keyid", sa.String(300), primary_key=True),
        sa.Column("nonce", sa.String(128), primary_key=True),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "escrow_nonces",
        "escrow_outbox",
        "escrow_notices",
        "escrow_log",
        "escrow_revocations",
        "escrow_alarm_cancels",
        "escrow_alarms",
        "escrow_operators",
        "escrow_devices",
        "escrow_sites",
    ):
        op.drop_table(table)
