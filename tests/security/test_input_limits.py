"""Attacks on how both services take input, on real processes: deeply nested JSON, bodies
over the size limit (declared or chunked), floods of unauthenticated requests, slow clients.

Each refusal must be a 4xx with the service's reason code, never a 500, a hang or a
traceback; a release refused at the custodian must be in its log like any other refusal.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from clients.api.errors import ServiceRefused, check
from clients.audit.notices import NoticeError, parse_notice
from clients.operator.release import CustodianEndpoint, verify_receipt
from common.http import SignedClient
from common.ratelimit import TokenBuckets
from common.serving import HEADER_TIMEOUT_S, GuardedH11Protocol, GuardedHttpToolsProtocol
from common.time import now_ms
from crypto.age.x25519 import X25519Identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import CustodianKey
from crypto.siteid import site_id_for
from crypto.statements import Custodian, SiteKeys, sign_statement
from tests.escrow.conftest import make_cluster
from tests.escrow.harness import Cluster, CustodianProc, Site, register_operator
from tests.storage.support import Service, create_site, make_service
from tests.support.services import free_port

NESTED = b"[" * 2000 + b"]" * 2000
"""About 4 KB that exhausts a recursive JSON parser."""


def nested_in(field: str, depth: int) -> bytes:
    """A body whose ``field`` nests just short of the parser's recursion limit (it parses;
    code walking it recursively later must not fail)."""
    return b'{"%s": {"a": %s%s}}' % (field.encode(), b"[" * depth, b"]" * depth)


BODIES = {"2000 deep": NESTED, "960 deep in a statement": nested_in("site_keys", 960)}

ESCROW_OPEN_ROUTES = [
    ("POST", "/v1/sites", "site_keys"),
    ("POST", "/v1/sites/{s}/devices", "device_enrollment"),
    ("POST", "/v1/operators", "registration"),
    ("POST", "/v1/sites/{s}/revocations", "revocation"),
    ("POST", "/v1/sites/{s}/alarm-cancels", "alarm_cancel"),
]


def error_code(resp: httpx.Response) -> str:
    code: str = resp.json()["error"]["code"]
    return code


def json_routes(base_url: str) -> list[tuple[str, str]]:
    """Every (method, path) of the service's OpenAPI schema that takes a JSON body, with
    each path parameter filled in."""
    spec = httpx.get(base_url + "/openapi.json", timeout=10).json()
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                out.append((method.upper(), re.sub(r"\{[^}]+\}", "p1", path)))
    assert out
    return out


def post_raw(url: str, method: str, path: str, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return httpx.request(method, url + path, content=body, headers=headers, timeout=30)


# --- wire-level requests ------------------------------------------------------------------------


def raw_exchange(url: str, head: str, chunks: Iterator[bytes], timeout: float = 10.0) -> bytes:
    """Send ``head`` (which asks the server to close after answering) and then ``chunks``,
    stopping as soon as the server answers or closes; returns the whole answer."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    answer = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        for chunk in chunks:
            try:
                sock.sendall(chunk)
                answer += sock.recv(65536)
                break
            except BlockingIOError:
                continue
            except ConnectionError:
                break
        sock.settimeout(timeout)
        with contextlib.suppress(TimeoutError, ConnectionError):
            while data := sock.recv(65536):
                answer += data
    return answer


def parse_answer(answer: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body) if body else None


def claims_a_gigabyte(url: str, path: str) -> tuple[int, dict[str, str], Any, float]:
    """Headers announcing a 1 GiB JSON body, then 4 bytes of it: the answer must come at once
    (the body is refused by its declared length, never read)."""
    host = url.removeprefix("http://")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\nContent-Length: {1 << 30}\r\n\r\n"
    )
    start = time.monotonic()
    answer = raw_exchange(url, head, iter([b'{"a"']))
    took = time.monotonic() - start
    return (*parse_answer(answer), took)


