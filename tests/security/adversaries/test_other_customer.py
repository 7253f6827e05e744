"""Adversary: another site's customer (site B, with its own valid customer key) acts on
site A: list, read, export, delete, re-key, retention, devices, consents, revocations,
cancels and deletions, at the storage service and at every custodian. Each attempt is
refused for its reason; the control is A's own customer sending the same request (with
the statements inside signed by A's key): it succeeds, so the refusal was B's alone."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from clients.common import signed_from_json
from common.http import SignedClient
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import (
    AlarmCancel,
    Consent,
    ConsentScope,
    DeviceEnrollment,
    DeviceKind,
    OperatorRole,
    Purpose,
    RecordingDeletion,
    Revocation,
    SignedStatement,
    SiteKeys,
    sign_statement,
)
from tests.security.adversaries.support import Arena, Home, enlist, new_home
from tests.security.matrix import attack, case

GRANTEE = "tech-cus"


@dataclass
class Sites:
    a: Home
    b: Home
    c: Home  # victim of the settings change (its control is a change A's audit would flag)


@pytest.fixture(scope="module")
def sites(arena: Arena) -> Sites:
    enlist(arena, OperatorRole.TECHNICIAN, GRANTEE)
    return Sites(new_home(arena), new_home(arena), new_home(arena))


def consent_of(home: Home, key: Ed25519SigningKey) -> SignedStatement:
    now = now_ms()
    body = Consent(
        consent_id=f"c-{uuid.uuid4().hex[:8]}",
        site_id=home.site_id,
        grantee_id=GRANTEE,
        grantee_key=None,
        cameras=("cam-front",),
        scope=(ConsentScope.RECORDINGS,),
        recordings_from_ms=now - 60_000,
        recordings_to_ms=now,
        not_before_ms=now - 1_000,
        not_after_ms=now + 600_000,
        purpose=Purpose.MAINTENANCE,
        issued_at_ms=now,
    )
    return sign_statement(body, key)


def panel_of(home: Home, key: Ed25519SigningKey) -> SignedStatement:
    body = DeviceEnrollment(
        home.site_id,
        f"panel-{uuid.uuid4().hex[:6]}",
        DeviceKind.PANEL,
        "panel-x",
        Ed25519SigningKey.generate().public_key,
        None,
        now_ms(),
    )
    return sign_statement(body, key)


# A request against site A: (method, path, json body, status of the control).
Request = tuple[str, str, dict[str, Any] | None, int]
# Built from A's site and the key that signs the statements inside it (B's in the attack,
# A's own in the control).
Build = Callable[[Home, Ed25519SigningKey], Request]


def _recording(home: Home) -> str:
    rec = home.upload(now_ms() - 5_000)
    return f"/v1/sites/{home.site_id}/cameras/cam-front/recordings/{rec.metadata.recording_id}"


def _site_keys(home: Home, key: Ed25519SigningKey) -> SignedStatement:
    """A's current SiteKeys, re-signed by ``key`` (B's: a takeover; A's: unchanged)."""
    current = home.state.config.site_keys
    assert current is not None
    st = signed_from_json(current).unverified_statement
    assert isinstance(st, SiteKeys)
    return (
        signed_from_json(current)
        if key == home.key
        else sign_statement(
            SiteKeys(
                site_id=st.site_id,
                version=st.version + 1,
                customer_key=key.public_key,
                recipients=st.recipients,
                custodians=st.custodians,
                threshold=st.threshold,
                issued_at_ms=now_ms(),
            ),
            key,
        )
    )


def _header(home: Home, key: Ed25519SigningKey) -> Request:
    rec = home.upload(now_ms() - 5_000)
    path = f"/v1/sites/{home.site_id}/cameras/cam-front/recordings/{rec.metadata.recording_id}"
    return "PUT", path + "/header", {"header": base64.b64encode(rec.header).decode()}, 200


def _revocation(home: Home, key: Ed25519SigningKey) -> Request:
    consent = consent_of(home, home.key)
    home.store_consent(consent)
    cid = consent.unverified_statement.consent_id  # type: ignore[attr-defined]
    rev = sign_statement(Revocation(home.site_id, cid, now_ms()), key)
    return "POST", f"/v1/sites/{home.site_id}/revocations", {"revocation": rev.to_json()}, 200


def _cancel(home: Home, key: Ed25519SigningKey) -> Request:
    _, event = home.alarm()
    ev = event.unverified_statement
    cancel = sign_statement(AlarmCancel(home.site_id, ev.panel_id, ev.event_id, now_ms()), key)  # type: ignore[attr-defined]
    return "POST", f"/v1/sites/{home.site_id}/alarms/cancel", {"cancel": cancel.to_json()}, 200


