"""Full flows through a real uvicorn process: enroll, upload, commit, list, download, export
(decrypted by the real `age`), tar export, delete + sweep, idempotency, retention."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from crypto.age import decrypt
from crypto.age.x25519 import format_identity_file
from crypto.canonical import canonical_json
from crypto.statements import parse_signed, verify_chain
from tests.storage.support import CustomerSite, Service, create_site


def _age_decrypt(age_cli: tuple[str, str], site: CustomerSite, data: bytes, tmp: Path) -> bytes:
    ident = tmp / f"{site.site_id}.key"
    ident.write_text(format_identity_file(site.identity, datetime.now(UTC)))
    out = subprocess.run(
        [age_cli[0], "-d", "-i", str(ident)], input=data, capture_output=True, check=False
    )
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


def test_upload_list_download_export_delete(
    service: Service, age_cli: tuple[str, str], tmp_path: Path
) -> None:
    site = create_site(service.url)
    cam = site.enroll_camera()
    recs = [cam.record(f"frame data {i} ".encode() * (1000 + i)) for i in range(3)]
    for rec in recs:
        r = cam.upload(rec)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "committed"

    # list: newest first, with manifests that verify as an intact chain
    page = site.client.get(f"/v1/sites/{site.site_id}/recordings", params={"limit": 2})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [i["sequence"] for i in body["items"]] == [2, 1]
    rest = site.client.get(
        f"/v1/sites/{site.site_id}/recordings", params={"limit": 2, "cursor": body["next_cursor"]}
    ).json()
    assert [i["sequence"] for i in rest["items"]] == [0] and rest["next_cursor"] is None
    items = body["items"] + rest["items"]
    manifests = [parse_signed(canonical_json(i["manifest"])) for i in reversed(items)]
    assert (
        verify_chain(manifests, cam.key.public_key, site_id=site.site_id, camera_id=cam.camera_id)
        == []
    )

    # detail: header + presigned GET, decrypt with our own age implementation
    rec = recs[1]
    d = site.client.get(f"{cam.base}/recordings/{rec.recording_id}").json()
    assert base64.b64decode(d["header"]) == rec.header
    payload = httpx.get(d["download_url"]).content
    assert payload == rec.payload
    out = io.BytesIO()
    decrypt([site.identity], io.BytesIO(rec.header + payload), out)
    assert out.getvalue() == rec.plaintext

    # export: a valid age file, decrypted by the real age CLI
    exp = site.client.get(f"{cam.base}/recordings/{rec.recording_id}/export")
    assert exp.status_code == 200
    assert exp.headers["content-type"] == "application/octet-stream"
    assert _age_decrypt(age_cli, site, exp.content, tmp_path) == rec.plaintext

    # tar of the time range: every .age member decrypts, manifests included
    tar = site.client.get(f"/v1/sites/{site.site_id}/export.tar")
    assert tar.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(tar.content)) as tf:
        names = tf.getnames()
        assert len(names) == 6
        for one in recs:
            member = tf.extractfile(f"{cam.camera_id}/{one.recording_id}.age")
            assert member is not None
            assert _age_decrypt(age_cli, site, member.read(), tmp_path) == one.plaintext
            m = tf.extractfile(f"{cam.camera_id}/{one.recording_id}.manifest.json")
            assert m is not None and m.read() == one.manifest.encode()

    # delete: crypto-shred; export gone, object swept, tombstone keeps the chain explainable
    object_key = _object_key(service, rec.recording_id)
    dl = site.client.delete(f"{cam.base}/recordings/{rec.recording_id}")
    assert dl.status_code == 200 and dl.json() == {"deleted": 1}
    exp = site.client.get(f"{cam.base}/recordings/{rec.recording_id}/export")
    assert exp.status_code == 410 and exp.json()["error"]["code"] == "recording_deleted"
    d = site.client.get(f"{cam.base}/recordings/{rec.recording_id}").json()
    assert d["status"] == "deleted" and d["header"] is None and d["download_url"] is None
    store = service.store()
    deadline = time.monotonic() + 20
    while store.exists(object_key) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not store.exists(object_key)
    listed = site.client.get(f"/v1/sites/{site.site_id}/recordings").json()["items"]
    tomb = [i for i in listed if i["recording_id"] == rec.recording_id]
    assert tomb and tomb[0]["status"] == "deleted" and tomb[0]["sequence"] == 1
    live = site.client.get(
        f"/v1/sites/{site.site_id}/recordings", params={"include_deleted": "false"}
    ).json()["items"]
    assert {i["recording_id"] for i in live} == {recs[0].recording_id, recs[2].recording_id}
    site.close()


def _object_key(service: Service, recording_id: str) -> str:
    import sqlalchemy as sa

    engine = service.engine()
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    sa.text("SELECT object_key FROM recordings WHERE recording_id = :r"),
                    {"r": recording_id},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_commit_and_upload_are_idempotent(service: Service) -> None:
    site = create_site(service.url)
    cam = site.enroll_camera()
    rec = cam.record(b"x" * 5000)
    r1 = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body())
    r2 = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body())
    assert (r1.status_code, r2.status_code) == (201, 200)
    assert r1.json()["upload_id"] == r2.json()["upload_id"]
    assert httpx.put(r2.json()["put_url"], content=rec.payload).status_code == 200
    body = rec.commit_body(r1.json()["upload_id"])
    c1 = cam.client.post(f"{cam.base}/recordings/{rec.recording_id}/commit", json=body)
    c2 = cam.client.post(f"{cam.base}/recordings/{rec.recording_id}/commit", json=body)
    assert (c1.status_code, c2.status_code) == (201, 200)
    assert c1.json() == c2.json()
    again = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body())
    assert again.status_code == 409 and again.json()["error"]["code"] == "recording_committed"
    items = site.client.get(f"/v1/sites/{site.site_id}/recordings").json()["items"]
    assert len(items) == 1
    site.close()


def test_range_delete_site_delete_and_retention(service: Service) -> None:
    site = create_site(service.url)
    cam = site.enroll_camera()
    day = 86_400_000
    old = int(time.time() * 1000) - 10 * day
    recs = [cam.record(b"old" * 100, start_ms=old + i * 1000) for i in range(2)]
    recs += [cam.record(b"new" * 100) for _ in range(2)]
    for rec in recs:
        assert cam.upload(rec).status_code == 201
    # retention of 5 days shreds the two old ones (sweeper runs every 0.5 s)
    r = site.client.put(f"/v1/sites/{site.site_id}/retention", json={"retention_days": 5})
    assert r.status_code == 200 and r.json()["retention_days"] == 5
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = site.client.get(f"/v1/sites/{site.site_id}/recordings").json()["items"]
        if sum(i["status"] == "deleted" for i in items) == 2:
            break
        time.sleep(0.3)
    reasons = {i["recording_id"]: i["deleted_reason"] for i in items}
    assert reasons == {
        recs[0].recording_id: "retention",
        recs[1].recording_id: "retention",
        recs[2].recording_id: None,
        recs[3].recording_id: None,
    }
    # range delete of the rest
    dr = site.client.delete(
        f"/v1/sites/{site.site_id}/recordings", params={"from_ms": old, "to_ms": 2**52}
    )
    assert dr.status_code == 200 and dr.json() == {"deleted": 2}
    # deleting the site removes everything of it; its key is then unknown
    ds = site.client.delete(f"/v1/sites/{site.site_id}")
    assert ds.status_code == 200
    gone = site.client.get(f"/v1/sites/{site.site_id}")
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "unknown_key"
    store = service.store()
    prefix = f"sites/{site.site_id}/"
    deadline = time.monotonic() + 20
    while list(store.list_objects(prefix)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(store.list_objects(prefix)) == []
    site.close()


def test_health_ready_metrics(service: Service) -> None:
    assert httpx.get(service.url + "/healthz").json() == {"status": "ok", "checks": {}}
    ready = httpx.get(service.url + "/readyz").json()
    assert ready == {"status": "ok", "checks": {"database": "ok", "object_store": "ok"}}
    metrics = httpx.get(service.url + "/metrics").text
    assert "camvault_http_requests_total" in metrics
    digest = hashlib.sha256(metrics.encode()).hexdigest()
    assert digest  # rendered


def test_rewrapped_header_for_a_new_customer_device(
    service: Service, age_cli: tuple[str, str], tmp_path: Path
) -> None:
    """Adding a customer device re-wraps headers only; the new device's identity then opens
    the export with the real age, and the old one still does."""
    from crypto.age import decrypt_header, encrypt_header
    from crypto.age.x25519 import X25519Identity
    from crypto.escrow import build_recipient_set
    from crypto.statements import Manifest

    site = create_site(service.url)
    cam = site.enroll_camera()
    rec = cam.record(b"rewrap me " * 300)
    assert cam.upload(rec).status_code == 201
    _h, file_key = decrypt_header([site.identity], rec.header)
    new_device = X25519Identity.generate()
    m = rec.manifest.unverified_statement
    assert isinstance(m, Manifest)
    recipients = build_recipient_set(
        [site.identity.recipient(), new_device.recipient()],
        [c.public_key() for c in site.custodians],
        2,
        m.metadata(),
    )
    new_header, _ = encrypt_header(recipients, file_key)
    path = f"{cam.base}/recordings/{rec.recording_id}/header"
    denied = cam.client.put(path, json={"header": base64.b64encode(new_header).decode()})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "wrong_principal"
    bad = site.client.put(path, json={"header": base64.b64encode(b"not age").decode()})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "header_malformed"
    r = site.client.put(path, json={"header": base64.b64encode(new_header).decode()})
    assert r.status_code == 200, r.text
    assert base64.b64decode(r.json()["header"]) == new_header
    exp = site.client.get(f"{cam.base}/recordings/{rec.recording_id}/export").content
    other = CustomerSite(
        site.url, site.site_id, site.key, new_device, site.custodians, site.site_keys, site.client
    )
    assert _age_decrypt(age_cli, other, exp, tmp_path) == rec.plaintext
    assert _age_decrypt(age_cli, site, exp, tmp_path) == rec.plaintext
    site.close()
