"""Every bad input gets a 4xx with its reason code, never a 500, and changes nothing stored
(all domain tables and all objects compared before and after)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.http import SignedClient
from crypto.age.format import MAC_MARK, MAX_STANZAS, VERSION_LINE
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64encode
from crypto.httpsig import content_digest
from crypto.statements import Manifest, manifest_hash, sign_statement
from tests.storage.support import (
    Camera,
    CustomerSite,
    Recording,
    Service,
    create_site,
    site_keys_statement,
    snapshot,
)

World = tuple[CustomerSite, Camera, CustomerSite]


def refused(
    service: Service, send: Callable[[], httpx.Response], status: int, code: str
) -> dict[str, Any]:
    before = snapshot(service)
    r = send()
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert snapshot(service) == before, "a refused request changed what is stored"
    return dict(body)


@pytest.fixture(scope="module")
def world(service: Service) -> Iterator[tuple[CustomerSite, Camera, CustomerSite]]:
    site = create_site(service.url)
    cam = site.enroll_camera()
    other = create_site(service.url)
    other.enroll_camera()
    yield site, cam, other
    site.close()
    other.close()


@pytest.fixture
def pending(world: tuple[CustomerSite, Camera, CustomerSite]) -> tuple[Camera, Recording, str]:
    """A recording whose payload is uploaded but not committed."""
    _site, cam, _ = world
    rec = cam.record(b"pending " * 500, advance=False)
    r = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body())
    assert r.status_code in (200, 201), r.text
    assert httpx.put(r.json()["put_url"], content=rec.payload).status_code == 200
    return cam, rec, r.json()["upload_id"]


# --- authentication ---------------------------------------------------------------------------


def test_missing_signature(service: Service, world: World) -> None:
    site = world[0]
    refused(
        service,
        lambda: httpx.get(f"{service.url}/v1/sites/{site.site_id}"),
        401,
        "signature_missing",
    )


def test_bad_signature(service: Service, world: World) -> None:
    site = world[0]
    req = site.client.build(
        "PUT", f"/v1/sites/{site.site_id}/retention", json={"retention_days": 3}
    )
    sig = req.headers["signature"]
    req.headers["signature"] = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    refused(service, lambda: site.client.send(req), 401, "signature_invalid")


def test_signature_by_another_key(service: Service, world: World) -> None:
    site = world[0]
    forger = SignedClient(service.url, f"customer:{site.site_id}", Ed25519SigningKey.generate())
    refused(
        service,
        lambda: forger.put(f"/v1/sites/{site.site_id}/retention", json={"retention_days": 3}),
        401,
        "signature_invalid",
    )


def test_malformed_signature_input(service: Service, world: World) -> None:
    site = world[0]
    req = site.client.build("GET", f"/v1/sites/{site.site_id}")
    req.headers["signature-input"] = req.headers["signature-input"].replace(";", "; ", 1)
    refused(service, lambda: site.client.send(req), 401, "signature_malformed")


def test_unknown_keyid(service: Service, world: World) -> None:
    site = world[0]
    stranger = SignedClient(service.url, "customer:no-such-site", Ed25519SigningKey.generate())
    refused(service, lambda: stranger.get(f"/v1/sites/{site.site_id}"), 401, "unknown_key")
    weird = SignedClient(service.url, "root", Ed25519SigningKey.generate())
    refused(service, lambda: weird.get(f"/v1/sites/{site.site_id}"), 401, "unknown_key")


def test_replayed_request(service: Service, world: World) -> None:
    site = world[0]
    req = site.client.build(
        "PUT", f"/v1/sites/{site.site_id}/retention", json={"retention_days": 30}
    )
    assert site.client.send(req).status_code == 200
    refused(service, lambda: site.client.send(req), 401, "replayed_request")


def test_clock_skew_and_expiry(service: Service, world: World) -> None:
    site = world[0]
    now = int(time.time())
    future = site.client.build(
        "GET", f"/v1/sites/{site.site_id}", created=now + 600, expires=now + 660
    )
    refused(service, lambda: site.client.send(future), 401, "signature_clock_skew")
    old = site.client.build(
        "GET", f"/v1/sites/{site.site_id}", created=now - 1000, expires=now - 940
    )
    refused(service, lambda: site.client.send(old), 401, "signature_expired")
    long = site.client.build("GET", f"/v1/sites/{site.site_id}", created=now, expires=now + 86400)
    refused(service, lambda: site.client.send(long), 401, "signature_params_invalid")


def test_body_changed_after_signing(service: Service, world: World) -> None:
    site = world[0]
    req = site.client.build(
        "PUT", f"/v1/sites/{site.site_id}/retention", json={"retention_days": 3}
    )
    body = b'{"retention_days":1}'
    headers = dict(req.headers)
    headers["content-length"] = str(len(body))
    forged = httpx.Request("PUT", req.url, headers=headers, content=body)
    refused(service, lambda: site.client.send(forged), 401, "content_digest_mismatch")
    # ...and a matching Content-Digest does not help: the signature covers it
    headers["content-digest"] = content_digest(body)
    forged = httpx.Request("PUT", req.url, headers=headers, content=body)
    refused(service, lambda: site.client.send(forged), 401, "signature_invalid")


def test_body_not_covered(service: Service, world: World) -> None:
    from common.http import to_http_request
    from crypto.httpsig import SignatureParams, sign_request

    site = world[0]
    req = site.client.build(
        "PUT", f"/v1/sites/{site.site_id}/retention", json={"retention_days": 3}
    )
    now = int(time.time())
    params = SignatureParams(now, now + 30, f"customer:{site.site_id}", "n" * 22)
    si, sig = sign_request(
        to_http_request(req), ("@method", "@authority", "@path", "@query"), params, site.key
    )
    req.headers["signature-input"], req.headers["signature"] = si, sig
    refused(service, lambda: site.client.send(req), 401, "signature_component_missing")


# --- tenant and role checks -----------------------------------------------------------------


def test_wrong_site_and_wrong_principal(service: Service, world: World) -> None:
    site, cam, other = world
    refused(
        service, lambda: other.client.get(f"/v1/sites/{site.site_id}/recordings"), 403, "wrong_site"
    )
    refused(
        service,
        lambda: cam.client.get(f"/v1/sites/{site.site_id}/recordings"),
        403,
        "wrong_principal",
    )
    refused(
        service,
        lambda: other.cameras[0].client.post(
            f"{cam.base}/uploads", json=cam.record(b"x", advance=False).upload_body()
        ),
        403,
        "wrong_site",
    )


# --- request bodies ----------------------------------------------------------------------------


def test_unknown_fields(service: Service, world: World) -> None:
    site = world[0]
    body = refused(
        service,
        lambda: site.client.put(
            f"/v1/sites/{site.site_id}/retention", json={"retention_days": 3, "x": 1}
        ),
        422,
        "validation_error",
    )
    assert body["error"]["details"][0]["type"] == "extra_forbidden"


def test_wrong_types_and_invalid_json(service: Service, world: World) -> None:
    site = world[0]
    path = f"/v1/sites/{site.site_id}/retention"
    refused(
        service,
        lambda: site.client.put(path, json={"retention_days": "3"}),
        422,
        "validation_error",
    )
    refused(service, lambda: site.client.put(path, json=[1, 2]), 422, "validation_error")
    refused(
        service,
        lambda: site.client.put(path, content=b"{not json", content_type="application/json"),
        422,
        "validation_error",
    )
    refused(
        service,
        lambda: site.client.get(f"/v1/sites/{site.site_id}/recordings", params={"cursor": "!!"}),
        400,
        "invalid_cursor",
    )
    refused(
        service,
        lambda: site.client.get(f"/v1/sites/{site.site_id}/recordings", params={"limit": "x"}),
        422,
        "validation_error",
    )


def test_wrong_content_type(service: Service, world: World) -> None:
    site = world[0]
    refused(
        service,
        lambda: site.client.put(
            f"/v1/sites/{site.site_id}/retention",
            content=b"retention_days=3",
            content_type="text/plain",
        ),
        415,
        "unsupported_media_type",
    )


def test_oversize_body(service: Service, world: World) -> None:
    site = world[0]
    big = {"retention_days": 3, "pad": "x" * (2 * 1024 * 1024)}
    refused(
        service,
        lambda: site.client.put(f"/v1/sites/{site.site_id}/retention", json=big),
        413,
        "body_too_large",
    )

    def chunked() -> httpx.Response:
        req = site.client.build("PUT", f"/v1/sites/{site.site_id}/retention", json=big)
        content = req.content
        headers = {k: v for k, v in req.headers.items() if k.lower() != "content-length"}

        def gen() -> Iterator[bytes]:
            for i in range(0, len(content), 65536):
                yield content[i : i + 65536]

        return site.client.send(httpx.Request("PUT", req.url, headers=headers, content=gen()))

    refused(service, chunked, 413, "body_too_large")


def test_upload_request_limits(service: Service, world: World) -> None:
    _site, cam, _ = world
    rec = cam.record(b"x", advance=False)
    refused(
        service,
        lambda: cam.client.post(f"{cam.base}/uploads", json=rec.upload_body(payload_size=10**15)),
        413,
        "recording_too_large",
    )
    refused(
        service,
        lambda: cam.client.post(f"{cam.base}/uploads", json=rec.upload_body(start_ms=10, end_ms=5)),
        400,
        "invalid_range",
    )
    refused(
        service,
        lambda: cam.client.post(
            f"{cam.base}/uploads", json=rec.upload_body(multipart=True, part_size=1024)
        ),
        422,
        "multipart_invalid",
    )


# --- statements --------------------------------------------------------------------------------


def test_site_keys_change_needs_pinned_key(service: Service, world: World) -> None:
    site = world[0]
    intruder = Ed25519SigningKey.generate()
    forged = site_keys_statement(
        site.site_id, intruder, site.identity, site.custodians, version=2, signer=intruder
    )
    refused(
        service,
        lambda: site.client.put(
            f"/v1/sites/{site.site_id}/keys", json={"site_keys": forged.to_json()}
        ),
        422,
        "statement_signature_invalid",
    )
    stale = site_keys_statement(site.site_id, site.key, site.identity, site.custodians, version=1)
    refused(
        service,
        lambda: site.client.put(
            f"/v1/sites/{site.site_id}/keys", json={"site_keys": stale.to_json()}
        ),
        422,
        "site_keys_invalid",
    )
    garbage = dict(site.site_keys.to_json(), sig="AAAA")
    refused(
        service,
        lambda: site.client.put(f"/v1/sites/{site.site_id}/keys", json={"site_keys": garbage}),
        422,
        "statement_invalid",
    )


def test_existing_site_cannot_be_taken_over(service: Service, world: World) -> None:
    """Another key cannot claim the site's id: the id is bound to the site's own key."""
    site = world[0]
    key = Ed25519SigningKey.generate()
    st = site_keys_statement(site.site_id, key, site.identity, site.custodians)
    client = SignedClient(service.url, f"customer:{site.site_id}", key)
    refused(
        service,
        lambda: client.post("/v1/sites", json={"site_keys": st.to_json()}),
        422,
        "site_id_not_bound",
    )
    # The site's own key, with different SiteKeys for the same id: the site exists.
    again = site_keys_statement(site.site_id, site.key, site.identity, site.custodians)
    refused(
        service,
        lambda: site.client.post("/v1/sites", json={"site_keys": again.to_json()}),
        409,
        "site_exists",
    )


def test_device_enrollment_needs_customer_signature(service: Service, world: World) -> None:
    from crypto.statements import CameraProfile, DeviceEnrollment, DeviceKind

    site = world[0]
    e = DeviceEnrollment(
        site.site_id,
        "cam-x",
        DeviceKind.CAMERA,
        "m",
        Ed25519SigningKey.generate().public_key,
        CameraProfile(1, 1, False, False),
        1,
    )
    forged = sign_statement(e, Ed25519SigningKey.generate())
    refused(
        service,
        lambda: site.client.post(
            f"/v1/sites/{site.site_id}/devices", json={"enrollment": forged.to_json()}
        ),
        422,
        "statement_signature_invalid",
    )


# --- commit ------------------------------------------------------------------------------------


def _commit(cam: Camera, rec: Recording, body: dict[str, Any]) -> Callable[[], httpx.Response]:
    return lambda: cam.client.post(f"{cam.base}/recordings/{rec.recording_id}/commit", json=body)


def _resign(cam: Camera, rec: Recording, **changes: Any) -> dict[str, Any]:
    m = rec.manifest.unverified_statement
    assert isinstance(m, Manifest)
    fields = {k: getattr(m, k) for k in Manifest.FIELDS}
    fields.update(changes)
    return sign_statement(Manifest(**fields), cam.key).to_json()


def test_malformed_header(service: Service, pending: tuple[Camera, Recording, str]) -> None:
    cam, rec, up = pending
    bad = b"age-encryption.org/v2\n--- AAAA\n"
    body = rec.commit_body(up)
    body["header"] = base64.b64encode(bad).decode()
    body["manifest"] = _resign(cam, rec, header_sha256=hashlib.sha256(bad).digest())
    refused(service, _commit(cam, rec, body), 422, "header_malformed")
    body["header"] = "not base64!"
    refused(service, _commit(cam, rec, body), 422, "header_malformed")


def _over_cap_header() -> bytes:
    """A grammatical age header of MAX_STANZAS + 1 empty stanzas, written by hand (the
    encoder refuses to write one)."""
    without_mac = VERSION_LINE + b"-> X\n\n" * (MAX_STANZAS + 1) + MAC_MARK
    return without_mac + b" " + b64encode(bytes(32)).encode() + b"\n"


def test_header_over_the_stanza_cap(
    service: Service, pending: tuple[Camera, Recording, str]
) -> None:
    """The camera signed the over-cap header's hash: only the stanza cap can refuse it."""
    cam, rec, up = pending
    bad = _over_cap_header()
    body = rec.commit_body(up)
    body["header"] = base64.b64encode(bad).decode()
    body["manifest"] = _resign(cam, rec, header_sha256=hashlib.sha256(bad).digest())
    refused(service, _commit(cam, rec, body), 413, "header_too_many_stanzas")


