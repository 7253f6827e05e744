"""Security review regressions against real custodian processes (t = 2 of 3).

Each test performs the attack over HTTP and checks the refusal's reason code and, for
release requests, that the refusal is in the custodian's log (signed checkpoint, inclusion
proof, stored bytes) with nothing released.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from clients.operator.release import CustodianEndpoint, Recording, _stanza_for, verify_receipt
from common.http import SignedClient
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64encode
from crypto.escrow import SessionKey
from crypto.statements import SignedStatement
from tests.escrow.harness import Cluster, CustodianProc, Site, register_operator


@pytest.fixture(scope="module")
def eps(cluster: Cluster) -> list[CustodianEndpoint]:
    return cluster.endpoints()


@pytest.fixture(scope="module")
def operator(cluster: Cluster) -> tuple[str, Ed25519SigningKey]:
    return "op-review", register_operator(cluster, "op-review")


@pytest.fixture
def site(cluster: Cluster) -> Site:
    s = Site(f"site-{uuid.uuid4().hex[:10]}")
    s.enroll(cluster)
    return s


def release_body(
    ep: CustodianEndpoint, alarm: SignedStatement, recs: list[Recording], session_key: bytes
) -> dict[str, Any]:
    return {
        "purpose": "alarm-verification",
        "justification": alarm.to_json(),
        "session_key": b64encode(session_key),
        "items": [{"metadata": r.metadata.to_json(), "stanza": _stanza_for(r, ep)} for r in recs],
    }


def logged_refusal(proc: CustodianProc, ep: CustodianEndpoint, resp: httpx.Response) -> Any:
    """The refusal's receipt verifies and the custodian's log stores exactly that entry."""
    index, entry, _ = verify_receipt(ep, resp.json()["log"])
    stored = httpx.get(
        proc.url + "/v1/log/entries", params={"start": index, "end": index + 1}, timeout=10
    ).json()["entries"]
    assert stored == [{"index": index, "entry": entry.decode()}]
    obj = json.loads(entry)
    assert obj["type"] == "refusal"
    assert obj["released"]["count"] == 0
    return obj


# --- finding 1: low-order session key ------------------------------------------------------


@pytest.mark.parametrize(
    "session_key",
    [
        bytes(32),  # the identity point (low order)
        (1).to_bytes(32, "little"),  # u = 1, order 4
        b"\xff" * 31 + b"\x7f",  # non-canonical (>= 2^255 - 19)
    ],
    ids=["zero", "order-4", "non-canonical"],
)
def test_low_order_session_key_is_refused_and_logged(
    cluster: Cluster,
    eps: list[CustodianEndpoint],
    operator: tuple[str, Ed25519SigningKey],
    site: Site,
    session_key: bytes,
) -> None:
    t = now_ms() - 5_000
    rec = site.record("r1", t - 1_000, t)[0]
    alarm = site.alarm("ev-lo", 1, t)
    proc, ep = cluster.custodians[0], eps[0]
    with SignedClient(ep.url, f"operator:{operator[0]}", operator[1]) as client:
        resp = client.post("/v1/releases", json=release_body(ep, alarm, [rec], session_key))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "bad_session_key"
    assert all(it["sealed_share"] is None for it in resp.json()["items"])
    entry = logged_refusal(proc, ep, resp)
    assert entry["reason"] == "bad_session_key"
    assert entry["operator_verified"] is True
    # The alarm was not consumed by the refused request: a good key still works.
    good = release_body(ep, alarm, [rec], SessionKey.generate().public_key())
    with SignedClient(ep.url, f"operator:{operator[0]}", operator[1]) as client:
        ok = client.post("/v1/releases", json=good)
    assert ok.status_code == 200, ok.text
    assert [it["status"] for it in ok.json()["items"]] == ["released"]


# --- finding 4: a request signed for one custodian replayed to another ------------------------


def test_request_signed_for_one_custodian_is_refused_by_another(
    cluster: Cluster,
    eps: list[CustodianEndpoint],
    operator: tuple[str, Ed25519SigningKey],
    site: Site,
) -> None:
    t = now_ms() - 5_000
    rec = site.record("r1", t - 1_000, t)[0]
    alarm = site.alarm("ev-replay", 1, t)
    # The body carries c2's stanza so that only the authority check stands in the way.
    body = release_body(eps[1], alarm, [rec], SessionKey.generate().public_key())
    with SignedClient(eps[0].url, f"operator:{operator[0]}", operator[1]) as client:
        signed_for_c1 = client.build("POST", "/v1/releases", json=body)
    assert signed_for_c1.headers["host"] == eps[0].url.removeprefix("http://")
    # Replayed byte for byte to c2 (the Host header must stay c1's for the signature to hold).
    resp = httpx.post(
        eps[1].url + "/v1/releases",
        content=signed_for_c1.content,
        headers=dict(signed_for_c1.headers),
        timeout=30,
    )
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "wrong_authority"
    assert all(it["sealed_share"] is None for it in resp.json()["items"])
    entry = logged_refusal(cluster.custodians[1], eps[1], resp)
    assert entry["reason"] == "wrong_authority"
    # Rewriting Host to c2 breaks the signature instead.
    headers = dict(signed_for_c1.headers, host=eps[1].url.removeprefix("http://"))
    resp = httpx.post(
        eps[1].url + "/v1/releases", content=signed_for_c1.content, headers=headers, timeout=30
    )
    assert resp.json()["error"]["code"] == "bad_request_signature"
    # The original request to c1 is untouched by the attempts and releases.
    with SignedClient(eps[0].url, f"operator:{operator[0]}", operator[1]) as client:
        body_c1 = release_body(eps[0], alarm, [rec], SessionKey.generate().public_key())
        ok = client.post("/v1/releases", json=body_c1)
    assert ok.status_code == 200, ok.text


def test_customer_request_signed_for_another_custodian_is_refused(
    cluster: Cluster, eps: list[CustodianEndpoint], site: Site
) -> None:
    with site.customer_client(eps[0].url) as client:
        req = client.build("GET", f"/v1/sites/{site.site_id}/notices")
    resp = httpx.get(eps[2].url + req.url.raw_path.decode(), headers=dict(req.headers))
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "wrong_authority"


# --- finding 5: huge log ranges ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/log/entries", {"start": 10**20, "end": 10**20 + 1}),
        ("/v1/log/entries", {"start": 2**63 - 1, "end": 2**63}),
        ("/v1/log/entries", {"start": 2**63 - 2, "end": 2**63 - 1}),  # in range, beyond log
        ("/v1/log/entries", {"start": -1, "end": 1}),
        ("/v1/log/inclusion", {"tree_size": 1, "index": 10**20}),
        ("/v1/log/inclusion", {"tree_size": 2**64, "index": 0}),
        ("/v1/log/consistency", {"old": 0, "new": 10**30}),
        ("/v1/log/consistency", {"old": -5, "new": 1}),
    ],
)
def test_huge_or_negative_log_ranges_are_invalid_range(
    cluster: Cluster, path: str, params: dict[str, int]
) -> None:
    for proc in cluster.custodians[:1]:
        resp = httpx.get(proc.url + path, params=params, timeout=10)
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "invalid_range"


def test_site_log_entries_after_beyond_int64_is_invalid_range(
    cluster: Cluster, eps: list[CustodianEndpoint], site: Site
) -> None:
    for after in (10**20, 2**63, -2):
        with site.customer_client(eps[0].url) as client:
            resp = client.get(f"/v1/sites/{site.site_id}/log-entries", params={"after": after})
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "invalid_range"
    with site.customer_client(eps[0].url) as client:
        resp = client.get(f"/v1/sites/{site.site_id}/log-entries", params={"after": 2**63 - 1})
    assert resp.status_code == 200, resp.text
    assert resp.json()["entries"] == []
