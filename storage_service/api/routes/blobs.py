"""``/blobs/<key>``: the local store's presigned URLs, served by the API (embedded mode).

With ``CAMVAULT_BLOBSTORE=local`` the presigned URLs the API hands out point here
(``<public_url>/blobs/...``); each request is checked with
:meth:`LocalBlobStore.verify_presigned` (method, key, expiry, part, HMAC) before anything is
read or written, and a PUT is accepted only while the upload it belongs to is open (not
committed, expired or dropped). Bodies are streamed into the store from a worker thread; nothing is
buffered in memory. With the S3 store these routes answer 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs

import anyio
import anyio.from_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common.time import now_ms
from storage_service.blobstore import (
    BlobStoreError,
    InvalidKey,
    InvalidMultipart,
    InvalidRange,
    LocalBlobStore,
    ObjectNotFound,
    PresignedGrant,
    PresignedURLRefused,
    UploadNotFound,
)
from storage_service.core.errors import ApiError, Reason
from storage_service.db.models import Upload

router = APIRouter(include_in_schema=False)
_RANGE = re.compile(r"bytes=([0-9]{1,19})-([0-9]{0,19})")


def _local(request: Request) -> LocalBlobStore:
    store = request.app.state.store
    if not isinstance(store, LocalBlobStore):
        raise ApiError(Reason.NOT_FOUND, "no local object store here")
    return store


def _grant(request: Request, store: LocalBlobStore, method: str, key: str) -> PresignedGrant:
    try:
        query = parse_qs(
            request.scope.get("query_string", b"").decode("latin-1"),
            keep_blank_values=True,
            errors="strict",
        )
        return store.verify_presigned(method, key, query)
    except (PresignedURLRefused, UnicodeDecodeError) as exc:
        reason = exc.reason if isinstance(exc, PresignedURLRefused) else "malformed"
        raise ApiError(Reason.PRESIGNED_URL_REFUSED, f"presigned URL refused ({reason})") from None


def _store_error(exc: BlobStoreError) -> ApiError:
    if isinstance(exc, ObjectNotFound | UploadNotFound):
        return ApiError(Reason.NOT_FOUND, str(exc))
    if isinstance(exc, InvalidKey | InvalidMultipart | InvalidRange):
        return ApiError(Reason.VALIDATION_ERROR, str(exc))
    raise exc


class _AsyncBody:
    """A blocking file-like over the request's async body, for a worker thread."""

    def __init__(self, request: Request, limit: int) -> None:
        self._chunks = request.stream().__aiter__()
        self._buf = bytearray()
        self._done = False
        self._left = limit

    async def _next(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return b""

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n < 0 or len(self._buf) < n):
            chunk = anyio.from_thread.run(self._next)
            if not chunk:
                self._done = True
                break
            self._left -= len(chunk)
            if self._left < 0:
                raise ApiError(Reason.RECORDING_TOO_LARGE, "object larger than allowed")
            self._buf += chunk
        take = len(self._buf) if n < 0 else min(n, len(self._buf))
        out = bytes(self._buf[:take])
        del self._buf[:take]
        return out


def _upload_open(engine: Engine, key: str) -> bool:
    with Session(engine) as s:
        row = s.exec(
            select(Upload.id).where(
                col(Upload.object_key) == key, col(Upload.expires_ms) > now_ms()
            )
        ).first()
    return row is not None


@router.put("/blobs/{key:path}")
async def put_blob(key: str, request: Request) -> Response:
    store = _local(request)
    grant = _grant(request, store, "PUT", key)
    # Uploads are the only writes through presigned URLs: once the upload is committed,
    # expired or dropped, its URLs write nothing more (the recording has its own copy anyway,
    # see services/uploads.py; this keeps orphan objects out of the store).
    if not await run_in_threadpool(_upload_open, request.app.state.engine, grant.key):
        raise ApiError(Reason.PRESIGNED_URL_REFUSED, "presigned URL refused (no open upload)")
    body = _AsyncBody(request, request.app.state.settings.max_recording_bytes)
    try:
        if grant.upload_id is not None and grant.part_number is not None:
            upload_id, part = grant.upload_id, grant.part_number
            etag = await anyio.to_thread.run_sync(
                lambda: store.upload_part_stream(grant.key, upload_id, part, body)
            )
        else:
            etag = (await anyio.to_thread.run_sync(lambda: store.put(grant.key, body))).etag
    except BlobStoreError as exc:
        raise _store_error(exc) from None
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


@router.api_route("/blobs/{key:path}", methods=["GET", "HEAD"])
async def get_blob(key: str, request: Request) -> Response:
    store = _local(request)
    grant = _grant(request, store, request.method, key)
    try:
        info = await run_in_threadpool(store.head, grant.key)
        offset, length, status = 0, None, 200
        header = request.headers.get("range")
        if header:
            m = _RANGE.fullmatch(header.strip())
            if m is None:
                raise InvalidRange("unsupported Range")
            offset = int(m.group(1))
            if m.group(2):
                length = int(m.group(2)) - offset + 1
                if length <= 0:
                    raise InvalidRange("unsupported Range")
            if offset >= info.size:
                raise InvalidRange("range starts beyond the end")
            status = 206
        reader = await run_in_threadpool(lambda: store.get(grant.key, offset=offset, length=length))
    except BlobStoreError as exc:
        raise _store_error(exc) from None
    headers = {"Content-Length": str(reader.size), "ETag": f'"{info.etag}"'}
    if status == 206:
        headers["Content-Range"] = f"bytes {offset}-{offset + reader.size - 1}/{info.size}"
    if request.method == "HEAD":
        reader.close()
        return Response(status_code=status, headers=headers, media_type="application/octet-stream")

    def chunks() -> Iterator[bytes]:
        with reader:
            yield from reader.iter_chunks()

    return StreamingResponse(
        chunks(), status_code=status, headers=headers, media_type="application/octet-stream"
    )
