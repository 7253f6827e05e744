"""Alarms: intake of panel-signed events (every refusal with its reason code and nothing
changed), the ARC queue and state machine, the customer's cancel, camera polling, the SSE live
feed bounded by the access period, and operator access to justified recordings only."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import AlarmCancel, OperatorRole, sign_statement
from tests.storage.support import Camera, CustomerSite, Service, create_site
from tests.storage.support_arc import (
    ACCESS_PERIOD_S,
    Panel,
    count,
    enroll_panel,
    op_id,
    operator,
    read_sse,
    refused,
    start,
)

World = tuple[CustomerSite, Camera, Panel, CustomerSite, Panel]


@pytest.fixture(scope="module", params=["embedded", "pg_minio"])
def arc(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from start(request, request.param)


@pytest.fixture(scope="module")
def world(arc: Service) -> Iterator[World]:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    panel = enroll_panel(site)
    other = create_site(arc.url)
    other_panel = enroll_panel(other)
    yield site, cam, panel, other, other_panel
    site.close()
    other.close()


def cancel_body(
    site: CustomerSite, alarm: dict[str, Any], key: Ed25519SigningKey | None = None
) -> Any:
    c = AlarmCancel(site.site_id, alarm["panel_id"], alarm["event_id"], now_ms())
    return {"cancel": sign_statement(c, key or site.key).to_json()}


# --- intake -------------------------------------------------------------------------------------


def test_intake_is_idempotent_and_reaches_queue_site_list_and_inbox(
    arc: Service, world: World
) -> None:
    site, _cam, panel, _other, _ = world
    event = panel.event()
    r = panel.post(event)
    assert r.status_code == 201, r.text
    alarm = r.json()
    assert alarm["state"] == "open" and alarm["access_open"] is True
    assert alarm["event"] == event.to_json()
    assert alarm["access_until_ms"] == alarm["triggered_at_ms"] + ACCESS_PERIOD_S * 1000
    # the same event again: the same alarm, nothing new
    rows = count(arc, "alarms")
    again = panel.post(event)
    assert again.status_code == 200 and again.json()["alarm_id"] == alarm["alarm_id"]
    assert count(arc, "alarms") == rows

    op = operator(arc)
    queue = op.get("/v1/alarms", params={"state": ["open"], "site_id": site.site_id}).json()
    assert alarm["alarm_id"] in [a["alarm_id"] for a in queue["items"]]
    assert op.get(f"/v1/alarms/{alarm['alarm_id']}").json()["event"] == event.to_json()
    mine = site.client.get(f"/v1/sites/{site.site_id}/alarms").json()["items"]
    assert alarm["alarm_id"] in [a["alarm_id"] for a in mine]
    inbox = site.client.get(f"/v1/sites/{site.site_id}/inbox", params={"kind": "alarm"}).json()
    assert any(f'"{alarm["alarm_id"]}"' in (i["text"] or "") for i in inbox["items"])
    op.close()


def test_bad_signature(arc: Service, world: World) -> None:
    panel = world[2]
    forged = panel.event(signer=Ed25519SigningKey.generate())
    refused(arc, lambda: panel.post(forged), 422, "statement_signature_invalid")


def test_camera_posing_as_panel(arc: Service, world: World) -> None:
    site, cam, panel, _, _ = world
    # a camera key signs an event naming itself as the panel ...
    as_itself = panel.event(signer=cam.key, panel_id=cam.camera_id)
    refused(
        arc,
        lambda: cam.client.post(
            f"/v1/sites/{site.site_id}/alarms", json={"event": as_itself.to_json()}
        ),
        403,
        "wrong_principal",
    )
    # ... or relays an event naming the real panel, signed with the camera key
    relayed = panel.event(signer=cam.key)
    refused(
        arc,
        lambda: cam.client.post(
            f"/v1/sites/{site.site_id}/alarms", json={"event": relayed.to_json()}
        ),
        403,
        "wrong_principal",
    )


def test_panel_of_another_site(arc: Service, world: World) -> None:
    site, _cam, panel, other, other_panel = world
    # the other site's panel posting to this site is refused before the body is read
    ev = other_panel.event(site_id=site.site_id, panel_id=panel.panel_id)
    refused(
        arc,
        lambda: other_panel.client.post(
            f"/v1/sites/{site.site_id}/alarms", json={"event": ev.to_json()}
        ),
        403,
        "wrong_site",
    )
    # this site's panel posting an event about the other site
    foreign = panel.event(site_id=other.site_id)
    refused(arc, lambda: panel.post(foreign), 403, "wrong_site")
    # an event that names another panel of the site
    named = panel.event(panel_id="panel-somebody-else")
    refused(arc, lambda: panel.post(named), 403, "wrong_principal")


def test_duplicate_event_id_with_other_content(arc: Service, world: World) -> None:
    panel = world[2]
    first = panel.raise_alarm(event_id="ev-dup")
    changed = panel.event(event_id="ev-dup")  # same id, higher counter
    refused(arc, lambda: panel.post(changed), 409, "alarm_conflict")
    assert first["event_id"] == "ev-dup"


def test_counter_must_increase(arc: Service, world: World) -> None:
    panel = world[2]
    panel.raise_alarm()
    same = panel.event(counter=panel.counter)
    body = refused(arc, lambda: panel.post(same), 409, "counter_not_increasing")
    assert body["error"]["details"]["last_counter"] == panel.counter
    lower = panel.event(counter=panel.counter - 1)
    refused(arc, lambda: panel.post(lower), 409, "counter_not_increasing")


def test_stale_and_future_events(arc: Service, world: World) -> None:
    panel = world[2]
    old = panel.event(triggered_at_ms=now_ms() - 600_000)
    refused(arc, lambda: panel.post(old), 422, "alarm_not_fresh")
    future = panel.event(triggered_at_ms=now_ms() + 600_000)
    refused(arc, lambda: panel.post(future), 422, "alarm_not_fresh")


def test_unknown_fields_and_content_type(arc: Service, world: World) -> None:
    site, _cam, panel, _, _ = world
    path = f"/v1/sites/{site.site_id}/alarms"
    ev = panel.event()
    refused(
        arc,
        lambda: panel.client.post(path, json={"event": ev.to_json(), "x": 1}),
        422,
        "validation_error",
    )
    inner = ev.to_json()
    inner["body"] = {**inner["body"], "extra": True}
    refused(arc, lambda: panel.client.post(path, json={"event": inner}), 422, "statement_invalid")
    refused(
        arc,
        lambda: panel.client.post(path, content=b'{"event": {}}', content_type="text/plain"),
        415,
        "unsupported_media_type",
    )


# --- state machine ------------------------------------------------------------------------------


def test_state_machine(arc: Service, world: World) -> None:
    site, _cam, panel, _, _ = world
    op = operator(arc)
    tech = operator(arc, OperatorRole.TECHNICIAN)
    a = panel.raise_alarm()
    base = f"/v1/alarms/{a['alarm_id']}"
    refused(arc, lambda: op.post(f"{base}/close"), 409, "alarm_state_conflict")  # ack first
    refused(arc, lambda: tech.post(f"{base}/ack"), 403, "role_not_allowed")
    refused(arc, lambda: site.client.post(f"{base}/ack"), 403, "wrong_principal")
    acked = op.post(f"{base}/ack").json()
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == op_id(op)
    assert op.post(f"{base}/ack").status_code == 200  # repeated: same state
    closed = op.post(f"{base}/close").json()
    assert closed["state"] == "closed" and closed["access_open"] is False
    refused(arc, lambda: op.post(f"{base}/ack"), 409, "alarm_state_conflict")
    cancels = f"/v1/sites/{site.site_id}/alarms/cancel"
    refused(
        arc,
        lambda: site.client.post(cancels, json=cancel_body(site, a)),
        409,
        "alarm_state_conflict",
    )

    b = panel.raise_alarm()
    refused(
        arc,
        lambda: site.client.post(cancels, json=cancel_body(site, b, Ed25519SigningKey.generate())),
        422,
        "statement_signature_invalid",
    )
    unknown = {**b, "event_id": "ev-never"}
    refused(
        arc,
        lambda: site.client.post(cancels, json=cancel_body(site, unknown)),
        404,
        "alarm_not_found",
    )
    refused(
        arc, lambda: panel.client.post(cancels, json=cancel_body(site, b)), 403, "wrong_principal"
    )
    c = site.client.post(cancels, json=cancel_body(site, b)).json()
    assert c["state"] == "cancelled" and c["cancel"] is not None and c["access_open"] is False
    assert site.client.post(cancels, json=cancel_body(site, b)).json()["state"] == "cancelled"
    refused(arc, lambda: op.post(f"/v1/alarms/{b['alarm_id']}/ack"), 409, "alarm_state_conflict")
    refused(arc, lambda: op.get(f"/v1/alarms/{uuid.uuid4().hex}"), 404, "alarm_not_found")
    op.close()
    tech.close()


def test_camera_polls_alarm_state(arc: Service) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    panel = enroll_panel(site)
    path = f"/v1/sites/{site.site_id}/devices/{cam.camera_id}/alarm-state"
    assert cam.client.get(path).json()["active"] is False
    a = panel.raise_alarm()
    state = cam.client.get(path).json()
    assert state["active"] is True
    assert [x["alarm_id"] for x in state["alarms"]] == [a["alarm_id"]]
    assert state["alarms"][0]["access_until_ms"] == a["access_until_ms"]
    # only the device itself polls its state
    other_cam = site.enroll_camera()
    refused(arc, lambda: other_cam.client.get(path), 403, "wrong_principal")
    refused(arc, lambda: site.client.get(path), 403, "wrong_principal")
    site.client.post(f"/v1/sites/{site.site_id}/alarms/cancel", json=cancel_body(site, a))
    assert cam.client.get(path).json()["active"] is False
    site.close()


# --- live feed ------------------------------------------------------------------------------------


def test_feed_delivers_new_recordings_and_ends_with_the_access_period(arc: Service) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    panel = enroll_panel(site)
    remaining_s = 8
    a = panel.raise_alarm(triggered_at_ms=now_ms() - (ACCESS_PERIOD_S - remaining_s) * 1000)
    op = operator(arc)
    rec = cam.record(b"live after the alarm " * 200, start_ms=now_ms() - 4000)

    def upload_soon() -> None:
        time.sleep(1.0)
        assert cam.upload(rec).status_code == 201

    t = threading.Thread(target=upload_soon)
    started = time.monotonic()
    t.start()
    events = read_sse(
        op, f"/v1/alarms/{a['alarm_id']}/feed", until="end", timeout_s=remaining_s + 15
    )
    t.join()
    recs = [d for name, d, _ in events if name == "recording"]
    assert [d["recording_id"] for d in recs] == [rec.recording_id]
    assert recs[0]["manifest"] == rec.manifest.to_json()
    # header and presigned GET as the justified recording route gives them (docs/API.md)
    assert base64.b64decode(recs[0]["header"]) == rec.header
    assert httpx.get(recs[0]["download_url"]).content == rec.payload
    assert events[-1][0] == "end" and events[-1][1] == {"reason": "access_period_over"}
    # it ended because the period is over, not earlier
    assert time.monotonic() - started >= remaining_s - 2
    # a feed of a closed period ends at once, without listing the window's recordings again;
    # customers and technicians have no feed
    after = read_sse(op, f"/v1/alarms/{a['alarm_id']}/feed", until="end")
    assert [(name, data) for name, data, _ in after] == [("end", {"reason": "access_period_over"})]
    tech = operator(arc, OperatorRole.TECHNICIAN)
    refused(arc, lambda: tech.get(f"/v1/alarms/{a['alarm_id']}/feed"), 403, "role_not_allowed")
    refused(
        arc, lambda: site.client.get(f"/v1/alarms/{a['alarm_id']}/feed"), 403, "wrong_principal"
    )
    op.close()
    tech.close()
    site.close()


def test_feed_ends_when_the_customer_cancels(arc: Service) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    panel = enroll_panel(site)
    before = cam.record(b"pre-alarm buffer " * 100, start_ms=now_ms() - 20_000)
    assert cam.upload(before).status_code == 201
    a = panel.raise_alarm()
    op = operator(arc)

    def cancel_soon() -> None:
        time.sleep(1.5)
        r = site.client.post(f"/v1/sites/{site.site_id}/alarms/cancel", json=cancel_body(site, a))
        assert r.status_code == 200, r.text

    t = threading.Thread(target=cancel_soon)
    t.start()
    events = read_sse(op, f"/v1/alarms/{a['alarm_id']}/feed", until="end")
    t.join()
    # the pre-alarm recording committed before the feed opened comes first
    assert [d["recording_id"] for n, d, _ in events if n == "recording"] == [before.recording_id]
    assert events[-1][1] == {"reason": "cancelled"}
    op.close()
    site.close()


# --- operator access to recordings ----------------------------------------------------------


def test_operators_read_only_recordings_of_an_open_alarm(arc: Service) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    panel = enroll_panel(site)
    old = cam.record(b"last week " * 100, start_ms=now_ms() - 7 * 86_400_000)
    assert cam.upload(old).status_code == 201
    recent = cam.record(b"just now " * 100, start_ms=now_ms() - 8000)
    assert cam.upload(recent).status_code == 201
    op = operator(arc)
    tech = operator(arc, OperatorRole.TECHNICIAN)
    listing = f"/v1/sites/{site.site_id}/arc/recordings"
    detail = f"/v1/sites/{site.site_id}/arc/cameras/{cam.camera_id}/recordings/{{}}"
    refused(arc, lambda: op.get(listing), 403, "no_justification")
    refused(arc, lambda: op.get(detail.format(recent.recording_id)), 403, "no_justification")

    a = panel.raise_alarm()
    items = op.get(listing).json()["items"]
    assert [i["recording_id"] for i in items] == [recent.recording_id]
    d = op.get(detail.format(recent.recording_id)).json()
    assert d["header"] and d["download_url"]
    refused(arc, lambda: op.get(detail.format(old.recording_id)), 403, "no_justification")
    # technicians need a consent; the site's own customer uses the customer routes
    refused(arc, lambda: tech.get(listing), 403, "no_justification")
    refused(arc, lambda: site.client.get(listing), 403, "wrong_principal")

    site.client.post(f"/v1/sites/{site.site_id}/alarms/cancel", json=cancel_body(site, a))
    refused(arc, lambda: op.get(listing), 403, "no_justification")
    op.close()
    tech.close()
    site.close()


def test_arc_routes_refuse_other_tenants(arc: Service, world: World) -> None:
    """Routes outside /v1/sites/{site_id} (not covered by test_isolation): customers,
    devices and custodian-less keys of any site are not ARC principals."""
    site, cam, panel, _, other_panel = world
    a = panel.raise_alarm()
    for client in (site.client, cam.client, other_panel.client):
        for method, path in (
            ("GET", "/v1/alarms"),
            ("GET", f"/v1/alarms/{a['alarm_id']}"),
            ("POST", f"/v1/alarms/{a['alarm_id']}/ack"),
            ("POST", f"/v1/alarms/{a['alarm_id']}/close"),
            ("GET", f"/v1/alarms/{a['alarm_id']}/feed"),
            ("GET", "/v1/consents"),
            ("GET", "/v1/consent-requests"),
        ):
            refused(arc, lambda: client.request(method, path), 403, "wrong_principal")  # noqa: B023


def test_deleting_the_site_removes_its_alarms_consents_telemetry_and_inbox(arc: Service) -> None:
    site = create_site(arc.url)
    cam = site.enroll_camera()
    panel = enroll_panel(site)
    panel.raise_alarm()
    tech = operator(arc, OperatorRole.TECHNICIAN)
    body = {
        "cameras": [cam.camera_id],
        "scope": ["recordings"],
        "recordings_from_ms": 0,
        "recordings_to_ms": now_ms(),
        "duration_s": 3600,
        "reason": "check",
    }
    assert tech.post(f"/v1/sites/{site.site_id}/consent-requests", json=body).status_code == 201
    health = {"reported_ms": now_ms(), "firmware": "1", "storage_health": "ok", "uptime_s": 1}
    tpath = f"/v1/sites/{site.site_id}/devices/{cam.camera_id}/telemetry"
    assert cam.client.post(tpath, json=health).status_code == 201
    where = f"site_id = '{site.site_id}'"
    tables = ("alarms", "panel_counters", "consent_requests", "device_telemetry", "inbox_items")
    assert all(count(arc, t, where) for t in tables)
    assert site.client.delete(f"/v1/sites/{site.site_id}").status_code == 200
    assert [count(arc, t, where) for t in tables] == [0] * len(tables)
    tech.close()
    site.close()
