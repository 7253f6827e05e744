"""chain heads: the latest camera-signed ChainHead per camera

Revision ID: 0004_chain_heads
Revises: 0003_arc
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_chain_heads"
down_revision = "0003_arc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_heads",
        sa.Column("site_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("camera_id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("manifest_sha256", sa.LargeBinary(), nullable=True),
        sa.Column("issued_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("head", sa.LargeBinary(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "camera_id"),
    )


def downgrade() -> None:
    op.drop_table("chain_heads")
