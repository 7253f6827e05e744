"""device revocations: device keys the customer revoked (signed DeviceRevocation)

Revision ID: 0005_device_revocations
Revises: 0004_chain_heads
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005_device_revocations"
down_revision = "0004_chain_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_revocations",
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("device_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("device_key", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("revoked_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "device_id", "device_key"),
    )


def downgrade() -> None:
    op.drop_table("device_revocations")
