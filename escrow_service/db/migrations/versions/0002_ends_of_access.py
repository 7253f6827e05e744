"""escrow service: alarm closes (ARC) and recording deletions (customer)

Revision ID: 0002_ends_of_access
Revises: 0001_escrow
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ends_of_access"
down_revision = "0001_escrow"
branch_labels = None
depends_on = None

ID = 128


def upgrade() -> None:
    op.create_table(
        "escrow_alarm_closes",
        sa.Column("site_id", sa.String(ID), primary_key=True),
        sa.Column("panel_id", sa.String(ID), primary_key=True),
        sa.Column("event_id", sa.String(ID), primary_key=True),
        sa.Column("operator_id", sa.String(ID), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "escrow_deletions",
        sa.Column("statement_sha256", sa.LargeBinary(32), primary_key=True),
        sa.Column("site_id", sa.String(ID), nullable=False),
        sa.Column("camera_id", sa.String(ID), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "escrow_deleted_recordings",
        sa.Column("site_id", sa.String(ID), primary_key=True),
        sa.Column("camera_id", sa.String(ID), primary_key=True),
        sa.Column("recording_id", sa.String(ID), primary_key=True),
        sa.Column("deleted_ms", sa.BigInteger(), nullable=False),
        sa.Column("statement_sha256", sa.LargeBinary(32), nullable=False),
    )


def downgrade() -> None:
    for table in ("escrow_deleted_recordings", "escrow_deletions", "escrow_alarm_closes"):
        op.drop_table(table)
