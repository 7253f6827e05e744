"""sites: the first table

Revision ID: 0001_sites
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001_sites"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("customer_signing_key", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("keys_version", sa.Integer(), nullable=False),
        sa.Column("site_keys", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("sites")
