"""SQLite specifics of crypto-shredding (embedded mode).

A deleted header must not survive in the database file: ``PRAGMA secure_delete=ON`` makes
SQLite overwrite freed content with zeros, and a ``wal_checkpoint(TRUNCATE)`` after each
shredding pass copies the new pages into the main file and empties the write-ahead log,
which still holds the page versions that contained the header. (PostgreSQL: see
docs/OPERATIONS.md, "Crypto-shredding and the database".)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def enable_secure_delete(engine: Engine) -> None:
    if not is_sqlite(engine):
        return

    @event.listens_for(engine, "connect")
    def _secure_delete(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()


def purge_wal(engine: Engine) -> None:
    """Checkpoint and truncate the WAL (best effort: busy readers make it partial; the next
    sweep repeats it)."""
    if not is_sqlite(engine):
        return
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