def test_rewrapped_header_over_the_stanza_cap(service: Service, world: World) -> None:
    site, cam, _ = world
    rec = cam.record(b"rewrap " * 100)
    assert cam.upload(rec).status_code == 201
    path = f"{cam.base}/recordings/{rec.recording_id}/header"
    body = {"header": base64.b64encode(_over_cap_header()).decode()}
    refused(service, lambda: site.client.put(path, json=body), 413, "header_too_many_stanzas")


def test_header_hash_mismatch(service: Service, pending: tuple[Camera, Recording, str]) -> None:
    cam, rec, up = pending
    other = cam.record(b"other", advance=False)
    body = rec.commit_body(up)
    body["header"] = base64.b64encode(other.header).decode()
    refused(service, _commit(cam, rec, body), 422, "header_hash_mismatch")


def test_manifest_mismatch_and_signature(
    service: Service, pending: tuple[Camera, Recording, str]
) -> None:
    cam, rec, up = pending
    m = rec.manifest.unverified_statement
    assert isinstance(m, Manifest)
    for change in ({"payload_size": 1}, {"end_ms": m.end_ms + 1}, {"recording_id": "rec-other"}):
        body = rec.commit_body(up, manifest=_resign(cam, rec, **change))
        refused(service, _commit(cam, rec, body), 422, "manifest_mismatch")
    foreign = sign_statement(m, Ed25519SigningKey.generate()).to_json()
    refused(
        service,
        _commit(cam, rec, rec.commit_body(up, manifest=foreign)),
        422,
        "statement_signature_invalid",
    )
    tampered = json.loads(json.dumps(rec.manifest.to_json()))
    tampered["body"]["start_ms"] += 1
    refused(
        service,
        _commit(cam, rec, rec.commit_body(up, manifest=tampered)),
        422,
        "statement_signature_invalid",
    )


