"""Presigned object-store transfers over the standard library's ``http.client``: the bulk
bytes of a download are read straight from the socket into the caller's buffer, and a part
upload over plain HTTP is sent by the kernel from the file (``os.sendfile``).

Why not httpx, which the clients use for everything else: reading a 256 MiB object through
httpx's streaming response (h11 events, 64 KiB reads re-chunked, two copies) took 0.43 s of
CPU on the project's machine, ``http.client``'s ``readinto`` 0.07 s (docs/PERFORMANCE.md,
"Transfer"); on two cores shared with the object store that CPU is the download's speed.

Only for what httpx would send directly: a URL with a proxy configured in the environment
(``HTTP_PROXY``/``HTTPS_PROXY``, not excluded by ``NO_PROXY``) is left to httpx
(:func:`applies`), and so is every URL when ``CAMVAULT_TRANSFER_HTTPX=1``. TLS trusts what
httpx trusts (``common.http.tls_context``: certifi's CAs, or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR``). Network failures are raised as ``httpx.TransportError`` so that callers
handle one family of errors.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import select
import ssl
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from common.http import tls_context

#: Bytes sent per call when the kernel cannot send from the file (TLS).
_SEND_CHUNK = 1 << 20


def applies(url: str) -> bool:
    """Whether ``url`` is sent directly (http or https, and no proxy applies to it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if os.environ.get("CAMVAULT_TRANSFER_HTTPX") == "1":  # the escape hatch (and the A/B)
        return False
    proxies = urllib.request.getproxies_environment()
    if parts.scheme not in proxies and "all" not in proxies:
        return True
    bypass = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 (untyped)
    return bool(bypass(parts.hostname, proxies))


def _connect(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        return http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=tls_context()
        ), target
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout), target


@contextlib.contextmanager
def _network(what: str) -> Iterator[None]:
    try:
        yield
    except (OSError, http.client.HTTPException) as exc:
        raise httpx.NetworkError(f"{what}: {type(exc).__name__}: {exc}") from exc


class Response:
    """What the callers look at: the status, the headers and (for a refusal) the body."""

    def __init__(self, resp: http.client.HTTPResponse, body: bytes) -> None:
        self.status_code = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}
        self.text = body.decode(errors="replace")


class Download(io.RawIOBase):
    """The body of a GET, read as it arrives straight into the caller's buffer."""

    def __init__(self, resp: http.client.HTTPResponse) -> None:
        super().__init__()
        self._resp = resp

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with _network("download"):
            n = self._resp.readinto(memoryview(buffer).cast("B"))
        if n == 0 and self._resp.length:  # the connection closed before Content-Length
            raise httpx.RemoteProtocolError(f"download ended {self._resp.length} bytes early")
        return n


@contextlib.contextmanager
def get(url: str, timeout: float) -> Iterator[tuple[Response, Download]]:
    """A GET: its answer and its body as a stream (read the body only on a 200)."""
    conn, target = _connect(url, timeout)
    try:
        with _network("GET"):
            conn.request("GET", target)
            resp = conn.getresponse()
        body = b"" if resp.status == 200 else resp.read(64 * 1024)
        with Download(resp) as stream:
            yield Response(resp, body), stream
    finally:
        conn.close()


def put_range(
    url: str, fd: int, offset: int, length: int, headers: dict[str, str], timeout: float
) -> Response:
    """A PUT whose body is ``length`` bytes of the open file ``fd`` from ``offset``: sent by
    the kernel (``os.sendfile``) over plain HTTP, read and sent 1 MiB at a time over TLS."""
    conn, target = _connect(url, timeout)
    try:
        with _network("PUT"):
            conn.putrequest("PUT", target, skip_accept_encoding=True)
            for k, v in {**headers, "content-length": str(length)}.items():
                conn.putheader(k, v)
            conn.endheaders()
            sock = conn.sock
            assert sock is not None
            end = offset + length
            while offset < end:
                if isinstance(sock, ssl.SSLSocket):
                    data = os.pread(fd, min(_SEND_CHUNK, end - offset), offset)
                    sock.sendall(data)
                    sent = len(data)
                else:
                    try:
                        sent = os.sendfile(sock.fileno(), fd, offset, end - offset)
                    except BlockingIOError:  # a socket with a timeout is non-blocking
                        if not select.select([], [sock], [], timeout)[1]:
                            raise TimeoutError("PUT: the store accepts no more bytes") from None
                        continue
                if sent == 0:
                    raise httpx.LocalProtocolError(f"the file ends {end - offset} bytes early")
                offset += sent
            resp = conn.getresponse()
            return Response(resp, resp.read(64 * 1024))
    finally:
        conn.close()
