"""A minimal HTTP server for the local store's presigned URLs (``/blobs/<key>?...``).

It does what the storage service's API will do for ``CAMVAULT_BLOBSTORE=local``: check the
URL with :meth:`LocalBlobStore.verify_presigned`, then stream the body into the store (PUT of
an object or of a multipart part; the response carries the ``ETag``) or stream the object out
(GET/HEAD, with a single ``Range: bytes=a-b``). Refusals are 403 with the reason. Used by the
blob-store contract tests, so that "a plain HTTP client uploads and downloads through
presigned URLs" is tested against a real socket for both stores, and usable by hand.

Not a production server: one thread per connection (``ThreadingHTTPServer``), no TLS, request
bodies need a ``Content-Length``.
"""

from __future__ import annotations

import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from storage_service.blobstore.base import (
    READ_CHUNK_SIZE,
    BlobStoreError,
    InvalidKey,
    InvalidMultipart,
    InvalidRange,
    ObjectNotFound,
    PresignedURLRefused,
    UploadNotFound,
)
from storage_service.blobstore.local import LocalBlobStore, PresignedGrant

PATH_PREFIX = "/blobs/"
_RANGE = re.compile(r"bytes=([0-9]{1,19})-([0-9]{0,19})")


class _Body:
    """Exactly ``length`` bytes of the request body; a short body is an error (so the store
    discards the write instead of storing a truncated object)."""

    def __init__(self, rfile: Any, length: int) -> None:
        self._rfile = rfile
        self._left = length

    def read(self, n: int = -1) -> bytes:
        if self._left == 0:
            return b""
        want = self._left if n < 0 else min(n, self._left)
        data: bytes = self._rfile.read(want)
        if not data:
            raise ConnectionError(f"request body ended {self._left} bytes early")
        self._left -= len(data)
        return data


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds of socket inactivity before a stalled client is dropped
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _fail(self, exc: BlobStoreError) -> None:
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        if isinstance(exc, PresignedURLRefused):
            status = HTTPStatus.FORBIDDEN
        elif isinstance(exc, ObjectNotFound | UploadNotFound):
            status = HTTPStatus.NOT_FOUND
        elif isinstance(exc, InvalidKey | InvalidMultipart):
            status = HTTPStatus.BAD_REQUEST
        elif isinstance(exc, InvalidRange):
            status = HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
        reason = f" ({exc.reason})" if isinstance(exc, PresignedURLRefused) else ""
        self._reply(status, f"{type(exc).__name__}{reason}: {exc}\n".encode())

    def _grant(self, method: str) -> PresignedGrant | None:
        url = urlsplit(self.path)
        if not url.path.startswith(PATH_PREFIX):
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n")
            return None
        try:
            key = unquote(url.path[len(PATH_PREFIX) :], errors="strict")
            query = parse_qs(url.query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            self._fail(PresignedURLRefused("malformed", "URL is not UTF-8"))
            return None
        try:
            return self.server.store.verify_presigned(method, key, query)
        except PresignedURLRefused as exc:
            self._fail(exc)
            return None

    def do_GET(self) -> None:
        grant = self._grant(self.command)
        if grant is None:
            return
        store = self.server.store
        try:
            info = store.head(grant.key)
            offset, length, status = 0, None, HTTPStatus.OK
            header = self.headers.get("Range")
            if header:
                m = _RANGE.fullmatch(header.strip())
                if m is None:
                    raise InvalidRange(f"unsupported Range {header!r}")
                offset = int(m.group(1))
                if m.group(2):
                    last = int(m.group(2))
                    if last < offset:
                        raise InvalidRange(f"unsupported Range {header!r}")
                    length = last - offset + 1
                if offset >= info.size:
                    raise InvalidRange("range starts beyond the end")
                status = HTTPStatus.PARTIAL_CONTENT
            reader = store.get(grant.key, offset=offset, length=length)
        except BlobStoreError as exc:
            self._fail(exc)
            return
        with reader:
            self.send_response(status)
            self.send_header("Content-Length", str(reader.size))
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("ETag", f'"{info.etag}"')
            if status == HTTPStatus.PARTIAL_CONTENT:
                end = offset + reader.size - 1
                self.send_header("Content-Range", f"bytes {offset}-{end}/{info.size}")
            self.end_headers()
            if self.command == "HEAD":
                return
            for chunk in reader.iter_chunks(READ_CHUNK_SIZE):
                self.wfile.write(chunk)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_PUT(self) -> None:
        grant = self._grant("PUT")
        if grant is None:
            self.close_connection = True  # the unread body must not be parsed as a request
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self.close_connection = True
            self._reply(HTTPStatus.LENGTH_REQUIRED, b"Content-Length required\n")
            return
        body = _Body(self.rfile, int(length_header))
        store = self.server.store
        try:
            if grant.upload_id is not None and grant.part_number is not None:
                etag = store.upload_part_stream(grant.key, grant.upload_id, grant.part_number, body)
            else:
                etag = store.put(grant.key, body).etag
        except BlobStoreError as exc:
            self.close_connection = True
            self._fail(exc)
            return
        except ConnectionError:
            self.close_connection = True
            return
        self._reply(HTTPStatus.OK, headers={"ETag": f'"{etag}"'})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: LocalBlobStore) -> None:
        super().__init__(address, _Handler)
        self.store = store


class LocalBlobHTTPServer:
    """Serve ``store``'s presigned URLs on ``host:port`` (port 0 = any free port) in a thread.

    ``base_url`` is what the store's ``presign_base_url`` must be for its URLs to reach this
    server; :meth:`start` sets it when the store has none.
    """

    def __init__(self, store: LocalBlobStore, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = store
        self._server = _Server((host, port), store)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{PATH_PREFIX.rstrip('/')}"

    def start(self) -> LocalBlobHTTPServer:
        if self.store.presign_base_url is None:
            self.store.presign_base_url = self.base_url
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-blob-http", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LocalBlobHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