def test_broken_chain(service: Service, pending: tuple[Camera, Recording, str]) -> None:
    cam, rec, up = pending
    skip = rec.commit_body(
        up, manifest=_resign(cam, rec, sequence=cam.sequence + 1, prev_manifest_sha256=b"\1" * 32)
    )
    refused(service, _commit(cam, rec, skip), 409, "manifest_chain_broken")
    if cam.sequence > 0:
        wrong_prev = rec.commit_body(
            up, manifest=_resign(cam, rec, prev_manifest_sha256=b"\2" * 32)
        )
        refused(service, _commit(cam, rec, wrong_prev), 409, "manifest_chain_broken")


def test_object_checks(service: Service, world: World) -> None:
    _site, cam, _ = world
    # nothing uploaded
    rec = cam.record(b"missing " * 100, advance=False)
    up = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body()).json()
    refused(service, _commit(cam, rec, rec.commit_body(up["upload_id"])), 422, "object_missing")
    # same size, other bytes
    flipped = bytes([rec.payload[0] ^ 1]) + rec.payload[1:]
    assert httpx.put(up["put_url"], content=flipped).status_code == 200
    refused(
        service, _commit(cam, rec, rec.commit_body(up["upload_id"])), 422, "object_hash_mismatch"
    )
    # other size
    assert httpx.put(up["put_url"], content=rec.payload + b"x").status_code == 200
    refused(
        service, _commit(cam, rec, rec.commit_body(up["upload_id"])), 422, "object_size_mismatch"
    )
    # unknown upload id
    refused(service, _commit(cam, rec, rec.commit_body("0" * 32)), 404, "upload_not_found")
    # and the right bytes then commit fine
    assert httpx.put(up["put_url"], content=rec.payload).status_code == 200
    r = _commit(cam, rec, rec.commit_body(up["upload_id"]))()
    assert r.status_code == 201, r.text
    cam.sequence += 1
    cam.prev = manifest_hash(rec.manifest)


