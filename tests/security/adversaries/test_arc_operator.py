"""Adversary: an ARC operator (a malicious one, or one with a stolen operator key) who holds
headers fetched during an alarm and asks the custodians for shares without, or with a wrong,
justification. Every custodian refuses for the reason and logs the refusal; the customer's
audit shows it and finds nothing wrong. The control of each attack: the same operator,
the same kind of recording, with a valid justification, gets t shares that open it.

The operator is set up with the real CLI (`camvault operator init` + `register`); alarms are
raised by the site's panel at the storage service; cancels, closes and deletions are sent
by the real customer and operator clients."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from clients.api.errors import ServiceRefused
from clients.customer.recordings import Selection
from clients.customer.recordings import delete as delete_recordings
from clients.customer.site import cancel_alarm
from clients.operator.ends import close_alarm
from clients.operator.release import Recording, _stanza_for
from clients.operator.state import OperatorState
from common.http import SignedClient
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64encode
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import OperatorRegistration, OperatorRole, sign_statement
from tests.clients.customer_world import Operator as CliOperator
from tests.escrow.ends_support import logged_entry
from tests.security.adversaries.support import (
    ALARM,
    MAINT,
    Arena,
    Home,
    Operator,
    audit_reports,
    cli_operator,
    enlist,
    event,
    items_refused_everywhere,
    new_home,
    refused_everywhere,
    released,
)
from tests.security.matrix import attack, case


@dataclass
class Arc:
    home: Home
    cli: CliOperator
    op: Operator

    @property
    def state(self) -> OperatorState:
        return OperatorState(self.cli.state)


@pytest.fixture(scope="module")
def arc(arena: Arena) -> Arc:
    cli, op = cli_operator(arena)
    return Arc(new_home(arena), cli, op)


def _window_recording(arc: Arc, t: int) -> Recording:
    return arc.home.upload(t - 1_000)


@attack("ARC-01", "ask for shares with no justification", "no_justification")
def test_no_justification(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    refused_everywhere(arena, arc.op, None, [rec], "no_justification")
    audit_reports(arc.home, "no_justification", listed=False)
    released(arena, arc.home, arc.op, event(arc.home, t), rec)


@attack("ARC-02", "forge the panel's signature on an alarm event", "bad_signature")
def test_forged_alarm(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    forged = event(arc.home, t, key=Ed25519SigningKey.generate())
    refused_everywhere(arena, arc.op, forged, [rec], "bad_signature")
    audit_reports(arc.home, "bad_signature")
    released(arena, arc.home, arc.op, event(arc.home, t), rec)


@attack("ARC-03", "replay an alarm event id with another statement", "event_replayed")
def test_replayed_event_id(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    first = event(arc.home, t)
    released(arena, arc.home, arc.op, first, rec)  # control
    ev_id = first.unverified_statement.event_id  # type: ignore[attr-defined]
    again = event(arc.home, t - 1, event_id=ev_id)
    refused_everywhere(arena, arc.op, again, [rec], "event_replayed")
    audit_reports(arc.home, "event_replayed")


@attack("ARC-04", "re-sign a new alarm event with an old counter", "event_replayed")
def test_old_counter(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    first = event(arc.home, t)
    released(arena, arc.home, arc.op, first, rec)  # control
    old = event(arc.home, t, counter=first.unverified_statement.counter)  # type: ignore[attr-defined]
    refused_everywhere(arena, arc.op, old, [rec], "event_replayed")
    audit_reports(arc.home, "event_replayed")


@attack("ARC-05", "an alarm of another site's panel claiming this site", "panel_not_of_site")
def test_foreign_panel(arena: Arena, arc: Arc) -> None:
    other = new_home(arena)
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    ev = event(arc.home, t, key=other.customer.panel.key, panel_id="panel-elsewhere")
    refused_everywhere(arena, arc.op, ev, [rec], "panel_not_of_site")
    audit_reports(arc.home, "panel_not_of_site")
    released(arena, arc.home, arc.op, event(arc.home, t), rec)


@attack("ARC-06", "another site's real alarm used for this site's recordings", "wrong_site")
def test_foreign_site_alarm(arena: Arena, arc: Arc) -> None:
    other = new_home(arena)
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    items_refused_everywhere(arena, arc.op, event(other, t), [rec], "wrong_site")
    released(arena, other, arc.op, event(other, t), other.upload(t - 1_000))


@attack("ARC-07", "a stale alarm event (older than the freshness bound)", "event_stale")
def test_stale_event(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 10 * 60_000
    rec = arc.home.upload(t)
    refused_everywhere(arena, arc.op, event(arc.home, t), [rec], "event_stale")
    audit_reports(arc.home, "event_stale")
    fresh = now_ms() - 2_000
    released(arena, arc.home, arc.op, event(arc.home, fresh), _window_recording(arc, fresh))


@attack("ARC-08", "an alarm event dated in the future", "event_in_future")
def test_future_event(arena: Arena, arc: Arc) -> None:
    t = now_ms() + 10 * 60_000
    rec = arc.home.upload(t)
    refused_everywhere(arena, arc.op, event(arc.home, t), [rec], "event_in_future")
    audit_reports(arc.home, "event_in_future")


@attack("ARC-09", "keep reading after the customer cancelled the alarm", "alarm_cancelled")
def test_cancelled_alarm(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    alarm_id, ev = arc.home.alarm(t)
    released(arena, arc.home, arc.op, ev, rec)  # control: the alarm releases
    cancel_alarm(arc.home.state, alarm_id)  # the customer's client
    refused_everywhere(arena, arc.op, ev, [rec], "alarm_cancelled")
    audit_reports(arc.home, "alarm_cancelled")


@attack("ARC-10", "keep reading after the ARC closed the alarm (saved header)", "alarm_closed")
def test_closed_alarm(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    alarm_id, ev = arc.home.alarm(t)
    released(arena, arc.home, arc.op, ev, rec)  # control: the alarm releases
    arc.cli.run("ack", alarm_id)
    closed = close_alarm(arc.state, alarm_id)  # the operator's console
    assert [a.acknowledged for a in closed.custodians] == [True] * 3
    refused_everywhere(arena, arc.op, ev, [rec], "alarm_closed")
    audit_reports(arc.home, "alarm_closed")


@attack("ARC-11", "a recording before the pre-alarm window", "outside_window_before")
def test_before_window(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    early = arc.home.upload(t - 60_000)  # ends 58 s before: pre-alarm is 30 s
    ev = event(arc.home, t)
    items_refused_everywhere(arena, arc.op, ev, [early], "outside_window_before")
    audit_reports(arc.home, "outside_window_before")
    released(arena, arc.home, arc.op, ev, _window_recording(arc, t))


@attack("ARC-12", "a recording after the post-alarm window", "outside_window_after")
def test_after_window(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 70_000
    late = arc.home.upload(t + 61_000)  # post-alarm is 60 s
    ev = event(arc.home, t)
    items_refused_everywhere(arena, arc.op, ev, [late], "outside_window_after")
    audit_reports(arc.home, "outside_window_after")
    released(arena, arc.home, arc.op, ev, arc.home.upload(t + 1_000))


@attack("ARC-13", "replay a real alarm after its access period", "access_period_closed")
def test_after_the_access_period(arena: Arena) -> None:
    home = new_home(arena)
    _, op = cli_operator(arena)
    for c in arena.world.custodians:  # the customer shortens its access period to 100 s
        with home.customer_client(c.url) as client:
            r = client.put(f"/v1/sites/{home.site_id}/settings", json={"access_period_s": 100})
            assert r.status_code == 200, r.text
    t = now_ms() - 200_000  # fresh enough at first presentation (300 s), period over
    rec = home.upload(t)
    refused_everywhere(arena, op, event(home, t), [rec], "access_period_closed")
    t = now_ms() - 2_000
    released(arena, home, op, event(home, t), home.upload(t))


@attack("ARC-14", "live video of a camera whose profile forbids live", "live_not_allowed")
def test_live_not_allowed(arena: Arena, arc: Arc) -> None:
    cam = arc.home.camera("cam-nolive", live="--no-live")
    t = now_ms() - 2_000
    live = arc.home.upload(t, camera=cam, kind=RecordingKind.LIVE)
    ev = event(arc.home, t)
    items_refused_everywhere(arena, arc.op, ev, [live], "live_not_allowed")
    audit_reports(arc.home, "live_not_allowed")
    released(arena, arc.home, arc.op, ev, arc.home.upload(t, camera=cam))


@attack("ARC-15", "video of a stills-only camera", "stills_only")
def test_stills_only(arena: Arena, arc: Arc) -> None:
    cam = arc.home.camera("cam-still", live="--no-live", stills="--stills-only")
    t = now_ms() - 2_000
    video = arc.home.upload(t, camera=cam)
    ev = event(arc.home, t)
    items_refused_everywhere(arena, arc.op, ev, [video], "stills_only")
    audit_reports(arc.home, "stills_only")
    still = arc.home.upload(t, camera=cam, kind=RecordingKind.STILL, duration_ms=1)
    released(arena, arc.home, arc.op, ev, still)


@attack("ARC-16", "an operator key the ARC never registered", "operator_not_registered")
def test_unregistered_operator(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    ev = event(arc.home, t)
    stranger = (f"op-{uuid.uuid4().hex[:6]}", Ed25519SigningKey.generate())
    refused_everywhere(arena, stranger, ev, [rec], "operator_not_registered")
    audit_reports(arc.home, "operator_not_registered", listed=False)
    released(arena, arc.home, arc.op, ev, rec)


@attack("ARC-17", "a registered operator's id with another key", "bad_request_signature")
def test_impersonated_operator(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    ev = event(arc.home, t)
    impostor = (arc.op[0], Ed25519SigningKey.generate())
    entries = refused_everywhere(arena, impostor, ev, [rec], "bad_request_signature")
    assert all(e["operator_verified"] is False for e in entries)
    audit_reports(arc.home, "bad_request_signature", listed=False)
    released(arena, arc.home, arc.op, ev, rec)


@attack("ARC-18", "an alarm presented for another purpose (marketing)", "wrong_purpose")
def test_wrong_purpose(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    ev = event(arc.home, t)
    refused_everywhere(arena, arc.op, ev, [rec], "wrong_purpose", purpose="marketing")
    audit_reports(arc.home, "wrong_purpose")
    released(arena, arc.home, arc.op, ev, rec)


@attack("ARC-19", "an alarm presented as a maintenance justification", "wrong_purpose")
def test_alarm_as_maintenance(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    ev = event(arc.home, t)
    refused_everywhere(arena, arc.op, ev, [rec], "wrong_purpose", purpose=MAINT)
    released(arena, arc.home, arc.op, ev, rec)


@attack("ARC-20", "a technician presenting an alarm", "role_not_allowed")
def test_technician_with_an_alarm(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    ev = event(arc.home, t)
    tech = enlist(arena, OperatorRole.TECHNICIAN)
    refused_everywhere(arena, tech, ev, [rec], "role_not_allowed")
    audit_reports(arc.home, "role_not_allowed")
    released(arena, arc.home, arc.op, ev, rec)


@attack(
    "ARC-21",
    "a header saved during the alarm, of a recording the customer deleted",
    "recording_deleted",
)
def test_deleted_recording(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    keep, gone = _window_recording(arc, t), _window_recording(arc, t)
    ev = event(arc.home, t)
    released(arena, arc.home, arc.op, ev, gone)  # saved while the alarm was open
    m = gone.metadata
    deleted = delete_recordings(arc.home.state, Selection(m.camera_id, m.recording_id, None, None))
    assert deleted.count == 1
    items_refused_everywhere(arena, arc.op, ev, [gone], "recording_deleted")
    audit_reports(arc.home, "recording_deleted")
    released(arena, arc.home, arc.op, ev, keep)


@attack(
    "ARC-22", "relabel an outside-window stanza with in-window metadata", "stanza_metadata_mismatch"
)
def test_relabelled_stanza(arena: Arena, arc: Arc) -> None:
    t = now_ms() - 2_000
    early = arc.home.upload(t - 60_000)
    m = early.metadata
    relabelled = Recording(
        early.header,
        RecordingMetadata(m.site_id, m.camera_id, m.recording_id, m.kind, t - 1_000, t + 1_000),
    )
    ev = event(arc.home, t)
    items_refused_everywhere(arena, arc.op, ev, [relabelled], "stanza_metadata_mismatch")
    audit_reports(arc.home, "stanza_metadata_mismatch")
    released(arena, arc.home, arc.op, ev, _window_recording(arc, t))


BAD_SESSION_KEYS = [
    case("ARC-23", "session key: the identity point (low order)", "bad_session_key", bytes(32)),
    case(
        "ARC-27",
        "session key: u = 1, a point of order 4",
        "bad_session_key",
        (1).to_bytes(32, "little"),
    ),
    case(
        "ARC-28",
        "session key: non-canonical (>= 2^255 - 19)",
        "bad_session_key",
        b"\xff" * 31 + b"\x7f",
    ),
]


@pytest.mark.parametrize(("reason", "session_key"), BAD_SESSION_KEYS)
def test_weak_session_key(arena: Arena, arc: Arc, reason: str, session_key: bytes) -> None:
    """Shares sealed to a key whose secret everyone knows would leak them in transit."""
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    ev = event(arc.home, t)
    for proc, ep in zip(arena.cluster.custodians, arena.eps, strict=True):
        body = {
            "purpose": ALARM,
            "justification": ev.to_json(),
            "session_key": b64encode(session_key),
            "items": [{"metadata": rec.metadata.to_json(), "stanza": _stanza_for(rec, ep)}],
        }
        with SignedClient(ep.url, f"operator:{arc.op[0]}", arc.op[1]) as client:
            resp = client.post("/v1/releases", json=body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == reason
        assert all(it["sealed_share"] is None for it in resp.json()["items"])
        assert logged_entry(proc, ep, resp.json()["log"])["reason"] == reason
    audit_reports(arc.home, reason)
    released(arena, arc.home, arc.op, ev, rec)


@attack("ARC-24", "read headers at the storage service without an open alarm", "no_justification")
def test_storage_without_alarm(arena: Arena) -> None:
    home = new_home(arena)
    cli, _ = cli_operator(arena)
    rec = home.upload(now_ms() - 2_000)
    m = rec.metadata
    state = OperatorState(cli.state)
    with state.storage() as storage, pytest.raises(ServiceRefused) as info:
        storage.recording(home.site_id, m.camera_id, m.recording_id, arc=True)
    assert info.value.code == "no_justification"
    with state.storage() as storage, pytest.raises(ServiceRefused) as info:
        list(storage.recordings(home.site_id, arc=True))
    assert info.value.code == "no_justification"
    home.alarm()  # control: with an open alarm the header is served
    with state.storage() as storage:
        assert storage.recording(home.site_id, m.camera_id, m.recording_id, arc=True)["header"]


@attack(
    "ARC-25", "read headers at the storage service after the alarm was closed", "no_justification"
)
def test_storage_after_close(arena: Arena) -> None:
    home = new_home(arena)
    cli, _ = cli_operator(arena)
    rec = home.upload(now_ms() - 2_000)
    m = rec.metadata
    alarm_id, _ = home.alarm()
    state = OperatorState(cli.state)
    with state.storage() as storage:  # control: open alarm
        assert storage.recording(home.site_id, m.camera_id, m.recording_id, arc=True)["header"]
    cli.run("ack", alarm_id)
    cli.run("close", alarm_id)
    with state.storage() as storage, pytest.raises(ServiceRefused) as info:
        storage.recording(home.site_id, m.camera_id, m.recording_id, arc=True)
    assert info.value.code == "no_justification"


@attack("ARC-26", "register itself as an operator without the ARC's key", "bad_signature")
def test_self_registration(arena: Arena, arc: Arc) -> None:
    key = Ed25519SigningKey.generate()
    oid = f"op-{uuid.uuid4().hex[:6]}"
    reg = sign_statement(
        OperatorRegistration(oid, key.public_key, OperatorRole.OPERATOR, now_ms()), key
    )
    for r in arena.cluster.post_all("/v1/operators", {"registration": reg.to_json()}):
        assert r.status_code in (400, 403), r.text
        assert r.json()["error"]["code"] == "bad_signature", r.text
    t = now_ms() - 2_000
    rec = _window_recording(arc, t)
    refused_everywhere(arena, (oid, key), event(arc.home, t), [rec], "operator_not_registered")
    enlist(arena)  # control: the ARC's registration is accepted
