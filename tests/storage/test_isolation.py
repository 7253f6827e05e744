"""Tenant isolation: every site-scoped route, called with the customer key and with a camera
key of ANOTHER site, is refused with 403 ``wrong_site`` and changes nothing; an operator key
gets ``wrong_principal``. The route list comes from the running service's OpenAPI document
(plus the undocumented ones), so a new route is covered automatically."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.storage.support import Service, create_site, snapshot

# Routes that are not in the OpenAPI document but are site-scoped: none. (/blobs is authorised
# by presigned URLs, /healthz /readyz /metrics are public.)
EXTRA: list[tuple[str, str]] = []


def _routes(service: Service) -> list[tuple[str, str]]:
    doc = httpx.get(service.url + "/openapi.json").json()
    out = [
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method in ops
        if "{site_id}" in path
    ]
    return out + EXTRA


def test_every_site_route_refuses_other_sites(service: Service) -> None:
    victim = create_site(service.url)
    cam = victim.enroll_camera()
    rec = cam.record(b"secret-ish ciphertext " * 100)
    assert cam.upload(rec).status_code == 201
    attacker = create_site(service.url)
    attacker_cam = attacker.enroll_camera()

    routes = _routes(service)
    assert len(routes) >= 12, routes
    values = {
        "site_id": victim.site_id,
        "camera_id": cam.camera_id,
        "device_id": cam.camera_id,
        "recording_id": rec.recording_id,
    }
    before = snapshot(service)
    for method, template in routes:
        path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
        body: dict[str, Any] | None = {} if method in ("POST", "PUT") else None
        for client in (attacker.client, attacker_cam.client):
            r = client.request(method, path, json=body)
            assert r.status_code == 403, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "wrong_site", (method, path, r.text)
    assert snapshot(service) == before
    # and the victim still reads its recording
    assert victim.client.get(f"{cam.base}/recordings/{rec.recording_id}").status_code == 200
    victim.close()
    attacker.close()