def test_conflicting_manifest_for_committed_recording(service: Service, world: World) -> None:
    _site, cam, _ = world
    rec = cam.record(b"committed " * 100)
    assert cam.upload(rec).status_code == 201
    other = _resign(cam, rec, issued_at_ms=1)
    refused(
        service,
        _commit(cam, rec, rec.commit_body("0" * 32, manifest=other)),
        409,
        "recording_conflict",
    )


def test_presigned_url_tampering(embedded: Service) -> None:
    """The embedded store's presigned URLs are served by the API: a URL changed in any way
    (other key, other method, expired) is refused."""
    site = create_site(embedded.url)
    cam = site.enroll_camera()
    rec = cam.record(b"presigned " * 50, advance=False)
    url = cam.client.post(f"{cam.base}/uploads", json=rec.upload_body()).json()["put_url"]
    other = url.replace(rec.recording_id, rec.recording_id + "x")
    refused(embedded, lambda: httpx.put(other, content=b"evil"), 403, "presigned_url_refused")
    refused(embedded, lambda: httpx.get(url), 403, "presigned_url_refused")
    expired = url.replace("expires=", "expires=1")
    refused(embedded, lambda: httpx.put(expired, content=b"evil"), 403, "presigned_url_refused")
    site.close()


def test_revoked_camera_is_refused(service: Service, world: World) -> None:
    site = world[0]
    cam = site.enroll_camera()
    r = site.client.delete(f"/v1/sites/{site.site_id}/devices/{cam.camera_id}")
    assert r.status_code == 200 and r.json()["revoked"] is True
    refused(
        service,
        lambda: cam.client.post(f"{cam.base}/uploads", json=cam.record(b"x").upload_body()),
        403,
        "device_revoked",
    )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "upload_id",
                        "header",
                        "manifest",
                        "parts",
                        "recording_id",
                        "kind",
                        "start_ms",
                        "end_ms",
                        "payload_size",
                        "multipart",
                        "part_size",
                        "site_keys",
                        "x",
                    ]
                ),
                inner,
                max_size=6,
            )
        ),
        max_leaves=12,
    ),
    which=st.integers(0, 3),
)
def test_random_bodies_never_give_a_500(embedded: Service, body: Any, which: int) -> None:
    site, cam = _fuzz_world(embedded)
    path, client = [
        (f"{cam.base}/uploads", cam.client),
        (f"{cam.base}/recordings/rec-fuzz/commit", cam.client),
        (f"/v1/sites/{site.site_id}/keys", site.client),
        (f"/v1/sites/{site.site_id}/devices", site.client),
    ][which]
    r = client.post(path, json=body) if which != 2 else client.put(path, json=body)
    assert r.status_code < 500, r.text
    assert "error" in r.json() or r.status_code in (200, 201)


_FUZZ: dict[str, tuple[CustomerSite, Camera]] = {}


def _fuzz_world(service: Service) -> tuple[CustomerSite, Camera]:
    if service.url not in _FUZZ:
        site = create_site(service.url)
        _FUZZ[service.url] = (site, site.enroll_camera())
    return _FUZZ[service.url]
