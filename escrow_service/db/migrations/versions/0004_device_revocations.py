"""escrow service: revoked device keys (DeviceRevocation statements)

Revision ID: 0004_device_revocations
Revises: 0003_retention
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_device_revocations"
down_revision = "0003_retention"
branch_labels = None
depends_on = None

ID = 128


def upgrade() -> None:
    op.create_table(
        "escrow_device_revocations",
        sa.Column("site_id", sa.String(ID), primary_key=True),
        sa.Column("device_id", sa.String(ID), primary_key=True),
        sa.Column("device_key", sa.String(100), primary_key=True),
        sa.Column("revoked_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("escrow_device_revocations")