def chunked_past(url: str, path: str, limit: int) -> tuple[int, dict[str, str], Any]:
    """A chunked body that goes on past ``limit`` and never ends: the server must refuse it
    once the limit is passed, without waiting for its end."""
    host = url.removeprefix("http://")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"[" * 8192
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    answer = raw_exchange(url, head, iter([chunk] * (4 * limit // len(piece))))
    status, headers, body = parse_answer(answer)
    return status, headers, body


# --- custodians ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Cluster:
    return make_cluster("sqlite", request)


@pytest.fixture(scope="module")
def site(cluster: Cluster) -> Site:
    s = Site(f"site-{uuid.uuid4().hex[:10]}")
    s.enroll(cluster)
    return s


def custodian(env: dict[str, str]) -> Iterator[CustodianProc]:
    workdir = Path(tempfile.mkdtemp(prefix="camvault-limits-"))
    proc = CustodianProc("c1", workdir, f"sqlite:///{workdir / 'c1' / 'escrow.db'}", env)
    proc.start()
    yield proc
    proc.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def small_custodian() -> Iterator[CustodianProc]:
    """One custodian with a 64 KiB body limit."""
    yield from custodian({"CAMVAULT_ESCROW_MAX_BODY_BYTES": str(64 * 1024)})


@pytest.fixture(scope="module")
def limited_custodian() -> Iterator[CustodianProc]:
    """One custodian with a rate limit of 2 requests per second, burst 5."""
    yield from custodian(
        {"CAMVAULT_ESCROW_RATE_LIMIT_PER_S": "2", "CAMVAULT_ESCROW_RATE_LIMIT_BURST": "5"}
    )


def logged_refusal(proc: CustodianProc, ep: CustodianEndpoint, body: dict[str, Any]) -> Any:
    """The release refusal's log receipt verifies and the log stores that entry."""
    index, entry, _ = verify_receipt(ep, body["log"])
    stored = httpx.get(
        proc.url + "/v1/log/entries", params={"start": index, "end": index + 1}, timeout=10
    ).json()["entries"]
    assert stored == [{"index": index, "entry": entry.decode()}]
    return json.loads(entry)


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize(("method", "path", "field"), ESCROW_OPEN_ROUTES)
def test_custodian_refuses_nested_json_as_malformed(
    cluster: Cluster, site: Site, method: str, path: str, field: str, body: bytes
) -> None:
    body = body.replace(b'"site_keys"', b'"%s"' % field.encode())
    for proc in cluster.custodians:
        resp = post_raw(proc.url, method, path.format(s=site.site_id), body)
        assert resp.status_code == 400, resp.text
        assert error_code(resp) == "malformed_request"
        assert "Traceback" not in proc.log_path.read_text(errors="replace")


NEAR_THE_LIMIT = range(880, 1010, 5)
"""Depths around where a recursive parser, deep in the server's stack, gives up."""


def test_custodian_nesting_near_the_parser_limit_is_never_a_500(
    cluster: Cluster, site: Site
) -> None:
    proc = cluster.custodians[1]
    routes = [*ESCROW_OPEN_ROUTES, ("POST", "/v1/releases", "justification")]
    for method, path, field in routes:
        for depth in NEAR_THE_LIMIT:
            url_path = path.format(s=site.site_id)
            resp = post_raw(proc.url, method, url_path, nested_in(field, depth))
            assert 400 <= resp.status_code < 500, (path, depth, resp.text)
    assert "Traceback" not in proc.log_path.read_text(errors="replace")


def test_custodian_answers_nested_json_on_every_json_route_with_a_4xx(cluster: Cluster) -> None:
    url = cluster.custodians[0].url
    for method, path in json_routes(url):
        resp = post_raw(url, method, path, NESTED)
        assert 400 <= resp.status_code < 500, (method, path, resp.text)
        assert error_code(resp) in {"malformed_request", "bad_request_signature"}


def test_customer_signed_nested_settings_are_malformed(cluster: Cluster, site: Site) -> None:
    for proc in cluster.custodians:
        with site.customer_client(proc.url) as client:
            resp = client.put(
                f"/v1/sites/{site.site_id}/settings",
                content=NESTED,
                content_type="application/json",
            )
        assert resp.status_code == 400, resp.text
        assert error_code(resp) == "malformed_request"


@pytest.mark.parametrize("body", [NESTED, nested_in("justification", 960)], ids=["2000", "960"])
def test_signed_nested_release_is_refused_and_logged(cluster: Cluster, body: bytes) -> None:
    operator_id = f"op-{uuid.uuid4().hex[:8]}"
    key = register_operator(cluster, operator_id)
    for proc, ep in zip(cluster.custodians, cluster.endpoints(), strict=True):
        with SignedClient(proc.url, f"operator:{operator_id}", key) as client:
            resp = client.post("/v1/releases", content=body, content_type="application/json")
        assert resp.status_code == 400, resp.text
        assert error_code(resp) == "malformed_request"
        entry = logged_refusal(proc, ep, resp.json())
        assert entry["type"] == "refusal"
        assert entry["reason"] == "malformed_request"
        assert entry["operator_id"] == operator_id
        assert entry["operator_verified"] is True


@pytest.mark.parametrize(
    ("server", "path", "code"),
    [
        ("small_custodian", "/v1/sites", "batch_too_large"),
        ("small_custodian", "/v1/operators", "batch_too_large"),
        ("small_custodian", "/v1/sites/s1/alarm-cancels", "batch_too_large"),
        ("small_storage", "/v1/sites", "body_too_large"),
        ("small_storage", "/v1/sites/s1/devices", "body_too_large"),
    ],
)
def test_a_declared_gigabyte_is_refused_without_being_read(
    request: pytest.FixtureRequest, server: str, path: str, code: str
) -> None:
    status, headers, body, took = claims_a_gigabyte(request.getfixturevalue(server).url, path)
    assert status == 413 and body["error"]["code"] == code
    assert headers.get("connection") == "close"
    assert took < 5


def test_custodian_logs_a_release_refused_for_its_declared_size(
    small_custodian: CustodianProc,
) -> None:
    status, _, body, took = claims_a_gigabyte(small_custodian.url, "/v1/releases")
    assert status == 413 and body["error"]["code"] == "batch_too_large"
    assert took < 5
    entry = logged_refusal(small_custodian, small_custodian.endpoint(), body)
    assert entry["reason"] == "batch_too_large"


@pytest.mark.parametrize("path", ["/v1/sites", "/v1/releases"])
def test_custodian_stops_reading_a_chunked_body_at_the_limit(
    small_custodian: CustodianProc, path: str
) -> None:
    status, _, body = chunked_past(small_custodian.url, path, 64 * 1024)
    assert status == 413 and body["error"]["code"] == "batch_too_large"


def burst(url: str, n: int, method: str = "GET", path: str = "/v1/log/checkpoint") -> list[Any]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return [client.request(method, path) for _ in range(n)]


def assert_rate_limited(responses: list[httpx.Response]) -> float:
    """Some were refused 429 ``rate_limited`` with a Retry-After; returns its value."""
    limited = [r for r in responses if r.status_code == 429]
    assert len(limited) >= len(responses) // 2, [r.status_code for r in responses]
    assert all(error_code(r) == "rate_limited" for r in limited)
    retry = float(limited[-1].headers["retry-after"])
    assert retry >= 1
    return retry


def test_custodian_rate_limits_unauthenticated_routes(limited_custodian: CustodianProc) -> None:
    url = limited_custodian.url
    retry = assert_rate_limited(burst(url, 20))
    assert_rate_limited(burst(url, 10, "POST", "/v1/sites"))
    # Signed releases are not limited: a refused one is still checked and logged.
    key = Ed25519SigningKey.generate()
    with SignedClient(url, "operator:op-flood", key) as client:
        resp = client.post("/v1/releases", json={"purpose": "alarm-verification"})
    assert resp.status_code == 401 and error_code(resp) == "operator_not_registered"
    assert "log" in resp.json()
    time.sleep(retry)
    assert httpx.get(url + "/v1/log/checkpoint", timeout=10).status_code == 200


# --- storage service ----------------------------------------------------------------------------


def storage_service(factory: pytest.TempPathFactory, **env: str) -> Iterator[Service]:
    svc = make_service(factory.mktemp("limits-storage"), None, None, **env)
    yield svc.start()
    svc.stop()


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from storage_service(tmp_path_factory)


@pytest.fixture(scope="module")
def small_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A storage service with a 64 KiB body limit."""
    yield from storage_service(tmp_path_factory, CAMVAULT_MAX_BODY_BYTES=str(64 * 1024))


@pytest.fixture(scope="module")
def limited_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A storage service with a rate limit of 2 requests per second, burst 5."""
    env = {"CAMVAULT_RATE_LIMIT_PER_S": "2", "CAMVAULT_RATE_LIMIT_BURST": "5"}
    yield from storage_service(tmp_path_factory, **env)


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_storage_refuses_nested_json_on_every_json_route(storage: Service, body: bytes) -> None:
    for method, path in json_routes(storage.url):
        resp = post_raw(storage.url, method, path, body)
        assert resp.status_code == 400, (method, path, resp.status_code, resp.text)
        assert error_code(resp) == "validation_error"
    assert "Traceback" not in storage.log_text()


def test_storage_nesting_near_the_parser_limit_is_never_a_500(storage: Service) -> None:
    for path, field in (("/v1/sites", "site_keys"), ("/v1/operators", "registration")):
        for depth in NEAR_THE_LIMIT:
            resp = post_raw(storage.url, "POST", path, nested_in(field, depth))
            assert resp.status_code == 400, (path, depth, resp.text)
            assert error_code(resp) == "validation_error"
    assert "Traceback" not in storage.log_text()


def test_storage_refuses_nested_json_before_the_signature(storage: Service) -> None:
    site = create_site(storage.url)
    for method, path in json_routes(storage.url):
        resp = site.client.request(
            method, path.replace("p1", site.site_id), content=NESTED, content_type=JSON
        )
        assert resp.status_code == 400, (method, path, resp.text)
        assert error_code(resp) == "validation_error"
    site.close()


JSON = "application/json"


def test_storage_refuses_a_nested_notice_text(storage: Service) -> None:
    """A custodian key of a site the attacker created delivers a notice whose text (a JSON
    string inside the JSON body) nests 2,000 deep."""
    customer, log_key = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    site_id = site_id_for(customer.public_key, f"site-{uuid.uuid4().hex[:8]}")
    keys = SiteKeys(
        site_id=site_id,
        version=1,
        customer_key=customer.public_key,
        recipients=(X25519Identity.generate().recipient(),),
        custodians=tuple(
            Custodian(f"cust-{i}", CustodianKey.generate().public_key(), k.public_key, None)
            for i, k in enumerate([log_key, Ed25519SigningKey.generate()])
        ),
        threshold=2,
        issued_at_ms=now_ms(),
    )
    body = {"site_keys": sign_statement(keys, customer).to_json()}
    with SignedClient(storage.url, f"customer:{site_id}", customer) as client:
        assert client.post("/v1/sites", json=body).status_code == 201
    text = "[" * 2000 + "]" * 2000
    notice = {"custodian_id": "cust-0", "notice_id": 1, "site_id": site_id, "notice": text}
    with SignedClient(storage.url, f"custodian:{site_id}/cust-0", log_key) as client:
        resp = client.post("/v1/notices", json=notice)
    assert resp.status_code == 422, resp.text
    assert error_code(resp) == "notice_invalid"


def test_clients_take_nested_json_from_a_server_as_a_refusal() -> None:
    """A malicious server answers 2,000 nested arrays: the client sees a refusal."""
    answer = httpx.Response(403, content=NESTED, headers={"content-type": JSON})
    with pytest.raises(ServiceRefused):
        check(answer, "storage")
    with pytest.raises(NoticeError):
        parse_notice(NESTED.decode())


def test_storage_stops_reading_a_chunked_body_at_the_limit(small_storage: Service) -> None:
    status, _, body = chunked_past(small_storage.url, "/v1/sites", 64 * 1024)
    assert status == 413 and body["error"]["code"] == "body_too_large"


def test_storage_rate_limits_unauthenticated_routes(limited_storage: Service) -> None:
    url = limited_storage.url
    retry = assert_rate_limited(burst(url, 20, "POST", "/v1/sites"))
    # Signed routes are not limited (refused by their signature check instead).
    signed = burst(url, 10, "GET", "/v1/sites/s1")
    assert {r.status_code for r in signed} == {401}
    time.sleep(retry)
    assert httpx.get(url + "/readyz", timeout=10).status_code == 200


# --- the pieces, in process ---------------------------------------------------------------------


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(2.0, 3, max_clients=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # per address
    now[0] = 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    buckets.take("c")  # a third address: the least recently seen is forgotten
    assert buckets.take("b") == 0.0


class _QuickH11(GuardedH11Protocol):
    header_timeout_s = 0.5
    body_idle_timeout_s = 0.5


class _QuickHttpTools(GuardedHttpToolsProtocol):
    header_timeout_s = 0.5
    body_idle_timeout_s = 0.5


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module", params=[_QuickHttpTools, _QuickH11], ids=["httptools", "h11"])
def quick_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """An echo app under each guarded protocol (the services run the httptools one), with
    0.5 s timeouts and uvicorn's header limit of 16 KiB."""
    port = free_port()
    config = uvicorn.Config(
        _echo,
        host="127.0.0.1",
        port=port,
        http=request.param,
        log_level="warning",
        h11_max_incomplete_event_size=16 * 1024,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def closed_after(address: str, *parts: bytes) -> float:
    """Seconds until the server closes a connection that sent ``parts`` and then stalls."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=HEADER_TIMEOUT_S + 10) as sock:
        start = time.monotonic()
        for part in parts:
            sock.sendall(part)
        while sock.recv(4096):
            pass
        return time.monotonic() - start


@pytest.mark.parametrize(
    "parts",
    [
        (),
        (b"POST / HTTP/1.1\r\nHost: x\r\n",),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345",),
    ],
    ids=["nothing", "half the headers", "half the body"],
)
def test_slow_clients_are_disconnected(quick_server: str, parts: tuple[bytes, ...]) -> None:
    assert closed_after(quick_server, *parts) < 3


def test_a_complete_request_is_answered(quick_server: str) -> None:
    resp = httpx.post(f"http://{quick_server}/", content=b"x" * 100, timeout=5)
    assert resp.status_code == 204


def test_requests_that_keep_the_connection_are_each_guarded(quick_server: str) -> None:
    """Keep-alive and pipelining: requests answered one after the other on one connection,
    and the next request's headers are on the clock again (a stall after two complete
    requests, in the middle of a third's headers, is disconnected)."""
    one = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    two = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    host, port = quick_server.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(one + two + b"GET / HTTP/1.1\r\nHo")
        start, got = time.monotonic(), b""
        while chunk := sock.recv(4096):
            got += chunk
        took = time.monotonic() - start
    assert got.count(b"HTTP/1.1 204 ") == 2, got
    assert took < 3


def test_headers_over_the_limit_are_refused(quick_server: str) -> None:
    host, port = quick_server.rsplit(":", 1)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 20_000
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        with contextlib.suppress(OSError):  # the server may close before reading it all
            sock.sendall(head)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
    ok = httpx.get(f"http://{quick_server}/", headers={"x-padding": "a" * 8_000}, timeout=5)
    assert ok.status_code == 204


def test_services_refuse_headers_over_the_limit(
    small_custodian: CustodianProc, small_storage: Service
) -> None:
    for url in (small_custodian.url, small_storage.url):
        head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: "
        answer = raw_exchange(url, head, iter([b"a" * 4096] * 64))  # 256 KiB of header
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
        assert httpx.get(url + "/healthz", headers={"x-padding": "a" * 8_000}).status_code == 200


def test_services_close_a_connection_whose_headers_never_end(
    small_custodian: CustodianProc, small_storage: Service
) -> None:
    for url in (small_custodian.url, small_storage.url):
        took = closed_after(url.removeprefix("http://"), b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert HEADER_TIMEOUT_S - 1 < took < HEADER_TIMEOUT_S + 5
