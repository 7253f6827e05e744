"""clients/api/direct.py, the presigned transfers over http.client, against a local HTTP
server that answers what a real or a broken store would: the body comes through whole, a
body cut short or a refused request is an error (never a short file taken as whole), a
part is sent from its byte range of the file, and a proxy in the environment sends the
transfer through httpx (which honours it) instead."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from clients.api import direct
from clients.api.errors import ServiceRefused
from clients.api.storage import PayloadStream, open_download, put_part

BODY = os.urandom(3 * 1024 * 1024 + 17)


class _Handler(http.server.BaseHTTPRequestHandler):
    received: ClassVar[dict[str, bytes]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/missing"):
            self.send_response(404)
            self.send_header("content-length", "9")
            self.end_headers()
            self.wfile.write(b"NoSuchKey")
            return
        cut = self.path.startswith("/short")
        self.send_response(200)
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY[: len(BODY) // 2] if cut else BODY)
        if cut:
            self.close_connection = True

    def do_PUT(self) -> None:
        n = int(self.headers["content-length"])
        data = self.rfile.read(n)
        self.received[self.path] = data
        if self.headers.get("x-amz-checksum-sha256") == "refuse":
            self.send_response(400)
            self.send_header("content-length", "11")
            self.end_headers()
            self.wfile.write(b"BadDigest!!")
            return
        self.send_response(200)
        self.send_header("etag", f'"e-{len(data)}"')
        self.send_header("content-length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _read_all(url: str) -> tuple[bytes, str]:
    out = bytearray()
    buf = memoryview(bytearray(1 << 20))
    with open_download(url, timeout=10) as stream:
        while n := stream.readinto(buf):
            out += buf[:n]
    return bytes(out), type(stream).__name__


def test_download_whole_cut_short_or_refused(server: str) -> None:
    assert _read_all(server + "/obj?X-Amz-Signature=x") == (BODY, "Download")
    with pytest.raises(httpx.TransportError):
        _read_all(server + "/short")
    with pytest.raises(ServiceRefused) as info:
        _read_all(server + "/missing")
    assert info.value.status == 404 and info.value.code == "download_failed"


def test_part_is_sent_from_its_byte_range(server: str, tmp_path: Path) -> None:
    path = tmp_path / "sealed.age"
    path.write_bytes(BODY)
    fd = os.open(path, os.O_RDONLY)
    try:
        with httpx.Client(timeout=10) as client:
            url = server + "/p?partNumber=2"
            etag, sha = put_part(client, url, fd, 1000, 2_000_000, checksum=False)
        assert (etag, sha) == ('"e-2000000"', None)
        assert _Handler.received["/p?partNumber=2"] == BODY[1000:2_001_000]
    finally:
        os.close(fd)


def test_a_store_refusal_is_service_refused(server: str, tmp_path: Path) -> None:
    path = tmp_path / "sealed.age"
    path.write_bytes(BODY)
    fd = os.open(path, os.O_RDONLY)
    try:
        url = server + "/refuse"
        resp = direct.put_range(url, fd, 0, 100, {"x-amz-checksum-sha256": "refuse"}, 10)
        assert resp.status_code == 400 and resp.text == "BadDigest!!"
    finally:
        os.close(fd)


def test_a_file_shorter_than_the_part_is_an_error(server: str, tmp_path: Path) -> None:
    path = tmp_path / "short.age"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(httpx.TransportError):
            direct.put_range(server + "/p", fd, 0, 1000, {}, 10)
    finally:
        os.close(fd)


def test_a_proxy_in_the_environment_goes_through_httpx(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert direct.applies("http://127.0.0.1:9000/b/k") and direct.applies("https://s3.example/k")
    assert not direct.applies("ftp://example/k")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    assert not direct.applies("http://store.example/b/k")
    monkeypatch.setenv("NO_PROXY", "store.example")
    assert direct.applies("http://store.example/b/k")
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY")
    assert not direct.applies("http://store.example/b/k")
    monkeypatch.delenv("ALL_PROXY")
    # through httpx, the same bytes (the proxy here is none: the server itself is asked)
    monkeypatch.setattr(direct, "applies", lambda url: False)
    assert _read_all(server + "/obj") == (BODY, PayloadStream.__name__)
