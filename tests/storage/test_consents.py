"""Consents: a technician's request reaches the customer, who approves it with a signed
Consent (every refusal with its reason code and nothing changed) or refuses it, and revokes
it; the grantee then sees only the consented recordings, and nothing after revocation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from common.http import SignedClient
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import (
    Consent,
    ConsentScope,
    OperatorRole,
    Purpose,
    Revocation,
    sign_statement,
)
from tests.storage.support import Camera, CustomerSite, Service, create_site
from tests.storage.support_arc import count, op_id, operator, refused, start

HOUR_MS = 3_600_000


@pytest.fixture(scope="module", params=["embedded", "pg_minio"])
def arc(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from start(request, request.param)


def request_body(cam: Camera, **extra: Any) -> dict[str, Any]:
    return {
        "cameras": [cam.camera_id],
        "scope": ["recordings"],
        "recordings_from_ms": now_ms() - HOUR_MS,
        "recordings_to_ms": now_ms() + 60_000,
        "duration_s": 3600,
        "reason": "camera 1 loses focus at night",
        **extra,
    }


def consent(
    site: CustomerSite,
    grantee: str,
    cameras: list[str],
    *,
    key: Ed25519SigningKey | None = None,
    validity_ms: int = HOUR_MS,
    consent_id: str | None = None,
    grantee_key: Any = None,
    not_before_ms: int | None = None,
) -> dict[str, Any]:
    start_ms = now_ms() if not_before_ms is None else not_before_ms
    c = Consent(
        consent_id=consent_id or f"cons-{uuid.uuid4().hex[:8]}",
        site_id=site.site_id,
        grantee_id=grantee,
        grantee_key=grantee_key,
        cameras=tuple(cameras),
        scope=(ConsentScope.RECORDINGS,),
        recordings_from_ms=now_ms() - HOUR_MS,
        recordings_to_ms=now_ms() + 60_000,
        not_before_ms=start_ms,
        not_after_ms=start_ms + validity_ms,
        purpose=Purpose.MAINTENANCE,
        issued_at_ms=now_ms(),
    )
    return sign_statement(c, key or site.key).to_json()


def ask(site: CustomerSite, tech: SignedClient, cam: Camera) -> dict[str, Any]:
    r = tech.post(f"/v1/sites/{site.site_id}/consent-requests", json=request_body(cam))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_request_approve_use_revoke(arc: Service) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    rec = cam.record(b"maintenance footage " * 100)
    assert cam.upload(rec).status_code == 201
    tech = operator(arc, OperatorRole.TECHNICIAN)
    req = ask(site, tech, cam)
    assert req["state"] == "pending" and req["operator_id"] == op_id(tech)
    base = f"/v1/sites/{site.site_id}"
    listed = site.client.get(f"{base}/consent-requests", params={"state": "pending"}).json()
    assert [r["request_id"] for r in listed["items"]] == [req["request_id"]]
    inbox = site.client.get(f"{base}/inbox", params={"kind": "consent_request"}).json()["items"]
    assert [i["source_ref"] for i in inbox] == [req["request_id"]]

    recs = f"{base}/arc/recordings"
    refused(arc, lambda: tech.get(recs), 403, "no_justification")
    body = {
        "consent": consent(site, op_id(tech), [cam.camera_id], grantee_key=tech.key.public_key),
        "request_id": req["request_id"],
    }
    r = site.client.post(f"{base}/consents", json=body)
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["consent"] == body["consent"] and stored["revoked"] is False
    assert site.client.post(f"{base}/consents", json=body).status_code == 200  # retried
    mine = tech.get("/v1/consent-requests").json()["items"]
    assert mine[0]["state"] == "approved" and mine[0]["consent_id"] == stored["consent_id"]
    assert [c["consent"] for c in tech.get("/v1/consents").json()["items"]] == [body["consent"]]
    # the grantee now sees the consented recordings (and their headers)
    assert [i["recording_id"] for i in tech.get(recs).json()["items"]] == [rec.recording_id]
    detail = tech.get(f"{base}/arc/cameras/{cam.camera_id}/recordings/{rec.recording_id}")
    assert detail.status_code == 200 and detail.json()["header"]
    # another technician does not
    other = operator(arc, OperatorRole.TECHNICIAN)
    refused(arc, lambda: other.get(recs), 403, "no_justification")

    rev = Revocation(site.site_id, stored["consent_id"], now_ms())
    refused(
        arc,
        lambda: site.client.post(
            f"{base}/revocations",
            json={"revocation": sign_statement(rev, Ed25519SigningKey.generate()).to_json()},
        ),
        422,
        "statement_signature_invalid",
    )
    unknown = Revocation(site.site_id, "cons-unknown", now_ms())
    refused(
        arc,
        lambda: site.client.post(
            f"{base}/revocations", json={"revocation": sign_statement(unknown, site.key).to_json()}
        ),
        404,
        "consent_not_found",
    )
    refused(
        arc,
        lambda: tech.post(
            f"{base}/revocations", json={"revocation": sign_statement(rev, site.key).to_json()}
        ),
        403,
        "wrong_principal",
    )
    r = site.client.post(
        f"{base}/revocations", json={"revocation": sign_statement(rev, site.key).to_json()}
    )
    assert r.status_code == 200 and r.json()["revoked"] is True and r.json()["revocation"]
    refused(arc, lambda: tech.get(recs), 403, "no_justification")
    assert tech.get("/v1/consents").json()["items"][0]["revoked"] is True
    tech.close()
    other.close()
    site.close()


def test_consent_refusals(arc: Service) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    tech = operator(arc, OperatorRole.TECHNICIAN)
    other_tech = operator(arc, OperatorRole.TECHNICIAN)
    req = ask(site, tech, cam)
    path = f"/v1/sites/{site.site_id}/consents"
    me, rid = op_id(tech), req["request_id"]

    def post(c: dict[str, Any], request_id: str | None = rid) -> Any:
        return lambda: site.client.post(path, json={"consent": c, "request_id": request_id})

    refused(
        arc,
        post(consent(site, me, [cam.camera_id], key=Ed25519SigningKey.generate())),
        422,
        "statement_signature_invalid",
    )
    refused(arc, post(consent(site, op_id(other_tech), [cam.camera_id])), 422, "consent_invalid")
    refused(
        arc,
        post(consent(site, me, [cam.camera_id], validity_ms=3 * 24 * HOUR_MS)),
        422,
        "consent_invalid",
    )
    refused(arc, post(consent(site, me, [cam.camera_id, "cam-nope"])), 422, "consent_invalid")
    refused(arc, post(consent(site, "nobody", [cam.camera_id]), None), 422, "consent_invalid")
    wrong_key = Ed25519SigningKey.generate().public_key
    refused(
        arc, post(consent(site, me, [cam.camera_id], grantee_key=wrong_key)), 422, "consent_invalid"
    )
    expired = consent(site, me, [cam.camera_id], not_before_ms=now_ms() - 3 * HOUR_MS)
    refused(arc, post(expired), 422, "consent_invalid")
    refused(
        arc, post(consent(site, me, [cam.camera_id]), "0" * 32), 404, "consent_request_not_found"
    )
    other_site = create_site(arc.url)
    foreign = consent(other_site, me, [cam.camera_id])
    refused(arc, post(foreign), 422, "statement_signature_invalid")  # not the pinned key
    refused(
        arc,
        lambda: tech.post(path, json={"consent": consent(site, me, [cam.camera_id])}),
        403,
        "wrong_principal",
    )
    refused(
        arc,
        lambda: site.client.post(path, json={"consent": {"body": {}}}),
        422,
        "statement_invalid",
    )

    fixed = consent(site, me, [cam.camera_id], consent_id="cons-fixed")
    assert site.client.post(path, json={"consent": fixed, "request_id": rid}).status_code == 201
    again = consent(site, me, [cam.camera_id], consent_id="cons-fixed", validity_ms=HOUR_MS // 2)
    refused(arc, post(again, None), 409, "consent_conflict")
    refused(arc, post(consent(site, me, [cam.camera_id])), 409, "consent_request_decided")
    other_site.close()
    tech.close()
    other_tech.close()
    site.close()


def test_request_refusals_and_customer_refusal(arc: Service) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    tech = operator(arc, OperatorRole.TECHNICIAN)
    op = operator(arc)
    path = f"/v1/sites/{site.site_id}/consent-requests"
    refused(arc, lambda: op.post(path, json=request_body(cam)), 403, "role_not_allowed")
    refused(arc, lambda: site.client.post(path, json=request_body(cam)), 403, "wrong_principal")
    refused(
        arc,
        lambda: tech.post(path, json=request_body(cam, cameras=["cam-nope"])),
        404,
        "device_not_found",
    )
    refused(
        arc,
        lambda: tech.post(path, json=request_body(cam, recordings_to_ms=0)),
        400,
        "invalid_range",
    )
    refused(
        arc,
        lambda: tech.post(path, json=request_body(cam, duration_s=30 * 86400)),
        422,
        "validation_error",
    )
    refused(
        arc,
        lambda: tech.post(path, json=request_body(cam, scope=["everything"])),
        422,
        "validation_error",
    )
    refused(arc, lambda: tech.post(path, json=request_body(cam, why="x")), 422, "validation_error")

    req = ask(site, tech, cam)
    refusals = f"/v1/sites/{site.site_id}/consent-refusals"
    refused(
        arc,
        lambda: tech.post(refusals, json={"request_id": req["request_id"]}),
        403,
        "wrong_principal",
    )
    r = site.client.post(refusals, json={"request_id": req["request_id"], "reason": "not now"})
    assert r.status_code == 200 and r.json()["state"] == "refused"
    assert tech.get("/v1/consent-requests").json()["items"][0]["refusal_reason"] == "not now"
    late = {"consent": consent(site, op_id(tech), [cam.camera_id]), "request_id": req["request_id"]}
    refused(
        arc,
        lambda: site.client.post(f"/v1/sites/{site.site_id}/consents", json=late),
        409,
        "consent_request_decided",
    )
    assert count(arc, "consents", f"site_id = '{site.site_id}'") == 0
    tech.close()
    op.close()
    site.close()
