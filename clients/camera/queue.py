"""The camera's journal (SQLite, WAL, synchronous=FULL): chain head, outbox, ring buffer,
smart alerts and processed segments, so that a restart — even after SIGKILL — loses nothing
and repeats nothing.

Invariants:
- a sequence number is handed out, the manifest signed, the outbox row written, the chain
  head advanced and the source segment marked processed in ONE transaction;
- outbox rows are uploaded strictly in sequence order and deleted only after the service
  confirmed the commit (a retried commit of the same manifest is answered with the stored
  recording, so a crash between commit and delete repeats nothing);
- ring-buffer entries are encrypted but not yet in the chain: dropping one leaves no gap;
- a processed-segment row matters only while its segment file exists (``prune_processed``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clients.camera.seal import Sealed
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.metadata import RecordingKind
from crypto.statements import Manifest, SignedStatement, manifest_hash, parse_signed, sign_statement

SCHEMA = """
CREATE TABLE IF NOT EXISTS chain (id INTEGER PRIMARY KEY CHECK (id = 1),
    next_sequence INTEGER NOT NULL, prev_hash BLOB);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (sequence INTEGER PRIMARY KEY, recording_id TEXT NOT NULL,
    file TEXT NOT NULL, header_len INTEGER NOT NULL, manifest BLOB NOT NULL, upload_id TEXT);
