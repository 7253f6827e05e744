"""Both services are run the same way: /healthz, /readyz, /metrics (Prometheus), an access log
line per request with a request id (also returned as X-Request-Id), a listening line at
start, and /docs that works offline (no CDN). Real processes, their real log files."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.escrow.harness import CustodianProc
from tests.storage.support import Service, make_service


class Running:
    def __init__(self, name: str, url: str, log: Path) -> None:
        self.name, self.url, self.log = name, url, log

    def lines(self) -> list[dict[str, object]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


@pytest.fixture(scope="module", params=["storage", "custodian"])
def service(request: pytest.FixtureRequest) -> Iterator[Running]:
    workdir = Path(tempfile.mkdtemp(prefix="camvault-ops-"))
    try:
        if request.param == "storage":
            svc: Service = make_service(workdir, None, None)
            workdir.mkdir(exist_ok=True)
            svc.start()
            try:
                yield Running("storage", svc.url, svc.workdir / "service.log")
            finally:
                svc.stop()
        else:
            c = CustodianProc("c1", workdir, f"sqlite:///{workdir / 'c1' / 'escrow.db'}", {})
            c.start()
            try:
                yield Running("custodian", c.url, c.log_path)
            finally:
                c.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def logged(service: Running, request_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [e for e in service.lines() if e.get("request_id") == request_id]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"{service.name}: no access log line for {request_id}")


def test_health_and_readiness(service: Running) -> None:
    assert httpx.get(service.url + "/healthz").json()["status"] == "ok"
    ready = httpx.get(service.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok" and ready.json()["checks"]["database"] == "ok"


def test_metrics_count_requests_by_route_template(service: Running) -> None:
    httpx.get(service.url + "/v1/sites/site-metrics-probe/settings")  # refused: unsigned
    text = httpx.get(service.url + "/metrics").text
    assert "camvault_http_requests_total{" in text
    assert 'route="/healthz"' in text or 'route="/readyz"' in text
    assert "site-metrics-probe" not in text  # labels are route templates, never ids


def test_each_request_has_an_id_and_an_access_log_line(service: Running) -> None:
    r = httpx.get(service.url + "/healthz")
    rid = r.headers["x-request-id"]
    assert len(rid) == 16
    entry = logged(service, rid)
    assert entry["route"] == "/healthz" and entry["status"] == 200 and entry["method"] == "GET"

    # a proxy's id is kept (one request followed through several logs) ...
    r = httpx.get(service.url + "/healthz", headers={"X-Request-Id": "lb-42.a"})
    assert r.headers["x-request-id"] == "lb-42.a"
    logged(service, "lb-42.a")
    # ... but not one that could forge log lines
    r = httpx.get(service.url + "/healthz", headers={"X-Request-Id": 'x", "status": 500'})
    assert len(r.headers["x-request-id"]) == 16 and '"' not in r.headers["x-request-id"]
    r = httpx.get(service.url + "/healthz", headers={"X-Request-Id": "y" * 65})  # too long
    assert len(r.headers["x-request-id"]) == 16


def test_refusals_are_logged_with_their_reason(service: Running) -> None:
    r = httpx.post(service.url + "/v1/sites", content=b"{not json")
    assert 400 <= r.status_code < 500
    entry = logged(service, r.headers["x-request-id"])
    assert entry["status"] == r.status_code
    assert entry["code"] == r.json()["error"]["code"]


def test_a_listening_line_at_start(service: Running) -> None:
    messages = [str(e.get("msg")) for e in service.lines()]
    assert any(m.startswith("Uvicorn running on http://127.0.0.1:") for m in messages), messages


def test_api_docs_load_nothing_from_a_cdn(service: Running) -> None:
    page = httpx.get(service.url + "/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text.split("<body>")[0]
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs-assets/{asset}" in page.text
        got = httpx.get(f"{service.url}/docs-assets/{asset}")
        assert got.status_code == 200 and len(got.content) > 10_000


def test_a_client_that_leaves_before_the_answer_is_logged_499(service: Running) -> None:
    """Not 500: a client's disconnect is not a server error (nor counted as one)."""
    host, port = service.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(
            b"POST /v1/sites HTTP/1.1\r\nHost: x\r\nX-Request-Id: gone-early-1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"site'
        )
        time.sleep(0.5)
    entry = logged(service, "gone-early-1")
    assert entry["status"] == 499, entry
