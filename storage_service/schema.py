"""Moved to :mod:`storage_service.db.migrate` (re-export until the imports are rewritten)."""

from storage_service.db.migrate import *  # noqa: F403
from storage_service.db.migrate import SchemaOutdated, ensure_schema

__all__ = ["SchemaOutdated", "ensure_schema"]
