"""Migrations run up and down on SQLite and on the real PostgreSQL, and match the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel, select

from storage_service.db import downgrade, make_engine, session_scope, upgrade
from storage_service.db.models import Site
from tests.support.services import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nested' / 'camvault.db'}"
    else:
        pg: PostgresServer = request.getfixturevalue("postgres")
        yield pg.create_database(f"mig_{uuid.uuid4().hex[:12]}")


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_then_downgrade_round_trip(db_url: str) -> None:
    upgrade(db_url)
    assert {"sites", "alembic_version"} <= _tables(db_url)
    downgrade(db_url, "base")
    assert "sites" not in _tables(db_url)
    upgrade(db_url)  # and up again: downgrade really reversed everything
    assert "sites" in _tables(db_url)


def test_models_match_migrations(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
            )
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_session_scope_commits_and_rolls_back(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            s.add(Site(id="site-1", customer_signing_key="k", site_keys=b"\x00signed"))
        with pytest.raises(RuntimeError, match="boom"), session_scope(engine) as s:
            s.add(Site(id="site-2", customer_signing_key="k", site_keys=b"x"))
            s.flush()
            raise RuntimeError("boom")
        with session_scope(engine) as s:
            ids = s.exec(select(Site.id)).all()
        assert ids == ["site-1"]
    finally:
        engine.dispose()


def test_sqlite_enforces_foreign_keys_and_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()
