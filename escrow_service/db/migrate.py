"""Alembic migrations of the escrow service, run programmatically.

The version table is ``escrow_alembic_version`` so that a custodian database can never be
mistaken for (or migrated as) a storage-service database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "escrow_alembic_version"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def is_current(engine: Engine, url: str) -> bool:
    """Whether the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return bool(ctx.get_current_revision() == head)


def stored_log_size(url: str) -> int:
    """How many log entries the database at ``url`` holds (0 when it has no schema yet)."""
    from sqlalchemy import create_engine, func, inspect, select

    from escrow_service.db.models import log_entries

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(log_entries.name):
                return 0
            return int(conn.execute(select(func.count()).select_from(log_entries)).scalar_one())
    finally:
        engine.dispose()


def schema_is_current(url: str) -> bool:
    """Whether the database at ``url`` is at the newest migration (False with no schema)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        return is_current(engine, url)
    finally:
        engine.dispose()
