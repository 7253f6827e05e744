"""Retrieval and deletion of committed recordings.

Listing is newest first (``start_ms`` then row id, descending) with an opaque keyset cursor,
and includes tombstones (deleted recordings keep seq + manifest) so that a client verifying a
camera's manifest chain (crypto.statements.verify_chain) sees which links the customer
deleted. Exports stream ``header || payload`` from the object store: a standard age file.
"""

from __future__ import annotations

import base64
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from common.time import now_ms
from storage_service.blobstore import BlobStore
from storage_service.core.cursor import Keyset
from storage_service.core.errors import ApiError, Reason
from storage_service.core.settings import Settings
from storage_service.core.statements import statement_json
from storage_service.db.engine import session_scope
from storage_service.db.models import Recording
from storage_service.schemas.recordings import RecordingDetail, RecordingOut, RecordingPage
from storage_service.services.deletion import shred
from storage_service.services.headers import decode_header
from storage_service.services.sites import get_site

STREAM_CHUNK = 1024 * 1024
TAR_BLOCK = 512


@dataclass(frozen=True, slots=True)
class Query:
    site_id: str
    camera_id: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    include_deleted: bool = True


def recording_out(r: Recording) -> RecordingOut:
    return RecordingOut(**_fields(r))


def _fields(r: Recording) -> dict[str, Any]:
    return {
        "camera_id": r.camera_id,
        "recording_id": r.recording_id,
        "kind": r.kind,
        "start_ms": r.start_ms,
        "end_ms": r.end_ms,
        "payload_size": r.payload_size,
        "payload_sha256": r.payload_sha256.hex(),
        "sequence": r.sequence,
        "manifest_sha256": r.manifest_sha256.hex(),
        "manifest": statement_json(r.manifest),
        "status": "deleted" if r.deleted_ms is not None else "committed",
        "committed_ms": r.committed_ms,
        "deleted_ms": r.deleted_ms,
        "deleted_reason": r.deleted_reason,
    }


#: Newest first by ``start_ms`` then row id.
KEYSET: Keyset[Recording] = Keyset(Recording, "start_ms", "id")


def where(q: Query) -> Any:
    conds = [col(Recording.site_id) == q.site_id]
    if q.camera_id is not None:
        conds.append(col(Recording.camera_id) == q.camera_id)
    if q.from_ms is not None:
        conds.append(col(Recording.start_ms) >= q.from_ms)
    if q.to_ms is not None:
        conds.append(col(Recording.start_ms) < q.to_ms)
    if not q.include_deleted:
        conds.append(col(Recording.deleted_ms).is_(None))
    return sa.and_(*conds)


def _page(s: Session, cond: Any, after: tuple[int, Any] | None, limit: int) -> list[Recording]:
    return list(s.exec(KEYSET.select(select(Recording).where(cond), after).limit(limit)).all())


def list_recordings(
    engine: Engine,
    q: Query,
    limit: int,
    cursor: str | None,
    narrow: Callable[[Session], Any] | None = None,
) -> RecordingPage:
    """One page of the site's recordings matching ``q``, newest first. ``narrow`` adds a
    condition computed in the same session (what an operator's justification covers)."""
    if q.from_ms is not None and q.to_ms is not None and q.to_ms < q.from_ms:
        raise ApiError(Reason.INVALID_RANGE, "to_ms is before from_ms")
    after = KEYSET.decode(cursor) if cursor else None
    with Session(engine) as s:
        get_site(s, q.site_id)
        cond = where(q) if narrow is None else sa.and_(where(q), narrow(s))
        rows, next_cursor = KEYSET.page(_page(s, cond, after, limit + 1), limit)
    return RecordingPage(items=[recording_out(r) for r in rows], next_cursor=next_cursor)


def get_recording(s: Session, site_id: str, camera_id: str, recording_id: str) -> Recording:
    r = s.exec(
        select(Recording).where(
            col(Recording.site_id) == site_id,
            col(Recording.camera_id) == camera_id,
            col(Recording.recording_id) == recording_id,
        )
    ).first()
    if r is None:
        raise ApiError(Reason.RECORDING_NOT_FOUND, "no such recording")
    return r


def detail(
    engine: Engine,
    store: BlobStore,
    settings: Settings,
    site_id: str,
    camera_id: str,
    recording_id: str,
) -> RecordingDetail:
    with Session(engine) as s:
        r = get_recording(s, site_id, camera_id, recording_id)
    return detail_out(r, store, settings)


def detail_out(r: Recording, store: BlobStore, settings: Settings) -> RecordingDetail:
    """A recording's metadata, manifest, age header and presigned GET (no header nor URL once
    deleted)."""
    url = expires = None
    if r.header is not None:
        url = store.presign_get(r.object_key)
        expires = now_ms() + settings.presign_expiry_s * 1000
    return RecordingDetail(
        **_fields(r),
        header=base64.b64encode(r.header).decode("ascii") if r.header is not None else None,
        download_url=url,
        download_expires_ms=expires,
    )


