"""The custodian's transparency log over its database (RFC 9162 hashing, C2SP checkpoints).

One row per leaf in ``escrow_log``: index, leaf hash (``crypto.tlog.entry_leaf_hash`` of the
exact entry bytes) and the entry bytes. Appends are serialized: a process-wide lock, plus
``pg_advisory_xact_lock`` on PostgreSQL so that several worker processes share one writer
order (on SQLite the file's single-writer lock and the index primary key do that job). The
next index is read from the database inside the writer transaction (once: the transaction's
later appends count on from it), never from memory kept across transactions. Many entries
can go in with one statement (:meth:`LogStore.append_many`: a release group, see
groupcommit.py).

Proofs come from an in-memory copy of the leaf hashes (refreshed from the database before
use) and a cache of complete-subtree hashes of 16 leaves or more: a complete subtree never
changes once the log holds it, so its hash can be kept forever (crypto.tlog.inclusion_proof_from).
The leaves a writer transaction of this process appended join the copy once it committed
(never before: a rolled-back leaf must not be proven), so that a receipt needs no read.
Checkpoints are signed on demand for the size asked (a signed tree head of an append-only log
is valid for any size it ever had); the last one is kept, for the requests of a group.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text
from sqlalchemy.engine import Engine

from crypto.canonical import canonical_json
from crypto.tlog import (
    EMPTY_ROOT,
    consistency_proof_from,
    entry_leaf_hash,
    inclusion_proof_from,
    node_hash,
)
from crypto.tlog.note import Checkpoint, sign_checkpoint, sign_note
from escrow_service.core.keys import CustodianKeys
from escrow_service.db.engine import is_postgres
from escrow_service.db.models import log_entries

_ADVISORY_KEY = 0x63_61_6D_76_6C_6F_67  # "camvlog"
_CACHE_MIN = 16  # cache complete subtrees of at least this many leaves

# Built once: every release appends and refreshes (building a statement costs as much as
# running it on SQLite).
_LAST_INDEX = select(func.max(log_entries.c.idx))
_INSERT = log_entries.insert()
_LEAVES_FROM = (
    select(log_entries.c.idx, log_entries.c.leaf_hash)
    .where(log_entries.c.idx >= bindparam("start"))
    .order_by(log_entries.c.idx)
)


class LogCorruptError(RuntimeError):
    """The stored log is not a gapless sequence of leaves (someone edited the database)."""


@dataclass(frozen=True, slots=True)
class Appended:
    index: int
    entry: bytes
    leaf_hash: bytes


class LogStore:
    def __init__(self, engine: Engine, keys: CustodianKeys) -> None:
        self._engine = engine
        self._keys = keys
        self._pg = is_postgres(engine)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._leaves: list[bytes] = []
        self._subtrees: dict[tuple[int, int], bytes] = {}
        # Of the writer transaction in progress (guarded by _write_lock): its connection, the
        # next index once read, and what it appended.
        self._txn: Connection | None = None
        self._next: int | None = None
        self._appended: list[Appended] = []
        self._last_checkpoint: tuple[int, bytes] | None = None

    # --- writing -------------------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator[Connection]:
        """One serialized write transaction: everything done with the connection commits
        together with the log entries appended in it, or not at all."""
        with self._write_lock:
            self._next, self._appended = None, []
            try:
                with self._engine.begin() as conn:
                    self._txn = conn
                    if self._pg:
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
                    yield conn
                committed = self._appended  # reached only if the transaction committed
            finally:
                self._txn, self._next, self._appended = None, None, []
            self._learn(committed)

    def _next_index(self, conn: Connection) -> int:
        if self._next is None or conn is not self._txn:
            last = conn.execute(_LAST_INDEX).scalar()
            return 0 if last is None else int(last) + 1
        return self._next

    def append(
        self,
        conn: Connection,
        entry: Mapping[str, Any],
        *,
        kind: str,
        site_id: str | None,
        now_ms: int,
    ) -> Appended:
        """Append ``entry`` (plus its ``index``) inside a :meth:`writer` transaction."""
        return self.append_many(conn, [(entry, kind, site_id, now_ms)])[0]

    def append_many(
        self,
        conn: Connection,
        entries: Sequence[tuple[Mapping[str, Any], str, str | None, int]],
    ) -> list[Appended]:
        """Append ``(entry, kind, site_id, now_ms)`` tuples in order, with one INSERT, inside a
        :meth:`writer` transaction."""
        first = self._next_index(conn)
        rows, out = [], []
        for n, (entry, kind, site_id, now_ms) in enumerate(entries):
            data = canonical_json({**entry, "index": first + n})
            leaf = entry_leaf_hash(data)
            rows.append(
                {
                    "idx": first + n,
                    "leaf_hash": leaf,
                    "entry": data,
                    "kind": kind,
                    "site_id": site_id,
                    "created_ms": now_ms,
                }
            )
            out.append(Appended(first + n, data, leaf))
        if rows:
            conn.execute(_INSERT, rows)
        if conn is self._txn:  # else not a writer transaction: nothing is remembered
            self._next = first + len(rows)
            self._appended.extend(out)
        return out

    def _learn(self, committed: list[Appended]) -> None:
        """Add the leaves a transaction of this process committed to the in-memory copy, if
        they follow it directly (else the next refresh reads them)."""
        if not committed:
            return
        with self._read_lock:
            if len(self._leaves) == committed[0].index:
                self._leaves.extend(a.leaf_hash for a in committed)

    # --- reading -------------------------------------------------------------------------

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """A connection for reads. On PostgreSQL it runs in autocommit: each statement sees
        what was committed when it started, as in the default READ COMMITTED transaction,
        without the BEGIN and ROLLBACK round trips (a third of a release's statements)."""
        with self._engine.connect() as conn:
            if self._pg:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def refresh(self) -> int:
        """Load leaf hashes appended since the last call; return the tree size."""
        with self._read_lock:
            start = len(self._leaves)
            with self.reader() as conn:
                rows = conn.execute(_LEAVES_FROM, {"start": start}).all()
            for idx, leaf in rows:
                if idx != len(self._leaves):
                    raise LogCorruptError(f"log index {idx} where {len(self._leaves)} expected")
                self._leaves.append(bytes(leaf))
            return len(self._leaves)

    def size(self) -> int:
        return self.refresh()

    def _mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 1:
            return self._leaves[start]
        complete = n & (n - 1) == 0 and start % n == 0
        if complete and n >= _CACHE_MIN:
            cached = self._subtrees.get((start, n))
            if cached is not None:
                return cached
        k = 1 << ((n - 1).bit_length() - 1)
        h = node_hash(self._mth(start, start + k), self._mth(start + k, end))
        if complete and n >= _CACHE_MIN:
            self._subtrees[(start, n)] = h
        return h

    def _check_size(self, size: int) -> None:
        if size > len(self._leaves):
            self.refresh()
        if not 0 <= size <= len(self._leaves):
            raise ValueError(f"tree size {size} is beyond the log size {len(self._leaves)}")

    def root(self, size: int) -> bytes:
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._mth(0, size)

    def checkpoint(self, size: int | None = None) -> bytes:
        """A signed checkpoint note (C2SP tlog-checkpoint) of the log at ``size`` (latest)."""
        if size is None:
            size = self.refresh()
        last = self._last_checkpoint
        if last is not None and last[0] == size:
            return last[1]  # the root of a size never changes in an append-only log
        cp = Checkpoint(self._keys.origin, size, self.root(size))
        if self._keys.next_log_signer is None:
            note = sign_checkpoint(cp, self._keys.log_signer)
        else:
            # Rotation: one note, signed by the current and the next key (C2SP signed-note).
            note = sign_note(cp.to_text(), self._keys.log_signers)
        self._last_checkpoint = (size, note)
        return note

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        return inclusion_proof_from(self._mth, index, size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        self._check_size(new)
        return consistency_proof_from(self._mth, old, new)

    def index_of(self, leaf: bytes) -> int | None:
        with self._engine.connect() as conn:
            idx = conn.execute(
                select(func.min(log_entries.c.idx)).where(log_entries.c.leaf_hash == leaf)
            ).scalar()
        return None if idx is None else int(idx)

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(log_entries.c.idx, log_entries.c.entry)
                .where(log_entries.c.idx >= start, log_entries.c.idx < end)
                .order_by(log_entries.c.idx)
            ).all()
        return [(int(i), bytes(e)) for i, e in rows]

    def site_entries(self, site_id: str, after: int, limit: int) -> list[tuple[int, bytes]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(log_entries.c.idx, log_entries.c.entry)
                .where(log_entries.c.site_id == site_id, log_entries.c.idx > after)
                .order_by(log_entries.c.idx)
                .limit(limit)
            ).all()
        return [(int(i), bytes(e)) for i, e in rows]
