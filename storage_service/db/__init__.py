"""Database layer: SQLModel engine/session setup, Alembic migrations and the schema check."""

from storage_service.db.engine import make_engine, session_scope
from storage_service.db.migrate import SchemaOutdated, downgrade, ensure_schema, upgrade

__all__ = [
    "SchemaOutdated",
    "downgrade",
    "ensure_schema",
    "make_engine",
    "session_scope",
    "upgrade",
]
