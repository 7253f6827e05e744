"""``CAMVAULT_WEB_CONNECT_SRC``: the key custodians the web app may connect to, added to the
connect-src of its Content-Security-Policy by a real ``camvault serve storage`` (and by
``camvault dev up``, which also gives the custodians their CORS setting). Without the
setting the policy is unchanged; a bad value stops the start with one line. (That the browser
then reaches a listed custodian and not another origin: web/e2e/stage.test.mjs.)"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage_service.api.webapp import content_security_policy
from storage_service.core.settings import Settings
from tests.storage.support import CAMVAULT, Service, make_service
from tests.support.services import free_port, free_port_run

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


# --- `camvault dev up` serves a built web app with both settings -----------------------------


def test_dev_up_serves_the_web_app_to_its_custodians(tmp_path: Path) -> None:
    storage_port = free_port()
    c1 = free_port_run(3, avoid=[storage_port])
    root = tmp_path / "site"
    args = ["dev", "up", "--dir", str(root), "--storage-port", str(storage_port)]
    proc = subprocess.Popen(
        [str(CAMVAULT), *args, "--custodian-port", str(c1)],
        cwd=tmp_path,
        env={**os.environ, "CAMVAULT_WEB_DIR": str(built(tmp_path)), "COLUMNS": "250"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    storage = f"http://127.0.0.1:{storage_port}"
    custodians = [f"http://127.0.0.1:{c1 + i}" for i in range(3)]
    try:
        assert proc.stdout is not None
        shown: list[str] = []
        while not shown or "ready; Ctrl-C" not in shown[-1]:
            line = proc.stdout.readline()
            assert line, "".join(shown)
            shown.append(line)
        assert any(f"web app  {storage}/app/" in line for line in shown), "".join(shown)
        assert json.loads((root / "dev.json").read_text())["web_app"] == f"{storage}/app/"
        page = httpx.get(f"{storage}/app/", timeout=10)
        assert page.status_code == 200
        assert connect_src(page.headers["content-security-policy"]) == [
            "'self'",
            storage,
            *custodians,
        ]
        for url in custodians:
            pre = httpx.options(
                url + "/v1/releases",
                headers={
                    "Origin": storage,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,signature,signature-input",
                },
                timeout=10,
            )
            assert pre.status_code == 200, pre.text
            assert pre.headers["access-control-allow-origin"] == storage
            other = httpx.get(url + "/v1/custodian", headers={"Origin": "https://x.example"})
            assert "access-control-allow-origin" not in other.headers
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest


def test_dev_up_refuses_a_web_dir_without_a_build(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = subprocess.run(
        [str(CAMVAULT), "dev", "up", "--dir", str(tmp_path / "site")],
        env={**os.environ, "CAMVAULT_WEB_DIR": str(tmp_path / "empty")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("camvault: error: CAMVAULT_WEB_DIR: no index.html in ")
    assert done.stderr.count("\n") <= 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "site" / "logs").exists()  # nothing started
