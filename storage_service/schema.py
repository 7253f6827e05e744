"""Is the database schema current? (the service refuses to run on an outdated schema)."""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from storage_service.db.migrate import alembic_config, upgrade


class SchemaOutdated(RuntimeError):  # noqa: N818
    pass


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_schema(engine: Engine, url: str, *, auto_migrate: bool) -> None:
    """Upgrade (``auto_migrate``) or raise :class:`SchemaOutdated` with what to run."""
    head, current = head_revision(url), current_revision(engine)
    if current == head:
        return
    if auto_migrate:
        upgrade(url)
        return
    raise SchemaOutdated(
        f"database schema is at revision {current or 'none'}, this version needs {head}: "
        "run `camvault db upgrade` (or set CAMVAULT_AUTO_MIGRATE=true)"
    )
