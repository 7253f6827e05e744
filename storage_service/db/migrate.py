"""Alembic migrations, run programmatically (the schema is never built with create_all), and
the start-up check that the database schema is current: the service refuses to run on an
outdated schema unless told to migrate it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaOutdated(RuntimeError):  # noqa: N818
    pass


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' must be escaped for ConfigParser interpolation (URL-encoded passwords).
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


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
        f"database {_where(engine)} schema is at revision {current or 'none'}, this version "
        f"needs {head}: run `camvault db upgrade` (or set CAMVAULT_AUTO_MIGRATE=true)"
    )


def _where(engine: Engine) -> str:
    """The database named so that a wrong one is obvious: an SQLite file's absolute path
    (the default one is relative to the current directory), a server's host and database."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database or "").resolve())
    return url.render_as_string(hide_password=True)