def _live(engine: Engine, site_id: str, camera_id: str, recording_id: str) -> Recording:
    with Session(engine) as s:
        r = get_recording(s, site_id, camera_id, recording_id)
    if r.header is None:
        raise ApiError(Reason.RECORDING_DELETED, "this recording was deleted")
    return r


def _payload(store: BlobStore, r: Recording) -> Iterator[bytes]:
    with store.get(r.object_key) as reader:
        yield from reader.iter_chunks(STREAM_CHUNK)


def export(
    engine: Engine, store: BlobStore, site_id: str, camera_id: str, recording_id: str
) -> tuple[int, Iterator[bytes]]:
    """(length, chunks) of the age file ``header || payload``; the object is opened before
    returning, so a missing object is an error response and not a truncated stream."""
    r = _live(engine, site_id, camera_id, recording_id)
    header = r.header or b""
    reader = store.get(r.object_key)

    def chunks() -> Iterator[bytes]:
        with reader:
            yield header
            yield from reader.iter_chunks(STREAM_CHUNK)

    return len(header) + reader.size, chunks()


def _tar_header(name: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o644
    return info.tobuf(format=tarfile.PAX_FORMAT)


def _pad(size: int) -> bytes:
    return b"\0" * (-size % TAR_BLOCK)


def export_tar(engine: Engine, store: BlobStore, settings: Settings, q: Query) -> Iterator[bytes]:
    """A tar stream (POSIX pax) of ``<camera>/<recording>.age`` and its signed manifest
    ``<camera>/<recording>.manifest.json``, newest first, for the live recordings of ``q``."""
    with Session(engine) as s:
        get_site(s, q.site_id)
    live = Query(q.site_id, q.camera_id, q.from_ms, q.to_ms, include_deleted=False)

    def chunks() -> Iterator[bytes]:
        after: tuple[int, int] | None = None
        sent = 0
        while sent < settings.tar_max_recordings:
            with Session(engine) as s:
                rows = _page(s, where(live), after, min(100, settings.tar_max_recordings - sent))
            if not rows:
                break
            for r in rows:
                if r.header is None:
                    continue
                base = f"{r.camera_id}/{r.recording_id}"
                mtime = r.start_ms // 1000
                yield _tar_header(base + ".manifest.json", len(r.manifest), mtime)
                yield r.manifest + _pad(len(r.manifest))
                size = len(r.header) + r.payload_size
                yield _tar_header(base + ".age", size, mtime)
                yield r.header
                yield from _payload(store, r)
                yield _pad(size)
                sent += 1
            last = rows[-1]
            after = (last.start_ms, last.id or 0)
        yield b"\0" * (2 * TAR_BLOCK)

    return chunks()


def replace_header(
    engine: Engine,
    store: BlobStore,
    settings: Settings,
    site_id: str,
    camera_id: str,
    recording_id: str,
    header_b64: str,
) -> RecordingDetail:
    """Store a header re-wrapped by the customer (e.g. for a new customer device).

    The service cannot check its MAC (that needs the file key); the request is signed by the
    pinned customer key, and the customer's client accepts a header whose hash differs from
    the manifest's only if its MAC verifies under the file key that decrypts the signed
    payload (DESIGN "Signed statements", Manifest).
    """
    header = decode_header(header_b64, settings.max_header_bytes)
    with session_scope(engine) as s:
        r = get_recording(s, site_id, camera_id, recording_id)
        # One conditional UPDATE, not read-then-write: under READ COMMITTED a delete that
        # commits between the read and the write would otherwise get its header back (the
        # crypto-shred undone). The row lock makes this UPDATE wait for such a delete and then
        # re-check the condition.
        written = s.execute(
            sa.update(Recording)
            .where(
                col(Recording.id) == r.id,
                col(Recording.deleted_ms).is_(None),
                col(Recording.header).is_not(None),
            )
            .values(header=header)
        )
        if written.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(Reason.RECORDING_DELETED, "this recording was deleted")
    return detail(engine, store, settings, site_id, camera_id, recording_id)


def delete_one(engine: Engine, site_id: str, camera_id: str, recording_id: str) -> int:
    with Session(engine) as s:
        r = get_recording(s, site_id, camera_id, recording_id)
    return shred(engine, col(Recording.id) == r.id, now_ms(), "customer")


def delete_range(engine: Engine, q: Query) -> int:
    with Session(engine) as s:
        get_site(s, q.site_id)
    return shred(engine, where(q), now_ms(), "customer")
