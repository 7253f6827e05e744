"""Database layer: SQLModel engine/session setup and Alembic migrations."""

from storage_service.db.engine import make_engine, session_scope
from storage_service.db.migrate import downgrade, upgrade

__all__ = ["downgrade", "make_engine", "session_scope", "upgrade"]
