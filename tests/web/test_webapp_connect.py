"""``CAMVAULT_WEB_CONNECT_SRC``: the key custodians the web app may connect to, added to the
connect-src of its Content-Security-Policy by a real ``camvault serve storage``. Without the
setting the policy is unchanged; a bad value stops the start with one line. (That the browser
then reaches a listed custodian and not another origin: web/e2e/stage.test.mjs.)"""

from __future__ import annotations

import http.client
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_service.api.webapp import content_security_policy
from storage_service.core.settings import Settings
from tests.storage.support import CAMVAULT, Service, make_service

CUSTODIANS = ["https://c1.example.net", "http://127.0.0.1:8101", "https://[::1]:8443"]


def built(work: Path) -> Path:
    web = work / "dist"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>camvault</title>")
    return web


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    work = tmp_path_factory.mktemp("connect")
    # as an operator may write it: spaces, a default port, upper case, a duplicate
    value = " https://C1.example.net:443, http://127.0.0.1:8101 ,https://[::1]:8443,"
    value += "https://c1.example.net"
    svc = make_service(
        work, None, None, CAMVAULT_WEB_DIR=str(built(work)), CAMVAULT_WEB_CONNECT_SRC=value
    )
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


def connect_src(csp: str) -> list[str]:
    directive = next(d for d in csp.split("; ") if d.startswith("connect-src "))
    return directive.split()[1:]


def get(svc: Service, path: str) -> http.client.HTTPResponse:
    host, port = svc.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


@pytest.mark.parametrize("path", ["/app/", "/app/index.html", "/app/missing.js", "/app"])
def test_the_policy_lists_the_custodians(served: Service, path: str) -> None:
    resp = get(served, path)
    assert resp.status in (200, 308, 404)
    csp = resp.headers["Content-Security-Policy"]
    assert connect_src(csp) == ["'self'", served.url, *CUSTODIANS]
    # only connect-src grows: scripts, styles, frames stay this origin's or nobody's
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert not any(c in csp.replace(directives["connect-src"], "") for c in CUSTODIANS)


def test_without_the_setting_nothing_changes() -> None:
    assert connect_src(content_security_policy(Settings())) == ["'self'", "http://127.0.0.1:8000"]
    listed = Settings(web_connect_src="https://c1.example.net")
    assert connect_src(content_security_policy(listed)) == [
        "'self'",
        "http://127.0.0.1:8000",
        "https://c1.example.net",
    ]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("https://c1.example.net/", "no path"),
        ("https://c1.example.net/v1", "no path"),
        ("c1.example.net", "not an http(s) origin"),
        ("wss://c1.example.net", "not an http(s) origin"),
        ("*", "'*' is not allowed"),
        ("https://c1.example.net 'unsafe-eval'", "not an origin"),  # no smuggled source
        ("https://c1.example.net;script-src *", "not an origin"),  # no smuggled directive
        ("https://c1.example.net?x=1", "no path, query, user"),
        ("https://c1.example.net:0x50", "not an origin"),
    ],
)
def test_bad_value_stops_the_start_with_one_line(tmp_path: Path, value: str, why: str) -> None:
    svc = make_service(
        tmp_path, None, None, CAMVAULT_WEB_DIR=str(built(tmp_path)), CAMVAULT_WEB_CONNECT_SRC=value
    )
    proc = subprocess.run(
        [str(CAMVAULT), "serve", "storage", "--port", "1"],
        env={**os.environ, **svc.env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("camvault: error: CAMVAULT_WEB_CONNECT_SRC: "), proc.stderr
    assert why in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") <= 1 and "Traceback" not in proc.stderr