def _revoke_device(home: Home, key: Ed25519SigningKey) -> Request:
    panel = panel_of(home, home.key)
    with home.storage() as s:
        s.enroll_device(home.site_id, panel)
    device_id = panel.unverified_statement.device_id  # type: ignore[attr-defined]
    return "DELETE", f"/v1/sites/{home.site_id}/devices/{device_id}", None, 200


def _get(suffix: str) -> Build:
    return lambda h, k: ("GET", f"/v1/sites/{h.site_id}{suffix}", None, 200)


STORAGE = [
    case("CUS-01", "read another site's keys and settings", "wrong_site", _get("")),
    case("CUS-02", "list another site's recordings", "wrong_site", _get("/recordings")),
    case(
        "CUS-03",
        "read another site's recording (header, presigned GET)",
        "wrong_site",
        lambda h, k: ("GET", _recording(h), None, 200),
    ),
    case(
        "CUS-04",
        "export another site's recording as an age file",
        "wrong_site",
        lambda h, k: ("GET", _recording(h) + "/export", None, 200),
    ),
    case(
        "CUS-05",
        "delete another site's recording",
        "wrong_site",
        lambda h, k: ("DELETE", _recording(h), None, 200),
    ),
    case(
        "CUS-06",
        "delete a time range of another site's recordings",
        "wrong_site",
        lambda h, k: (
            "DELETE",
            f"/v1/sites/{h.site_id}/recordings?from_ms=1000&to_ms=2000",
            None,
            200,
        ),
    ),
    case(
        "CUS-07",
        "change another site's retention",
        "wrong_site",
        lambda h, k: ("PUT", f"/v1/sites/{h.site_id}/retention", {"retention_days": 30}, 200),
    ),
    case(
        "CUS-08",
        "replace another site's keys with its own",
        "wrong_site",
        lambda h, k: (
            "PUT",
            f"/v1/sites/{h.site_id}/keys",
            {"site_keys": _site_keys(h, k).to_json()},
            200,
        ),
    ),
    case(
        "CUS-09",
        "enroll a device of its own at another site",
        "wrong_site",
        lambda h, k: (
            "POST",
            f"/v1/sites/{h.site_id}/devices",
            {"enrollment": panel_of(h, k).to_json()},
            201,
        ),
    ),
    case("CUS-10", "revoke another site's device", "wrong_site", _revoke_device),
    case("CUS-11", "list another site's devices", "wrong_site", _get("/devices")),
    case(
        "CUS-12",
        "grant a consent on another site's cameras",
        "wrong_site",
        lambda h, k: (
            "POST",
            f"/v1/sites/{h.site_id}/consents",
            {"consent": consent_of(h, k).to_json()},
            201,
        ),
    ),
    case("CUS-13", "revoke another site's consent", "wrong_site", _revocation),
    case("CUS-14", "list another site's consents", "wrong_site", _get("/consents")),
    case("CUS-15", "cancel another site's alarm", "wrong_site", _cancel),
    case("CUS-16", "list another site's alarms", "wrong_site", _get("/alarms")),
    case("CUS-17", "read another site's inbox (access notices)", "wrong_site", _get("/inbox")),
    case("CUS-18", "replace another site's recording header", "wrong_site", _header),
]


@pytest.mark.parametrize(("reason", "build"), STORAGE)
def test_storage_refuses_another_sites_customer(sites: Sites, reason: str, build: Build) -> None:
    url = sites.a.arena.storage_url
    method, path, body, _ = build(sites.a, sites.b.key)
    with sites.b.customer_client(url) as b:
        resp = b.request(method, path, json=body)
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == reason
    # Control: the same request from A's own customer.
    method, path, body, ok = build(sites.a, sites.a.key)
    with sites.a.customer_client(url) as a:
        resp = a.request(method, path, json=body)
    assert resp.status_code == ok, resp.text


@attack("CUS-19", "delete another site", "wrong_site")
def test_storage_refuses_to_delete_another_site(arena: Arena, sites: Sites) -> None:
    victim = new_home(arena)
    with sites.b.customer_client(arena.storage_url) as b:
        resp = b.delete(f"/v1/sites/{victim.site_id}")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "wrong_site", resp.text
    with victim.storage() as s:
        assert list(s.recordings(victim.site_id)) == []  # the site is still there
    with victim.customer_client(arena.storage_url) as a:
        assert a.delete(f"/v1/sites/{victim.site_id}").status_code == 200


@attack("CUS-20", "sign requests as another site's customer with its own key", "signature_invalid")
def test_storage_refuses_a_request_signed_as_another_customer(sites: Sites) -> None:
    url = sites.a.arena.storage_url
    with SignedClient(url, f"customer:{sites.a.site_id}", sites.b.key) as impostor:
        resp = impostor.get(f"/v1/sites/{sites.a.site_id}/recordings")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "signature_invalid"
    with sites.a.customer_client(url) as a:
        assert a.get(f"/v1/sites/{sites.a.site_id}/recordings").status_code == 200


