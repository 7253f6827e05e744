"""The background sweeper: expired uploads, retention, old nonces, then the deletion queue.

Every step is driven by database rows, so the sweeper can be killed at any point and simply
resumes on its next run (in-process task of each API worker, or ``camvault serve sweep``).
Running it in several processes at once is safe: deleting an object twice is harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from common.time import now_ms
from storage_service.blobstore import BlobStore
from storage_service.core.metrics import UPLOADS_EXPIRED
from storage_service.db.engine import session_scope
from storage_service.db.models import Recording, RequestNonce, SiteSettings, Upload
from storage_service.db.sqlite import purge_wal
from storage_service.services.deletion import drain_queue, enqueue, enqueue_recordings
from storage_service.services.telemetry import remove_expired as remove_expired_telemetry

log = logging.getLogger("camvault.storage.sweeper")
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class SweepReport:
    uploads_expired: int
    recordings_expired: int
    nonces_removed: int
    objects_deleted: int


def expire_uploads(engine: Engine, now: int) -> int:
    """Remove expired uploads and queue their objects.

    A commit may take the same upload concurrently (uploads.commit deletes the row in its
    transaction and requires that it existed). Each row is therefore removed with its own
    conditional DELETE and its object queued only when that DELETE removed it: a commit that
    took the row first wins (under PostgreSQL the DELETE waits for the commit's row lock and
    then finds nothing), and an object some recording points to is never queued.
    """
    expired = 0
    with session_scope(engine) as s:
        rows = s.exec(select(Upload).where(col(Upload.expires_ms) <= now).limit(1000)).all()
        for u in rows:
            taken = s.execute(
                sa.delete(Upload).where(col(Upload.id) == u.id, col(Upload.expires_ms) <= now)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue  # committed (or dropped) meanwhile
            expired += 1
            # Recordings committed before the payload copy (services/uploads.py) kept their
            # upload's key; such a key only ever belongs to that same recording id.
            referenced = s.exec(
                select(Recording.id).where(
                    col(Recording.site_id) == u.site_id,
                    col(Recording.camera_id) == u.camera_id,
                    col(Recording.recording_id) == u.recording_id,
                    col(Recording.object_key) == u.object_key,
                )
            ).first()
            if referenced is None:
                enqueue(s, u.object_key, u.multipart_upload_id, now)
    UPLOADS_EXPIRED.inc(expired)
    return expired


def apply_retention(engine: Engine, now: int) -> int:
    with Session(engine) as s:
        policies = s.exec(
            select(SiteSettings).where(col(SiteSettings.retention_days).is_not(None))
        ).all()
        todo = [(p.site_id, int(p.retention_days or 0)) for p in policies]
    total = 0
    for site_id, days in todo:
        with session_scope(engine) as s:
            total += enqueue_recordings(
                s,
                sa.and_(
                    col(Recording.site_id) == site_id,
                    col(Recording.end_ms) < now - days * DAY_MS,
                ),
                now,
                "retention",
            )
    return total


def remove_nonces(engine: Engine, now: int) -> int:
    with session_scope(engine) as s:
        result = s.execute(sa.delete(RequestNonce).where(col(RequestNonce.expires_ms) < now))
        return int(result.rowcount)  # type: ignore[attr-defined]


def sweep_once(engine: Engine, store: BlobStore) -> SweepReport:
    now = now_ms()
    report = SweepReport(
        uploads_expired=expire_uploads(engine, now),
        recordings_expired=apply_retention(engine, now),
        nonces_removed=remove_nonces(engine, now),
        objects_deleted=0,
    )
    remove_expired_telemetry(engine, now)
    if report.recordings_expired:
        purge_wal(engine)
    deleted = 0
    while True:
        n = drain_queue(engine, store, now=now)
        deleted += n
        if n == 0:
            break
    return SweepReport(
        report.uploads_expired, report.recordings_expired, report.nonces_removed, deleted
    )
