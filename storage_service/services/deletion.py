"""Crypto-shredding and the deletion queue.

Deleting a recording sets its ``header`` to NULL in the same transaction that marks it
deleted and queues its payload object: once that transaction commits, no file key of the
recording exists on the storage side (the header held its only wrapped copies), so the
payload is unreadable even from object-store versions or backups. The row stays as a
tombstone with its signed manifest (no secret in it) so the customer's chain check can tell
"deleted" from "missing".

The queue (table ``deletion_queue``) is drained by :func:`drain_queue` (the sweeper); it
lives in the database, so a crash between commit and object removal loses nothing. A row is
due from its ``enqueued_ms`` on: a row enqueued for later is an *intent* (:func:`intend`),
written before an object is created so that a crash before the row that keeps the object
is written cannot leave it in the store for ever; whoever keeps the object removes the
intent in the transaction that records it, while it is not yet due.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from common.time import now_ms
from storage_service.blobstore import BlobStore, BlobStoreError
from storage_service.core.metrics import OBJECTS_DELETED, RECORDINGS_DELETED
from storage_service.db.engine import session_scope
from storage_service.db.models import DeletionQueue, Recording
from storage_service.db.sqlite import purge_wal

log = logging.getLogger("camvault.storage.deletion")

MAX_ERROR_LEN = 500


def enqueue(s: Session, object_key: str, multipart_upload_id: str | None, now: int) -> None:
    s.add(
        DeletionQueue(
            object_key=object_key, multipart_upload_id=multipart_upload_id, enqueued_ms=now
        )
    )


#: How long an intent waits before the sweeper may act on it: far longer than any commit.
INTENT_GRACE_MS = 3_600_000


def intend(engine: Engine, object_key: str, now: int) -> int:
    """Queue ``object_key`` for removal in :data:`INTENT_GRACE_MS` (own transaction, before
    the object is written); returns the row id to :func:`take_intent` with."""
    row = DeletionQueue(
        object_key=object_key, multipart_upload_id=None, enqueued_ms=now + INTENT_GRACE_MS
    )
    with session_scope(engine) as s:
        s.add(row)
        s.flush()
        assert row.id is not None
        return row.id


def take_intent(s: Session, intent_id: int, now: int) -> bool:
    """Remove an intent that is not due yet (inside the transaction that keeps its object).
    False when it is gone or due: the sweeper may be removing the object."""
    taken = s.execute(
        sa.delete(DeletionQueue).where(
            col(DeletionQueue.id) == intent_id, col(DeletionQueue.enqueued_ms) > now
        )
    )
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def enqueue_recordings(s: Session, where: Any, now: int, reason: str = "site") -> int:
    """Shred every live recording matching ``where`` (inside the caller's transaction):
    queue its object, drop its header, mark it deleted. Returns how many."""
    live = sa.and_(where, col(Recording.deleted_ms).is_(None))
    s.execute(
        sa.insert(DeletionQueue).from_select(
            ["object_key", "multipart_upload_id", "enqueued_ms", "attempts"],
            sa.select(
                col(Recording.object_key),
                sa.null(),
                sa.literal(now, sa.BigInteger),
                sa.literal(0, sa.Integer),
            ).where(live),
        )
    )
    result = s.execute(
        sa.update(Recording).where(live).values(header=None, deleted_ms=now, deleted_reason=reason)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    RECORDINGS_DELETED.labels(reason=reason).inc(count)
    return count


def shred(engine: Engine, where: Any, now: int, reason: str) -> int:
    with session_scope(engine) as s:
        count = enqueue_recordings(s, where, now, reason)
    if count:
        purge_wal(engine)
    return count


def drain_queue(
    engine: Engine, store: BlobStore, *, batch: int = 200, now: int | None = None
) -> int:
    """Remove the queued objects due at ``now`` (default: the clock), and abort queued
    multipart uploads; returns how many rows were done. A failing object stays queued with
    its error and attempt count."""
    done = 0
    with Session(engine) as s:
        due = col(DeletionQueue.enqueued_ms) <= (now_ms() if now is None else now)
        query = select(DeletionQueue).where(due).order_by(col(DeletionQueue.id)).limit(batch)
        rows = s.exec(query).all()
        items = [(r.id, r.object_key, r.multipart_upload_id) for r in rows]
    for row_id, key, upload_id in items:
        # The row as it was read: a row a commit removed meanwhile (its staging object) can
        # have its id taken by a new row (SQLite reuses the largest rowid), e.g. a commit's
        # intent, which must not be touched.
        same_row = sa.and_(
            col(DeletionQueue.id) == row_id, col(DeletionQueue.object_key) == key, due
        )
        try:
            if upload_id is not None:
                store.abort_multipart(key, upload_id)
            store.delete(key)
        except BlobStoreError as exc:
            log.warning("deletion failed", extra={"object_key": key, "error": type(exc).__name__})
            with session_scope(engine) as s:
                s.execute(
                    sa.update(DeletionQueue)
                    .where(same_row)
                    .values(
                        attempts=col(DeletionQueue.attempts) + 1,
                        last_error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LEN],
                    )
                )
            continue
        with session_scope(engine) as s:
            s.execute(sa.delete(DeletionQueue).where(same_row))
        OBJECTS_DELETED.inc()
        done += 1
    return done
