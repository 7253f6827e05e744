"""Adversary: a network attacker between a client and either service. It captures a signed
request (RFC 9421: method, authority, path, query, content digest and type; created,
expires, nonce, keyid) and replays it or alters one part: body, digest, path, query, Host,
created, nonce, keyid, lifetime, content type; strips the signature or the digest; sends a
request made for one custodian to another. Each is refused for its reason at the storage
service (a customer's request) and at a custodian (an operator's release request, whose
refusal the custodian logs before answering). The control: the same request unaltered
succeeds once."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from clients.operator.release import _stanza_for
from common.http import SignedClient
from common.time import now_ms
from crypto.encoding import b64encode
from crypto.escrow import SessionKey
from crypto.httpsig import content_digest
from tests.escrow.ends_support import logged_entry
from tests.security.adversaries.support import (
    ALARM,
    Arena,
    Home,
    Operator,
    cli_operator,
    event,
    new_home,
)
from tests.security.matrix import case


@dataclass
class Wire:
    arena: Arena
    home: Home
    op: Operator
    release_body: Callable[[int], dict[str, Any]]  # for custodian i


@pytest.fixture(scope="module")
def wire(arena: Arena) -> Wire:
    home = new_home(arena)
    _, op = cli_operator(arena)
    t = now_ms() - 2_000
    rec = home.upload(t - 1_000)
    ev = event(home, t)

    def body(i: int) -> dict[str, Any]:
        ep = arena.eps[i]
        return {
            "purpose": ALARM,
            "justification": ev.to_json(),
            "session_key": b64encode(SessionKey.generate().public_key()),
            "items": [{"metadata": rec.metadata.to_json(), "stanza": _stanza_for(rec, ep)}],
        }

    return Wire(arena, home, op, body)


def rebuild(
    req: httpx.Request,
    *,
    url: str | httpx.URL | None = None,
    content: bytes | None = None,
    set_headers: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> httpx.Request:
    """The captured request with parts replaced (what goes on the wire, nothing re-signed)."""
    headers = {k: v for k, v in req.headers.items() if k.lower() not in (*drop, "content-length")}
    headers.update(set_headers or {})
    body = req.content if content is None else content
    return httpx.Request(req.method, url or req.url, headers=headers, content=body)


def _param(req: httpx.Request, name: str, value: str) -> httpx.Request:
    """Rewrite one signature parameter in Signature-Input (the signature stays the old one)."""
    sig_input = re.sub(
        rf";{name}=(\"[^\"]*\"|\d+)", f";{name}={value}", req.headers["signature-input"]
    )
    assert sig_input != req.headers["signature-input"]
    return rebuild(req, set_headers={"signature-input": sig_input})


def _other_body(req: httpx.Request) -> bytes:
    return req.content.replace(b"}", b',"x":1}', 1) if req.content else b'{"x":1}'


def _other_keyid(client: SignedClient, wire: Wire) -> str:
    """Another principal known to the service (the operator for a customer, and back)."""
    if client.keyid.startswith("customer:"):
        return f"operator:{wire.op[0]}"
    return f"customer:{wire.home.site_id}"


# A tampering: (captured request, the signed client) -> what the attacker sends.
Tamper = Callable[[httpx.Request, SignedClient, Wire], httpx.Request]

TAMPERS: dict[str, tuple[str, Tamper]] = {
    "body": ("alter the body, keep the digest", lambda r, c, w: rebuild(r, content=_other_body(r))),
    "digest": (
        "alter the body and recompute its digest",
        lambda r, c, w: rebuild(
            r,
            content=_other_body(r),
            set_headers={"content-digest": content_digest(_other_body(r))},
        ),
    ),
    "path": (
        "alter the path (another site's route)",
        lambda r, c, w: rebuild(
            r, url=r.url.copy_with(path=r.url.path.replace("/sites/", "/sites/x"))
        ),
    ),
    "query": (
        "add a query parameter",
        lambda r, c, w: rebuild(r, url=r.url.copy_add_param("x", "1")),
    ),
    "host": (
        "send it with another Host (authority)",
        lambda r, c, w: rebuild(r, set_headers={"host": "camvault.example:443"}),
    ),
    "created": (
        "move created (date) in Signature-Input",
        lambda r, c, w: _param(r, "created", str(int(time.time()) - 5)),
    ),
    "nonce": (
        "change the nonce in Signature-Input",
        lambda r, c, w: _param(r, "nonce", '"fresh0nonce0123456789"'),
    ),
    "keyid": (
        "change the keyid to another principal's",
        lambda r, c, w: _param(r, "keyid", f'"{_other_keyid(c, w)}"'),
    ),
    "expired": (
        "replay after it expired (re-dated in the past)",
        lambda r, c, w: c.build(
            r.method,
            r.url.raw_path.decode(),
            content=r.content or None,
            content_type="application/json",
            created=int(time.time()) - 3_600,
            expires=int(time.time()) - 3_540,
        ),
    ),
    "future": (
        "a request dated in the future",
        lambda r, c, w: c.build(
            r.method,
            r.url.raw_path.decode(),
            content=r.content or None,
            content_type="application/json",
            created=int(time.time()) + 3_600,
            expires=int(time.time()) + 3_650,
        ),
    ),
    "lifetime": (
        "a signature valid for a day (capture once, replay for long)",
        lambda r, c, w: c.build(
            r.method,
            r.url.raw_path.decode(),
            content=r.content or None,
            content_type="application/json",
            created=int(time.time()),
            expires=int(time.time()) + 86_400,
        ),
    ),
    "unsigned": (
        "strip the signature",
        lambda r, c, w: rebuild(r, drop=("signature", "signature-input")),
    ),
    "no-digest": ("strip the content digest", lambda r, c, w: rebuild(r, drop=("content-digest",))),
    "ctype": (
        "change the content type",
        lambda r, c, w: rebuild(r, set_headers={"content-type": "text/plain"}),
    ),
}

# tampering -> (storage reason, custodian reason)
REASONS = {
    "body": ("content_digest_mismatch", "bad_request_signature"),
    "digest": ("signature_invalid", "bad_request_signature"),
    "path": ("signature_invalid", "bad_request_signature"),
    "query": ("signature_invalid", "bad_request_signature"),
    "host": ("wrong_authority", "bad_request_signature"),
    "created": ("signature_invalid", "bad_request_signature"),
    "nonce": ("signature_invalid", "bad_request_signature"),
    "keyid": ("signature_invalid", "bad_request_signature"),
    "expired": ("signature_expired", "bad_request_signature"),
    "future": ("signature_clock_skew", "bad_request_signature"),
    "lifetime": ("signature_params_invalid", "bad_request_signature"),
    "unsigned": ("signature_missing", "bad_request_signature"),
    "no-digest": ("content_digest_missing", "bad_request_signature"),
    "ctype": ("unsupported_media_type", "bad_request_signature"),
}

BODY_TAMPERS = ("body", "digest", "no-digest", "ctype")


@dataclass(frozen=True)
class Route:
    """A signed request of one principal to one service, and what its control answers."""

    code: str
    what: str
    service: str  # "storage" or "custodian"
    body: bool  # the request has a body (the body tamperings apply)
    sited: bool  # the path names a site (the path tampering applies)
    ok: int
    logged: bool = False  # a custodian release: every refusal is logged before the answer


ROUTES = [
    Route("S1", "storage, customer PUT retention", "storage", True, True, 200),
    Route("S2", "storage, camera POST upload", "storage", True, True, 201),
    Route("S3", "storage, customer GET recordings (query)", "storage", False, True, 200),
    Route("S4", "storage, customer GET site", "storage", False, True, 200),
    Route("S5", "storage, operator GET alarm queue (query)", "storage", False, False, 200),
    Route("C1", "custodian, operator POST release", "custodian", True, False, 200, True),
    Route("C2", "custodian, customer PUT settings", "custodian", True, True, 200),
    Route("C3", "custodian, customer GET notices", "custodian", False, True, 200),
]


def signed(wire: Wire, route: Route, custodian: int = 0) -> tuple[SignedClient, httpx.Request]:
    """A fresh client and the request it signs for ``route`` (custodian routes: custodian 0)."""
    home, site = wire.home, wire.home.site_id
    url = wire.arena.storage_url if route.service == "storage" else wire.arena.eps[custodian].url
    if route.code == "S2":
        cam = home.customer.camera
        client = SignedClient(url, f"device:{site}/{cam.camera_id}", cam.key)
        t = now_ms() - 5_000
        body = {
            "recording_id": f"rec-{uuid.uuid4().hex[:10]}",
            "kind": "segment",
            "start_ms": t,
            "end_ms": t + 2_000,
            "payload_size": 1_000,
        }
        return client, client.build(
            "POST", f"/v1/sites/{site}/cameras/{cam.camera_id}/uploads", json=body
        )
    if route.code in ("S5", "C1"):
        client = SignedClient(url, f"operator:{wire.op[0]}", wire.op[1])
        if route.code == "S5":
            return client, client.build("GET", "/v1/alarms", params={"state": "open"})
        return client, client.build("POST", "/v1/releases", json=wire.release_body(custodian))
    client = home.customer_client(url)
    if route.code in ("S1", "C2"):
        path, body2 = (
            (f"/v1/sites/{site}/retention", {"retention_days": 30})
            if route.code == "S1"
            else (f"/v1/sites/{site}/settings", {"access_period_s": 120})
        )
        return client, client.build("PUT", path, json=body2)
    if route.code == "S3":
        return client, client.build("GET", f"/v1/sites/{site}/recordings", params={"limit": 5})
    if route.code == "S4":
        return client, client.build("GET", f"/v1/sites/{site}")
    return client, client.build("GET", f"/v1/sites/{site}/notices")


def _applies(route: Route, tamper: str) -> bool:
    return (route.body or tamper not in BODY_TAMPERS) and (route.sited or tamper != "path")


TAMPERED = [
    case(
        f"NET-{r.code}-{n:02d}",
        f"{r.what}: {TAMPERS[k][0]}",
        REASONS[k][0 if r.service == "storage" else 1],
        r,
        k,
    )
    for r in ROUTES
    for n, k in enumerate(TAMPERS, start=1)
    if _applies(r, k)
]


@pytest.mark.parametrize(("reason", "route", "tamper"), TAMPERED)
def test_a_tampered_request_is_refused(wire: Wire, reason: str, route: Route, tamper: str) -> None:
    client, captured = signed(wire, route)
    with client:
        resp = client.send(TAMPERS[tamper][1](captured, client, wire))
        assert resp.status_code in (400, 401, 403, 415), resp.text
        assert resp.json()["error"]["code"] == reason, resp.text
        if route.logged:
            proc, ep = wire.arena.cluster.custodians[0], wire.arena.eps[0]
            entry = logged_entry(proc, ep, resp.json()["log"])  # logged before the answer
            assert entry["type"] == "refusal" and entry["reason"] == reason
            assert entry["released"]["count"] == 0
        ok = client.send(captured)  # control: the untouched request, once
        assert ok.status_code == route.ok, ok.text
        if route.logged:
            assert [it["status"] for it in ok.json()["items"]] == ["released"]


REPLAYS = [
    case(f"NET-{r.code}-RP", f"{r.what}: replay a captured request", "replayed_request", r)
    for r in ROUTES
] + [
    case(
        f"NET-{r.code}-XC",
        f"{r.what}: a request made for one custodian, sent to another",
        "wrong_authority",
        r,
    )
    for r in ROUTES
    if r.service == "custodian"
]


@pytest.mark.parametrize(("reason", "route"), REPLAYS)
def test_a_replayed_request_is_refused(wire: Wire, reason: str, route: Route) -> None:
    """The same bytes again (the nonce is spent), or sent to another custodian (its
    ``@authority`` is not that custodian's)."""
    client, captured = signed(wire, route, custodian=1)
    with client:
        if reason == "replayed_request":
            assert client.send(captured).status_code == route.ok  # control: the first time
            resp = client.send(captured)
            at = 1
        else:  # captured for custodian 2 (index 1), sent to custodian 3 with its Host
            other = wire.arena.eps[2].url + captured.url.raw_path.decode()
            resp = httpx.request(
                captured.method, other, content=captured.content, headers=dict(captured.headers)
            )
            at = 2
            assert client.send(captured).status_code == route.ok  # control: where it was meant
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == reason
    if route.logged:
        proc, ep = wire.arena.cluster.custodians[at], wire.arena.eps[at]
        entry = logged_entry(proc, ep, resp.json()["log"])
        assert entry["type"] == "refusal" and entry["reason"] == reason