CREATE TABLE IF NOT EXISTS ring (recording_id TEXT PRIMARY KEY, kind TEXT NOT NULL,
    start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, file TEXT NOT NULL,
    header_len INTEGER NOT NULL, payload_size INTEGER NOT NULL, header_sha256 BLOB NOT NULL,
    payload_sha256 BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (alert_id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,
    payload BLOB NOT NULL);
INSERT OR IGNORE INTO chain (id, next_sequence, prev_hash) VALUES (1, 0, NULL);
"""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    sequence: int
    recording_id: str
    file: Path
    header_len: int
    manifest: SignedStatement
    upload_id: str | None

    @property
    def statement(self) -> Manifest:
        m = self.manifest.unverified_statement
        if not isinstance(m, Manifest):
            raise TypeError("outbox holds a non-manifest statement")
        return m


class Journal:
    """Thread-safe: one connection, one lock (writes are small and rare)."""

    def __init__(self, path: Path, site_id: str, camera_id: str, key: Ed25519SigningKey) -> None:
        self.site_id = site_id
        self.camera_id = camera_id
        self.key = key
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # --- key/value ---------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, key: str, value: bytes) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))

    # --- chain -------------------------------------------------------------------------

    def chain_head(self) -> tuple[int, bytes | None]:
        with self.lock:
            seq, prev = self.db.execute(
                "SELECT next_sequence, prev_hash FROM chain WHERE id = 1"
            ).fetchone()
        return int(seq), None if prev is None else bytes(prev)

    def adopt_chain_head(self, next_sequence: int, prev: bytes | None) -> None:
        """First start on a camera the service already knows: continue its chain."""
        with self.lock:
            self.db.execute(
                "UPDATE chain SET next_sequence = ?, prev_hash = ? WHERE id = 1",
                (next_sequence, prev),
            )

    # --- processed segments ---------------------------------------------------------------

    def is_processed(self, key: str) -> bool:
        with self.lock:
            row = self.db.execute("SELECT 1 FROM processed WHERE key = ?", (key,)).fetchone()
        return row is not None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction under the lock: committed whole or rolled back."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def _insert_processed(self, key: str | Sequence[str]) -> None:
        """One source segment's key, or the keys of the fragments joined into one recording
        (clients/camera/fragments.py): all marked in the caller's transaction."""
        keys = [key] if isinstance(key, str) else list(key)
        at = now_ms()
        self.db.executemany(
            "INSERT OR IGNORE INTO processed (key, at_ms) VALUES (?, ?)", [(k, at) for k in keys]
        )

    def mark_processed(self, key: str) -> None:
        with self.lock:
            self._insert_processed(key)

    def processed_count(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM processed").fetchone()[0])

    def prune_processed(self, matters: Callable[[str], bool], batch: int = 1000) -> int:
        """Forget the processed segments for which ``matters(key)`` is false; returns how
        many were forgotten.

        A row only stops a segment whose file is still there from being sealed twice (a
        crash between the journal commit and the file's deletion): once that file is gone
        it can never come back under the same key (run directory numbers and ffmpeg's
        segment numbers only increase), so the caller's ``matters`` is "the file exists".
        Without pruning the table grew by a row per segment for good (43,200 a day at 2 s).
        Keys are read in pages of ``batch`` (the table of an old journal may be large) and
        ``matters`` runs outside the lock; call it from the thread that marks segments
        processed (the producer), so that no key is marked between the look and the delete.
        """
        removed = 0
        after = ""
        while True:
            with self.lock:
                keys = [
                    str(r[0])
                    for r in self.db.execute(
                        "SELECT key FROM processed WHERE key > ? ORDER BY key LIMIT ?",
                        (after, batch),
                    )
                ]
            if not keys:
                return removed
            after = keys[-1]
            gone = [(k,) for k in keys if not matters(k)]
            if gone:
                with self._transaction():
                    self.db.executemany("DELETE FROM processed WHERE key = ?", gone)
                removed += len(gone)

    # --- outbox --------------------------------------------------------------------------

    def _sign_and_insert(self, sealed: Sealed) -> SignedStatement:
        seq, prev = self.db.execute(
            "SELECT next_sequence, prev_hash FROM chain WHERE id = 1"
        ).fetchone()
        signed = sign_statement(
            Manifest(
                site_id=self.site_id,
                camera_id=self.camera_id,
                recording_id=sealed.recording_id,
                kind=sealed.kind,
                start_ms=sealed.start_ms,
                end_ms=sealed.end_ms,
                payload_sha256=sealed.payload_sha256,
                payload_size=sealed.payload_size,
                header_sha256=sealed.header_sha256,
                sequence=int(seq),
                prev_manifest_sha256=None if prev is None else bytes(prev),
                issued_at_ms=now_ms(),
            ),
            self.key,
        )
        self.db.execute(
            "INSERT INTO outbox (sequence, recording_id, file, header_len, manifest)"
            " VALUES (?, ?, ?, ?, ?)",
            (seq, sealed.recording_id, str(sealed.file), sealed.header_len, signed.encode()),
        )
        self.db.execute(
            "UPDATE chain SET next_sequence = ?, prev_hash = ? WHERE id = 1",
            (int(seq) + 1, manifest_hash(signed)),
        )
        return signed

    def enqueue(
        self, sealed: list[Sealed], processed_key: str | Sequence[str] | None = None
    ) -> None:
        """Sign manifests for ``sealed`` (in order) and put them in the outbox, atomically."""
        with self._transaction():
            for s in sealed:
                self._sign_and_insert(s)
            if processed_key is not None:
                self._insert_processed(processed_key)

    def next_pending(self) -> OutboxItem | None:
        with self.lock:
            row = self.db.execute(
                "SELECT sequence, recording_id, file, header_len, manifest, upload_id"
                " FROM outbox ORDER BY sequence LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        return OutboxItem(
            int(row[0]), row[1], Path(row[2]), int(row[3]), parse_signed(bytes(row[4])), row[5]
        )

    def set_upload_id(self, sequence: int, upload_id: str) -> None:
        with self.lock:
            self.db.execute(
                "UPDATE outbox SET upload_id = ? WHERE sequence = ?", (upload_id, sequence)
            )

    def done(self, sequence: int) -> None:
        with self.lock:
            self.db.execute("DELETE FROM outbox WHERE sequence = ?", (sequence,))

    def outbox_files(self) -> set[str]:
        with self.lock:
            return {str(r[0]) for r in self.db.execute("SELECT file FROM outbox")}

    def pending_count(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    # --- ring buffer -----------------------------------------------------------------------

    def ring_add(self, sealed: Sealed, processed_key: str | Sequence[str]) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT INTO ring VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sealed.recording_id,
                    sealed.kind.value,
                    sealed.start_ms,
                    sealed.end_ms,
                    str(sealed.file),
                    sealed.header_len,
                    sealed.payload_size,
                    sealed.header_sha256,
                    sealed.payload_sha256,
                ),
            )
            self._insert_processed(processed_key)

    def ring_items(self) -> list[Sealed]:
        with self.lock:
            rows = self.db.execute("SELECT * FROM ring ORDER BY start_ms, recording_id").fetchall()
        return [_ring_row(r) for r in rows]

    def ring_drop(self, recording_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM ring WHERE recording_id = ?", (recording_id,))

    def promote_ring(
        self, extra: list[Sealed], processed_key: str | Sequence[str] | None = None
    ) -> int:
        """Move every ring entry (oldest first), then ``extra``, into the outbox: one
        transaction. Returns how many ring entries were promoted."""
        with self._transaction():
            rows = self.db.execute("SELECT * FROM ring ORDER BY start_ms, recording_id").fetchall()
            ring = [_ring_row(r) for r in rows]
            for s in ring + extra:
                self._sign_and_insert(s)
            self.db.execute("DELETE FROM ring")
            if processed_key is not None:
                self._insert_processed(processed_key)
        return len(ring)

    # --- smart alerts --------------------------------------------------------------------

    def alert_add(self, alert_id: str, created_ms: int, payload: bytes) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?)", (alert_id, created_ms, payload)
            )

    def alert_next(self) -> tuple[str, int, bytes] | None:
        with self.lock:
            row = self.db.execute(
                "SELECT alert_id, created_ms, payload FROM alerts ORDER BY created_ms LIMIT 1"
            ).fetchone()
        return None if row is None else (row[0], int(row[1]), bytes(row[2]))

    def alert_done(self, alert_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM alerts WHERE alert_id = ?", (alert_id,))


def _ring_row(r: tuple[Any, ...]) -> Sealed:
    return Sealed(r[0], RecordingKind(r[1]), r[2], r[3], Path(r[4]), r[5], r[6], r[7], r[8])