# --- at the custodians ----------------------------------------------------------------------


def _signed_get(suffix: str) -> Build:
    return lambda h, k: ("GET", f"/v1/sites/{h.site_id}{suffix}", None, 200)


AUTHENTICATED = [
    case(
        "CUS-21",
        "read another site's access notices at a custodian",
        "wrong_principal",
        _signed_get("/notices"),
    ),
    case(
        "CUS-22",
        "read another site's log entries through the site route",
        "wrong_principal",
        _signed_get("/log-entries"),
    ),
    case(
        "CUS-23",
        "change another site's alarm access period at a custodian",
        "wrong_principal",
        lambda h, k: ("PUT", f"/v1/sites/{h.site_id}/settings", {"access_period_s": 120}, 200),
    ),
]


@pytest.mark.parametrize(("reason", "build"), AUTHENTICATED)
def test_custodians_refuse_another_sites_customer(sites: Sites, reason: str, build: Build) -> None:
    for c in sites.c.arena.world.custodians:
        method, path, body, ok = build(sites.c, sites.b.key)
        with sites.b.customer_client(c.url) as b:
            resp = b.request(method, path, json=body)
        assert resp.status_code == 403, resp.text
        assert resp.json()["error"]["code"] == reason
        with sites.c.customer_client(c.url) as a:
            assert a.request(method, path, json=body).status_code == ok


def _deletion(h: Home, k: Ed25519SigningKey) -> Request:
    d = RecordingDeletion(h.site_id, "cam-front", (f"rec-{uuid.uuid4().hex[:8]}",), now_ms())
    return (
        "POST",
        f"/v1/sites/{h.site_id}/deletions",
        {"deletion": sign_statement(d, k).to_json()},
        200,
    )


def _cancel_at_custodian(h: Home, k: Ed25519SigningKey) -> Request:
    c = AlarmCancel(h.site_id, "panel-1", f"ev-{uuid.uuid4().hex[:8]}", now_ms())
    return (
        "POST",
        f"/v1/sites/{h.site_id}/alarm-cancels",
        {"alarm_cancel": sign_statement(c, k).to_json()},
        200,
    )


def _revocation_at_custodian(h: Home, k: Ed25519SigningKey) -> Request:
    r = Revocation(h.site_id, f"c-{uuid.uuid4().hex[:8]}", now_ms())
    return (
        "POST",
        f"/v1/sites/{h.site_id}/revocations",
        {"revocation": sign_statement(r, k).to_json()},
        200,
    )


STATEMENTS = [
    case(
        "CUS-24",
        "revoke a consent of another site at the custodians",
        "bad_signature",
        _revocation_at_custodian,
    ),
    case(
        "CUS-25",
        "cancel another site's alarm at the custodians",
        "bad_signature",
        _cancel_at_custodian,
    ),
    case(
        "CUS-26", "delete another site's recordings at the custodians", "bad_signature", _deletion
    ),
    case(
        "CUS-27",
        "enroll a device of its own at another site's custodians",
        "bad_signature",
        lambda h, k: (
            "POST",
            f"/v1/sites/{h.site_id}/devices",
            {"device_enrollment": panel_of(h, k).to_json()},
            200,
        ),
    ),
    case(
        "CUS-28",
        "re-key another site at the custodians",
        "pin_mismatch",
        lambda h, k: ("POST", "/v1/sites", {"site_keys": _site_keys(h, k).to_json()}, 200),
    ),
]


@pytest.mark.parametrize(("reason", "build"), STATEMENTS)
def test_custodians_refuse_statements_signed_by_another_site(
    sites: Sites, reason: str, build: Build
) -> None:
    """B signs a statement about A with B's key (no request signature: the statement is the
    authority); refused at every custodian, nothing logged for A, A's audit stays clean."""
    for c in sites.a.arena.world.custodians:
        method, path, body, _ = build(sites.a, sites.b.key)
        with SignedClient(c.url, f"customer:{sites.b.site_id}", sites.b.key) as b:
            resp = b.request(method, path, json=body)
        assert resp.status_code in (400, 403, 409), resp.text
        assert resp.json()["error"]["code"] == reason, resp.text
        method, path, body, ok = build(sites.a, sites.a.key)
        assert body is not None
        sites.a.sign(signed_from_json(next(iter(body.values()))).unverified_statement)
        with sites.a.customer_client(c.url) as a:
            assert a.request(method, path, json=body).status_code == ok, path
    for audit in sites.a.audit():
        assert audit.ok, audit.findings
