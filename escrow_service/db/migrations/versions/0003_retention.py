"""escrow service: the customer's retention policy (RetentionPolicy statements)

Revision ID: 0003_retention
Revises: 0002_ends_of_access
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_retention"
down_revision = "0002_ends_of_access"
branch_labels = None
depends_on = None

ID = 128


def upgrade() -> None:
    op.create_table(
        "escrow_retention",
        sa.Column("site_id", sa.String(ID), primary_key=True),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("expired_before_ms", sa.BigInteger(), nullable=True),
        sa.Column("issued_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("escrow_retention")
