"""Engine setup for SQLite (embedded default) and PostgreSQL (deployments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url


def make_engine(url: str) -> Engine:
    """An engine for ``url``.

    SQLite: parent directory created, WAL journal, foreign keys and a busy timeout, and full
    synchronous commits (a committed log entry must survive a power cut: invariant 3).
    PostgreSQL: connections checked before use; a pool large enough for concurrent operators,
    all of it kept open: up to 30 connections per worker as before, but none closed when
    returned (with 10 kept and 20 "overflow", a burst of releases closed and reopened up to 20
    connections, a PostgreSQL backend started for each, which was the tail of its latency).
    SQLite likewise keeps its connections open: with SQLAlchemy's default pool (5 kept, 10
    overflow) 50 operators' releases opened and closed a connection, and ran its four
    PRAGMAs, for most requests (a tenth of the custodian's CPU under witness cosigning).
    Up to 40 are kept (the request thread pool's size), 10 more may open and close.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=40,
            max_overflow=10,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=30, max_overflow=0)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
