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
