"""The web app served by a real ``camvault serve storage`` at /app/: security headers on every
answer, caching by file kind, and path traversal tried every way and refused as 404."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_service.api.webapp import content_security_policy
from storage_service.core.settings import Settings
from tests.storage.support import CAMVAULT, Service, make_service

JS = "assets/index-AbCd_123.js"
SECRET = b"outside the web dir"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path]]:
    work = tmp_path_factory.mktemp("webapp")
    web = work / "dist"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>camvault</title>")
    (web / JS).write_text("console.log('app')")
    (web / "robots.txt").write_text("User-agent: *\n")
    (work / "secret.txt").write_bytes(SECRET)
    (web / "assets" / "leak-AbCd_1234.txt").symlink_to(work / "secret.txt")
    (web / "up").symlink_to(work)
    svc = make_service(work, None, None, CAMVAULT_WEB_DIR=str(web))
    svc.start()
    try:
        yield svc, web
    finally:
        svc.stop()


def raw_get(svc: Service, path: str, method: str = "GET") -> http.client.HTTPResponse:
    """``path`` sent exactly as written (http.client does not normalize dot segments)."""
    host, port = svc.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request(method, path)
    resp = conn.getresponse()
    resp.body = resp.read()  # type: ignore[attr-defined]
    conn.close()
    return resp


def assert_security_headers(resp: http.client.HTTPResponse, svc: Service) -> None:
    csp = resp.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == f"'self' {svc.url}"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'none'"
    assert "unsafe" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in resp.headers["Permissions-Policy"]


def test_index_and_assets(served: tuple[Service, Path]) -> None:
    svc, web = served
    index = raw_get(svc, "/app/")
    assert index.status == 200
    assert index.body == (web / "index.html").read_bytes()  # type: ignore[attr-defined]
    assert index.headers["Content-Type"] == "text/html; charset=utf-8"
    assert index.headers["Cache-Control"] == "no-cache"
    assert_security_headers(index, svc)

    js = raw_get(svc, "/app/" + JS)
    assert js.status == 200
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert js.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert_security_headers(js, svc)

    # an unhashed file is revalidated, never cached for a year
    assert raw_get(svc, "/app/robots.txt").headers["Cache-Control"] == "no-cache"
    assert raw_get(svc, "/app/index.html").headers["Cache-Control"] == "no-cache"
    head = raw_get(svc, "/app/", "HEAD")
    assert head.status == 200 and head.body == b""  # type: ignore[attr-defined]

    redirect = raw_get(svc, "/app")
    assert redirect.status == 308 and redirect.headers["Location"] == "/app/"


@pytest.mark.parametrize(
    "path",
    [
        "/app/../secret.txt",
        "/app/assets/../../secret.txt",
        "/app/%2e%2e/secret.txt",
        "/app/%2E%2E%2Fsecret.txt",
        "/app/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/app/..%5csecret.txt",
        "/app/%5c..%5csecret.txt",
        "/app/./index.html",
        "/app//etc/passwd",
        "/app/%2fetc%2fpasswd",
        "/app/index.html%00.js",
        "/app/assets/leak-AbCd_1234.txt",  # a symlink to a file outside
        "/app/up/secret.txt",  # a symlink to a directory outside
        "/app/assets",  # a directory
        "/app/assets/",
        "/app/no-such-file.js",
    ],
)
def test_outside_or_unknown_is_404(served: tuple[Service, Path], path: str) -> None:
    svc, _ = served
    resp = raw_get(svc, path)
    body: bytes = resp.body  # type: ignore[attr-defined]
    assert resp.status == 404, (path, body)
    assert SECRET not in body
    assert json.loads(body)["error"]["code"] == "not_found"


def test_not_found_answers_carry_the_headers(served: tuple[Service, Path]) -> None:
    svc, _ = served
    resp = raw_get(svc, "/app/../secret.txt")
    assert resp.headers["Content-Type"] == "application/json"
    assert_security_headers(resp, svc)


def test_no_web_dir_means_no_app(tmp_path: Path) -> None:
    svc = make_service(tmp_path, None, None)
    svc.start()
    try:
        for path in ("/app/", "/app", "/app/index.html"):
            resp = raw_get(svc, path)
            assert resp.status == 404, path
            assert json.loads(resp.body)["error"]["code"] == "not_found"  # type: ignore[attr-defined]
    finally:
        svc.stop()


@pytest.mark.parametrize(
    ("env", "origins"),
    [
        ({"blobstore": "s3", "s3_endpoint": "http://minio:9000"}, ["http://minio:9000"]),
        (
            {
                "blobstore": "s3",
                "s3_endpoint": "http://minio:9000",
                "s3_public_endpoint": "https://s3.example.net:8443/base",
            },
            ["https://s3.example.net:8443"],
        ),
        (
            {"blobstore": "s3", "s3_region": "eu-west-3", "s3_bucket": "cv"},
            ["https://s3.eu-west-3.amazonaws.com", "https://cv.s3.eu-west-3.amazonaws.com"],
        ),
        ({"public_url": "https://vault.example.com/"}, ["https://vault.example.com"]),
    ],
)
def test_connect_src_names_the_presign_origin(env: dict[str, str], origins: list[str]) -> None:
    csp = content_security_policy(Settings(**env))  # type: ignore[arg-type]
    connect = next(d for d in csp.split("; ") if d.startswith("connect-src "))
    assert connect.split()[1:] == ["'self'", *origins]


@pytest.mark.parametrize(
    ("web_dir", "message"),
    [
        ("missing", "CAMVAULT_WEB_DIR: Path does not point to a directory"),
        ("empty", "CAMVAULT_WEB_DIR: no index.html in"),
    ],
)
def test_bad_web_dir_stops_the_start_with_one_line(
    tmp_path: Path, web_dir: str, message: str
) -> None:
    (tmp_path / "empty").mkdir()
    svc = make_service(tmp_path, None, None, CAMVAULT_WEB_DIR=str(tmp_path / web_dir))
    proc = subprocess.run(
        [str(CAMVAULT), "serve", "storage", "--port", "1"],
        env={**os.environ, **svc.env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"camvault: error: {message}"), proc.stderr
    assert proc.stderr.count("\n") <= 1 and "Traceback" not in proc.stderr
