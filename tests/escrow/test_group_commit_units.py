"""GroupCommit over a real LogStore (SQLite file): concurrent jobs share transactions, each is
answered after its commit, and a job whose writes fail fails alone (the others are written
again without it, the log stays gapless)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from crypto.tlog import entry_leaf_hash, root_from_leaf_hashes
from escrow_service.core.keys import load_or_create
from escrow_service.db import make_engine
from escrow_service.db.migrate import upgrade
from escrow_service.db.models import log_entries, nonces
from escrow_service.services.groupcommit import GroupCommit
from escrow_service.services.tlog_store import Appended, LogStore

T = 1_700_000_000_000


@pytest.fixture
def store(tmp_path: Path) -> LogStore:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    upgrade(url)
    return LogStore(make_engine(url), load_or_create(tmp_path, "c9"))


def _run(jobs: list[str], submit: object) -> dict[str, Appended | BaseException]:
    out: dict[str, Appended | BaseException] = {}

    def one(job: str) -> None:
        try:
            out[job] = submit(job)  # type: ignore[operator]
        except Exception as exc:
            out[job] = exc

    threads = [threading.Thread(target=one, args=(j,)) for j in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


def test_concurrent_jobs_share_transactions_and_are_answered_committed(store: LogStore) -> None:
    groups: list[int] = []
    committed_sizes: list[int] = []

    def write(conn: Connection, jobs: Sequence[str]) -> list[Appended]:
        groups.append(len(jobs))
        if len(groups) == 1:
            time.sleep(0.3)  # the first writer is slow: the others queue behind it
        entries = [({"type": "test", "job": j}, "test", None, T) for j in jobs]
        return store.append_many(conn, entries)

    gc: GroupCommit[str, Appended] = GroupCommit(store, write)

    def submit(job: str) -> Appended:
        a = gc.submit(job)
        # Answered only after the commit: another connection sees the entry.
        with store.reader() as conn:
            committed_sizes.append(
                int(conn.execute(select(func.count()).select_from(log_entries)).scalar() or 0)
            )
            assert (
                conn.execute(
                    select(log_entries.c.entry).where(log_entries.c.idx == a.index)
                ).scalar()
                == a.entry
            )
        return a

    jobs = [f"j{i}" for i in range(30)]
    out = _run(jobs, submit)
    appended = [out[j] for j in jobs]
    assert all(isinstance(a, Appended) for a in appended)
    indexes = sorted(a.index for a in appended)  # type: ignore[union-attr]
    assert indexes == list(range(30))
    assert sum(groups) == 30 and max(groups) > 1, groups  # shared transactions
    leaves = [entry_leaf_hash(a.entry) for a in sorted(appended, key=lambda a: a.index)]  # type: ignore[union-attr]
    assert store.root(30) == root_from_leaf_hashes(leaves)
    # The in-memory copy learnt the committed leaves; a fresh store reading the database agrees.
    assert LogStore(store._engine, store._keys).root(30) == root_from_leaf_hashes(leaves)


def test_a_failing_job_fails_alone_and_leaves_no_entry(store: LogStore) -> None:
    with store.writer() as conn:
        conn.execute(nonces.insert().values(keyid="k", nonce="used", expires_ms=T))
    first = threading.Event()
    with_bad: list[int] = []  # sizes of the groups the bad job was written in

    def write(conn: Connection, jobs: Sequence[str]) -> list[Appended]:
        if not first.is_set():
            first.set()
            time.sleep(0.3)  # let the others, the bad one included, queue into one group
        out = store.append_many(conn, [({"type": "test", "job": j}, "test", None, T) for j in jobs])
        for j in jobs:
            if j == "bad":
                with_bad.append(
                    len(jobs)
                )  # a real database error: the nonce's primary key is taken
                conn.execute(nonces.insert().values(keyid="k", nonce="used", expires_ms=T))
        return out

    gc: GroupCommit[str, Appended] = GroupCommit(store, write)
    jobs = ["a", "b", "bad", "c", "d"]
    out = _run(jobs, gc.submit)
    assert isinstance(out["bad"], IntegrityError)
    assert with_bad[0] > 1 and with_bad[-1] == 1, with_bad  # in a group, then alone
    good = [out[j] for j in jobs if j != "bad"]
    assert all(isinstance(a, Appended) for a in good), out
    assert sorted(a.index for a in good) == [0, 1, 2, 3]  # type: ignore[union-attr]
    with store.reader() as conn:
        rows = conn.execute(
            select(log_entries.c.idx, log_entries.c.entry).order_by(log_entries.c.idx)
        ).all()
    assert [r.idx for r in rows] == [0, 1, 2, 3]
    assert all(b'"bad"' not in bytes(r.entry) for r in rows)
    assert store.size() == 4
