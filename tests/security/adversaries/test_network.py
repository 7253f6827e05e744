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


# A tampering: (captured request, the signed client) -> what the attacker sends.
Tamper = Callable[[httpx.Request, SignedClient], httpx.Request]

TAMPERS: dict[str, tuple[str, Tamper]] = {
    "body": ("alter the body, keep the digest", lambda r, c: rebuild(r, content=_other_body(r))),
    "digest": (
        "alter the body and recompute its digest",
        lambda r, c: rebuild(
            r,
            content=_other_body(r),
            set_headers={"content-digest": content_digest(_other_body(r))},
        ),
    ),
    "path": (
        "alter the path (another site's route)",
        lambda r, c: rebuild(
            r, url=r.url.copy_with(path=r.url.path.replace("/sites/", "/sites/x"))
        ),
    ),
    "query": ("add a query parameter", lambda r, c: rebuild(r, url=r.url.copy_add_param("x", "1"))),
    "host": (
        "send it with another Host (authority)",
        lambda r, c: rebuild(r, set_headers={"host": "camvault.example:443"}),
    ),
    "created": (
        "move created (date) in Signature-Input",
        lambda r, c: _param(r, "created", str(int(time.time()) - 5)),
    ),
    "nonce": (
        "change the nonce in Signature-Input",
        lambda r, c: _param(r, "nonce", '"fresh-nonce-123"'),
    ),
    "keyid": (
        "change the keyid in Signature-Input",
        lambda r, c: _param(r, "keyid", '"customer:site-someone"'),
    ),
    "expired": (
        "replay after it expired (re-dated in the past)",
        lambda r, c: c.build(
            r.method,
            r.url.raw_path.decode(),
            content=r.content or None,
            content_type="application/json",
            created=int(time.time()) - 3_600,
            expires=int(time.time()) - 3_000,
        ),
    ),
    "future": (
        "a request dated in the future",
        lambda r, c: c.build(
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
        lambda r, c: c.build(
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
        lambda r, c: rebuild(r, drop=("signature", "signature-input")),
    ),
    "no-digest": ("strip the content digest", lambda r, c: rebuild(r, drop=("content-digest",))),
    "ctype": (
        "change the content type",
        lambda r, c: rebuild(r, set_headers={"content-type": "text/plain"}),
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

STORAGE = [
    case(f"NET-S{n:02d}", f"storage: {TAMPERS[k][0]}", REASONS[k][0], k)
    for n, k in enumerate(TAMPERS, start=1)
]
CUSTODIAN = [
    case(f"NET-C{n:02d}", f"custodian: {TAMPERS[k][0]}", REASONS[k][1], k)
    for n, k in enumerate(TAMPERS, start=1)
]


def _storage_request(wire: Wire, client: SignedClient) -> httpx.Request:
    return client.build(
        "PUT", f"/v1/sites/{wire.home.site_id}/retention", json={"retention_days": 30}
    )


@pytest.mark.parametrize(("reason", "tamper"), STORAGE)
def test_storage_refuses_a_tampered_request(wire: Wire, reason: str, tamper: str) -> None:
    with wire.home.customer_client(wire.arena.storage_url) as client:
        captured = _storage_request(wire, client)
        resp = client.send(TAMPERS[tamper][1](captured, client))
        assert resp.status_code in (401, 403, 415), resp.text
        assert resp.json()["error"]["code"] == reason, resp.text
        assert client.send(captured).status_code == 200  # control: the untouched request


@pytest.mark.parametrize(("reason", "tamper"), CUSTODIAN)
def test_custodian_refuses_and_logs_a_tampered_release(
    wire: Wire, reason: str, tamper: str
) -> None:
    proc, ep = wire.arena.cluster.custodians[0], wire.arena.eps[0]
    if tamper == "path":  # one route per path at a custodian: the customer's notices
        with wire.home.customer_client(ep.url) as client:
            captured = client.build("GET", f"/v1/sites/{wire.home.site_id}/notices")
            resp = client.send(TAMPERS[tamper][1](captured, client))
            assert resp.status_code == 401 and resp.json()["error"]["code"] == reason
            assert client.send(captured).status_code == 200
        return
    with SignedClient(ep.url, f"operator:{wire.op[0]}", wire.op[1]) as client:
        captured = client.build("POST", "/v1/releases", json=wire.release_body(0))
        resp = client.send(TAMPERS[tamper][1](captured, client))
        assert resp.status_code in (400, 401, 403, 415), resp.text
        assert resp.json()["error"]["code"] == reason, resp.text
        entry = logged_entry(proc, ep, resp.json()["log"])  # logged before the answer
        assert entry["type"] == "refusal" and entry["reason"] == reason
        assert entry["released"]["count"] == 0
        ok = client.send(captured)  # control
        assert ok.status_code == 200, ok.text
        assert [it["status"] for it in ok.json()["items"]] == ["released"]


REPLAYS = [
    case("NET-R01", "storage: replay a captured request", "replayed_request", "storage"),
    case(
        "NET-R02", "custodian release: replay a captured request", "replayed_request", "custodian"
    ),
    case(
        "NET-R03",
        "custodian release: a request made for one custodian, sent to another",
        "wrong_authority",
        "other-custodian",
    ),
    case(
        "NET-R04",
        "custodian: replay a captured customer request (notices)",
        "replayed_request",
        "customer-at-custodian",
    ),
]


@pytest.mark.parametrize(("reason", "where"), REPLAYS)
def test_replays_are_refused(wire: Wire, reason: str, where: str) -> None:
    arena = wire.arena
    if where == "storage":
        with wire.home.customer_client(arena.storage_url) as client:
            captured = _storage_request(wire, client)
            assert client.send(captured).status_code == 200  # control: the first time
            again = client.send(captured)
        assert again.status_code == 401 and again.json()["error"]["code"] == reason
        return
    if where == "customer-at-custodian":
        url = arena.world.custodians[1].url
        with wire.home.customer_client(url) as client:
            captured = client.build("GET", f"/v1/sites/{wire.home.site_id}/notices")
            assert client.send(captured).status_code == 200
            again = client.send(captured)
        assert again.status_code == 401 and again.json()["error"]["code"] == reason
        return
    proc, ep = arena.cluster.custodians[1], arena.eps[1]
    with SignedClient(ep.url, f"operator:{wire.op[0]}", wire.op[1]) as client:
        captured = client.build("POST", "/v1/releases", json=wire.release_body(1))
        if where == "custodian":
            assert client.send(captured).status_code == 200  # control: the first time
            resp = client.send(captured)
        else:  # captured for custodian 2 (index 1), sent to custodian 3 with its Host
            other = arena.world.custodians[2].url
            resp = httpx.post(
                other + "/v1/releases", content=captured.content, headers=dict(captured.headers)
            )
            proc, ep = arena.cluster.custodians[2], arena.eps[2]
            assert client.send(captured).status_code == 200  # control: where it was meant
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == reason
    entry = logged_entry(proc, ep, resp.json()["log"])
    assert entry["type"] == "refusal" and entry["reason"] == reason
