"""The customer's inbox: smart alerts from cameras (opaque age files, size-limited), paging,
the SSE subscription, and access notices accepted only from the site's custodians, signed
with the log key their SiteKeys entry names (keyid ``custodian:<site>/<custodian_id>``)."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from common.http import SignedClient
from common.time import now_ms
from crypto.age import decrypt, encrypt
from crypto.age.x25519 import X25519Identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import CustodianKey
from crypto.siteid import site_id_for
from crypto.statements import Custodian, SiteKeys, sign_statement
from tests.storage.support import Camera, CustomerSite, Service
from tests.storage.support_arc import read_sse, refused, start


@pytest.fixture(scope="module", params=["embedded", "pg_minio"])
def arc(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from start(request, request.param, CAMVAULT_SMART_ALERT_MAX_BYTES="4096")


@dataclass
class Site:
    customer: CustomerSite
    camera: Camera
    log_keys: list[Ed25519SigningKey]

    @property
    def site_id(self) -> str:
        return self.customer.site_id

    def custodian(self, i: int, key: Ed25519SigningKey | None = None) -> SignedClient:
        return SignedClient(
            self.customer.url, f"custodian:{self.site_id}/cust-{i}", key or self.log_keys[i]
        )

    def inbox(self, **params: Any) -> dict[str, Any]:
        r = self.customer.client.get(f"/v1/sites/{self.site_id}/inbox", params=params)
        assert r.status_code == 200, r.text
        return dict(r.json())


def make_site(url: str) -> Site:
    """A site whose custodian log keys the test holds (support.create_site drops them)."""
    key = Ed25519SigningKey.generate()
    sid = site_id_for(key.public_key, f"site-{uuid.uuid4().hex[:10]}")
    identity = X25519Identity.generate()
    escrow = [CustodianKey.generate() for _ in range(3)]
    logs = [Ed25519SigningKey.generate() for _ in range(3)]
    keys = sign_statement(
        SiteKeys(
            site_id=sid,
            version=1,
            customer_key=key.public_key,
            recipients=(identity.recipient(),),
            custodians=tuple(
                Custodian(f"cust-{i}", e.public_key(), lk.public_key, None)
                for i, (e, lk) in enumerate(zip(escrow, logs, strict=True))
            ),
            threshold=2,
            issued_at_ms=now_ms(),
        ),
        key,
    )
    client = SignedClient(url, f"customer:{sid}", key)
    assert client.post("/v1/sites", json={"site_keys": keys.to_json()}).status_code == 201
    customer = CustomerSite(url, sid, key, identity, escrow, keys, client)
    return Site(customer, customer.enroll_camera(), logs)


@pytest.fixture(scope="module")
def site(arc: Service) -> Iterator[Site]:
    s = make_site(arc.url)
    yield s
    s.customer.close()


def age_file(site: Site, text: bytes) -> bytes:
    out = io.BytesIO()
    encrypt([site.customer.identity.recipient()], io.BytesIO(text), out)
    return out.getvalue()


def alert_body(payload: bytes, alert_id: str | None = None) -> dict[str, Any]:
    return {
        "alert_id": alert_id or f"al-{uuid.uuid4().hex[:10]}",
        "created_ms": now_ms(),
        "payload": base64.b64encode(payload).decode(),
    }


def notice(site_id: str, custodian_id: str, log_index: int) -> str:
    body = {
        "type": "camvault/v1/access-notice",
        "custodian_id": custodian_id,
        "origin": f"camvault.io/custodian/{custodian_id}",
        "site_id": site_id,
        "log_index": log_index,
        "release_id": uuid.uuid4().hex,
        "recordings": [],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def delivery(site_id: str, custodian_id: str, notice_id: int, text: str) -> dict[str, Any]:
    """Exactly what escrow_service/services/notify.py POSTs."""
    return {
        "custodian_id": custodian_id,
        "notice_id": notice_id,
        "site_id": site_id,
        "notice": text,
    }


# --- smart alerts ---------------------------------------------------------------------------


def test_smart_alert_reaches_the_inbox_and_decrypts(arc: Service, site: Site) -> None:
    cam = site.camera
    path = f"{cam.base}/smart-alerts"
    body = alert_body(age_file(site, b'{"label": "person", "score": 0.93}'))
    r = cam.client.post(path, json=body)
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["kind"] == "smart_alert" and item["source"] == f"camera:{cam.camera_id}"
    assert cam.client.post(path, json=body).json()["id"] == item["id"]  # retried: same item
    items = site.inbox(kind="smart_alert")["items"]
    got = next(i for i in items if i["id"] == item["id"])
    out = io.BytesIO()
    decrypt([site.customer.identity], io.BytesIO(base64.b64decode(got["payload"])), out)
    assert out.getvalue() == b'{"label": "person", "score": 0.93}'


def test_smart_alert_refusals(arc: Service, site: Site) -> None:
    cam = site.camera
    path = f"{cam.base}/smart-alerts"
    first = alert_body(age_file(site, b"one"), "al-fixed")
    assert cam.client.post(path, json=first).status_code in (200, 201)
    other = alert_body(age_file(site, b"two"), "al-fixed")
    refused(arc, lambda: cam.client.post(path, json=other), 409, "inbox_conflict")
    big = alert_body(age_file(site, b"x" * 5000))
    refused(arc, lambda: cam.client.post(path, json=big), 413, "payload_too_large")
    plain = alert_body(b"not an age file")
    refused(arc, lambda: cam.client.post(path, json=plain), 422, "smart_alert_invalid")
    not_b64 = {**alert_body(b""), "payload": "%%%"}
    refused(arc, lambda: cam.client.post(path, json=not_b64), 422, "smart_alert_invalid")
    extra = {**alert_body(age_file(site, b"x")), "label": "person"}
    refused(arc, lambda: cam.client.post(path, json=extra), 422, "validation_error")
    refused(
        arc,
        lambda: cam.client.post(path, content=b"{}", content_type="text/plain"),
        415,
        "unsupported_media_type",
    )
    other_cam = site.customer.enroll_camera()
    ok = alert_body(age_file(site, b"x"))
    refused(arc, lambda: other_cam.client.post(path, json=ok), 403, "wrong_principal")
    refused(arc, lambda: site.customer.client.post(path, json=ok), 403, "wrong_principal")


def test_inbox_paging(arc: Service) -> None:
    s = make_site(arc.url)
    ids = []
    for i in range(5):
        r = s.camera.client.post(
            f"{s.camera.base}/smart-alerts", json=alert_body(age_file(s, b"%d" % i))
        )
        ids.append(r.json()["id"])
    seen: list[int] = []
    after = 0
    pages = 0
    while True:
        page = s.inbox(after=after, limit=2)
        seen += [i["id"] for i in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        after = int(page["next_cursor"])
    assert seen == sorted(ids) and pages == 3
    refused(
        arc,
        lambda: s.customer.client.get(f"/v1/sites/{s.site_id}/inbox", params={"limit": 0}),
        422,
        "validation_error",
    )
    s.customer.close()


def test_inbox_subscription(arc: Service) -> None:
    s = make_site(arc.url)
    first = s.camera.client.post(
        f"{s.camera.base}/smart-alerts", json=alert_body(age_file(s, b"before"))
    ).json()
    late = alert_body(age_file(s, b"while subscribed"))

    def post_soon() -> None:
        time.sleep(1.0)
        assert s.camera.client.post(f"{s.camera.base}/smart-alerts", json=late).status_code == 201

    t = threading.Thread(target=post_soon)
    t.start()
    # resume after the first item (Last-Event-ID): only the new one arrives
    events = read_sse(
        s.customer.client,
        f"/v1/sites/{s.site_id}/inbox/stream",
        until="item",
        headers={"Last-Event-ID": str(first["id"])},
    )
    t.join()
    _name, data, eid = events[-1]
    assert (
        data["source_ref"] == late["alert_id"]
        and eid == str(data["id"])
        and data["id"] > first["id"]
    )
    refused(
        arc,
        lambda: s.camera.client.get(f"/v1/sites/{s.site_id}/inbox/stream"),
        403,
        "wrong_principal",
    )
    s.customer.close()


# --- access notices from custodians -------------------------------------------------------


def test_custodian_notice_accepted_with_the_log_key(arc: Service, site: Site) -> None:
    text = notice(site.site_id, "cust-1", 7)
    c = site.custodian(1)
    r = c.post("/v1/notices", json=delivery(site.site_id, "cust-1", 41, text))
    assert r.status_code == 201, r.text
    assert r.json()["text"] == text and r.json()["source"] == "custodian:cust-1"
    again = c.post("/v1/notices", json=delivery(site.site_id, "cust-1", 41, text))
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    items = site.inbox(kind="access_notice")["items"]
    assert [i["text"] for i in items if i["source_ref"] == "41"] == [text]


def test_custodian_notice_refusals(arc: Service, site: Site) -> None:
    sid = site.site_id
    good = delivery(sid, "cust-0", 1, notice(sid, "cust-0", 1))
    # another custodian's log key, a fresh key, or a key of another site under cust-0's keyid
    for key in (site.log_keys[2], Ed25519SigningKey.generate()):
        impostor = site.custodian(0, key)
        refused(arc, lambda: impostor.post("/v1/notices", json=good), 401, "signature_invalid")  # noqa: B023
    stranger = SignedClient(arc.url, f"custodian:{sid}/cust-9", site.log_keys[0])
    refused(arc, lambda: stranger.post("/v1/notices", json=good), 401, "unknown_key")
    # a custodian of this site posting for another site, or as another custodian
    other = make_site(arc.url)
    foreign = delivery(other.site_id, "cust-0", 1, notice(other.site_id, "cust-0", 1))
    refused(arc, lambda: site.custodian(0).post("/v1/notices", json=foreign), 403, "wrong_site")
    as_other = delivery(sid, "cust-1", 1, notice(sid, "cust-1", 1))
    refused(
        arc, lambda: site.custodian(0).post("/v1/notices", json=as_other), 403, "wrong_principal"
    )
    # customers and cameras are not custodians
    refused(
        arc, lambda: site.customer.client.post("/v1/notices", json=good), 403, "wrong_principal"
    )
    refused(arc, lambda: site.camera.client.post("/v1/notices", json=good), 403, "wrong_principal")
    # content
    c0 = site.custodian(0)
    refused(
        arc,
        lambda: c0.post("/v1/notices", json={**good, "notice": "{not json"}),
        422,
        "notice_invalid",
    )
    wrong_type = json.dumps({"type": "camvault/v1/other", "site_id": sid, "custodian_id": "cust-0"})
    refused(
        arc,
        lambda: c0.post("/v1/notices", json={**good, "notice": wrong_type}),
        422,
        "notice_invalid",
    )
    mismatch = notice(other.site_id, "cust-0", 1)
    refused(
        arc,
        lambda: c0.post("/v1/notices", json={**good, "notice": mismatch}),
        422,
        "notice_invalid",
    )
    refused(arc, lambda: c0.post("/v1/notices", json={**good, "extra": 1}), 422, "validation_error")
    assert c0.post("/v1/notices", json=good).status_code == 201
    changed = {**good, "notice": notice(sid, "cust-0", 2)}
    refused(arc, lambda: c0.post("/v1/notices", json=changed), 409, "inbox_conflict")
    # custodians read the site's consents (revocation relay) but not its inbox
    assert c0.get(f"/v1/sites/{sid}/consents").status_code == 200
    refused(arc, lambda: c0.get(f"/v1/sites/{sid}/inbox"), 403, "wrong_principal")
    refused(arc, lambda: c0.get(f"/v1/sites/{other.site_id}/consents"), 403, "wrong_site")
    other.customer.close()


def test_key_change_moves_custodian_trust(arc: Service) -> None:
    """After the customer replaces a custodian's log key (SiteKeys v2 signed by the pinned
    key), the old log key no longer delivers notices and the new one does."""
    s = make_site(arc.url)
    new_log = Ed25519SigningKey.generate()
    v1 = s.customer.site_keys.unverified_statement
    assert isinstance(v1, SiteKeys)
    custodians = list(v1.custodians)
    c0 = custodians[0]
    custodians[0] = Custodian(c0.custodian_id, c0.escrow_key, new_log.public_key, c0.url)
    v2 = sign_statement(
        SiteKeys(v1.site_id, 2, v1.customer_key, v1.recipients, tuple(custodians), 2, now_ms()),
        s.customer.key,
    )
    r = s.customer.client.put(f"/v1/sites/{s.site_id}/keys", json={"site_keys": v2.to_json()})
    assert r.status_code == 200, r.text
    body = delivery(s.site_id, "cust-0", 5, notice(s.site_id, "cust-0", 5))
    refused(arc, lambda: s.custodian(0).post("/v1/notices", json=body), 401, "signature_invalid")
    assert s.custodian(0, new_log).post("/v1/notices", json=body).status_code == 201
    s.customer.close()
