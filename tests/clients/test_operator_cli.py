"""`camvault operator ...` (ARC operator and technician) against the real storage service
and three real custodians, with a customer set up through `camvault customer`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from camvault.cli import app
from clients.audit.site import audit_site
from clients.cli import operator as operatorcli
from clients.common import signed_from_json
from clients.customer.inbox import read_inbox
from clients.customer.site import post_custodians
from clients.customer.state import CustomerState
from clients.operator import live as operator_live
from clients.operator.console import (
    Released,
    _arc_detail,
    _metadata,
    alarm,
    my_consents,
    release_alarm,
)
from clients.operator.live import LiveResult, live
from clients.operator.release import CustodianRefused, Recording, ThresholdNotMet, gather_releases
from clients.operator.state import OperatorState
from clients.video import decode_errors, duration_s
from common.time import now_ms
from crypto.escrow import SessionKey
from crypto.metadata import RecordingKind
from crypto.statements import Purpose, Revocation, sign_statement
from tests.clients.customer_world import (  # noqa: F401 (the `world` fixture)
    Operator,
    World,
    runner,
    setup_customer,
    setup_operator,
    video_segments,
    world_fixture,
)
from tests.storage.support import CAMVAULT


def request_consent(
    tech: Operator, site_id: str, from_ms: int, to_ms: int, reason: str, duration_s: int = 0
) -> str:
    """`operator consent request` for cam-front; its output (``request <id>: pending ...``)."""
    args = ["consent", "request", "--site", site_id, "--camera", "cam-front"]
    args += ["--from", str(from_ms), "--to", str(to_ms), "--reason", reason]
    if duration_s:
        args += ["--duration", str(duration_s)]
    return tech.run(*args).output


def test_operator_without_alarm_is_refused(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    c.camera.record(now_ms() - 20_000)
    op = setup_operator(world, tmp_path)
    out = op.run("release", "--site", c.site_id, "--out", tmp_path / "o", code=1).output
    assert "no_justification" in out
    assert c.site_id not in op.run("alarms").output
    assert not (tmp_path / "o").exists()


def test_alarm_release_decrypts_pre_alarm_and_window(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path, pre_alarm=30)
    trigger = now_ms() - 8_000
    old = c.camera.record(trigger - 120_000)  # outside the 30 s pre-alarm window
    pre = [c.camera.record(trigger - 20_000), c.camera.record(trigger - 4_000)]
    post = c.camera.record(trigger + 1_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op = setup_operator(world, tmp_path)
    queue = op.run("alarms").output
    assert a["alarm_id"] in queue and c.site_id in queue
    assert "acknowledged" in op.run("ack", a["alarm_id"]).output

    out_dir = tmp_path / "released"
    out = op.run("release", "--alarm", a["alarm_id"], "--out", out_dir).output
    assert "3 of 3 recording(s) decrypted" in out
    for rid in [*pre, post]:
        assert (out_dir / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]
    assert not (out_dir / "cam-front" / f"{old}.ts").exists()
    lines = [line for line in out.splitlines() if "cam-front/" in line]
    assert [pre[0] in lines[0], pre[1] in lines[1], post in lines[2]] == [True] * 3
    assert lines[0].strip().startswith("pre-alarm") and not lines[2].strip().startswith("pre")

    # the customer sees the access: notices in the inbox, and in the audit who/when/why
    deadline = time.monotonic() + 15
    while "access_notice" not in c.run("inbox", "--kind", "access_notice").output:
        assert time.monotonic() < deadline, "no access notice delivered"
        time.sleep(0.3)
    audit = c.run("audit").output
    assert audit.count("log verified") == 3
    # two batches (pre-alarm first), each logged by every custodian asked
    assert op.operator_id in audit and "alarm-verification" in audit
    assert "released 2" in audit and "released 1" in audit
    assert f"alarm {a['event']['body']['event_id']} (intrusion) of panel-1" in audit

    closed = op.run("close", a["alarm_id"]).output
    assert "closed" in closed
    # the close reached every custodian, each acknowledged it
    assert closed.count("acknowledged (logged)") == 3 and "NOT" not in closed
    assert "unchanged" in op.run("close", a["alarm_id"]).output  # idempotent
    audit = c.run("audit").output  # a close is an expected end of access
    assert audit.count("log verified") == 3 and "PROBLEMS" not in audit
    again = op.run("release", "--alarm", a["alarm_id"], "--out", tmp_path / "x", code=1).output
    assert "no_justification" in again


def test_customer_cancel_stops_the_custodians(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    trigger = now_ms() - 3_000
    rid = c.camera.record(trigger - 5_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op = setup_operator(world, tmp_path)
    st = OperatorState(op.state)
    with st.storage() as client:  # the operator fetched the header while the alarm was open
        item = {
            "camera_id": "cam-front",
            "recording_id": rid,
            "kind": "segment",
            "start_ms": trigger - 5_000,
            "end_ms": trigger - 3_000,
        }
        header = base64.b64decode(_arc_detail(client, c.site_id, item)["header"])
    assert "cancelled" in c.run("alarm", "cancel", a["alarm_id"]).output
    out = op.run("release", "--alarm", a["alarm_id"], "--out", tmp_path / "o", code=1).output
    assert "no_justification" in out  # storage side
    with pytest.raises(ThresholdNotMet) as exc:  # and every custodian, independently
        gather_releases(
            st.endpoints(),
            2,
            op.operator_id,
            st.key(),
            purpose=Purpose.ALARM_VERIFICATION.value,
            justification=signed_from_json(alarm(st, a["alarm_id"])["event"]),
            session=SessionKey.generate(),
            recordings=[Recording(header, _metadata(c.site_id, item))],
        )
    reasons = {e.reason for e in exc.value.errors.values() if isinstance(e, CustodianRefused)}
    assert reasons == {"alarm_cancelled"}


def assert_plays(path: Path, seconds: float) -> None:
    """What the operator's player sees: the growing live file plays for every segment
    appended (ffprobe's duration, within a segment's margin) and decodes without an error."""
    assert abs(duration_s(path) - seconds) <= 1.0, duration_s(path)
    assert decode_errors(path) == ""


def test_live_view_keeps_going_past_a_segment_that_is_not_video(
    world: World, tmp_path: Path
) -> None:
    """A decrypted segment ffmpeg cannot read is kept as decrypted, left out of the live file,
    and said; the live view goes on to the next segment."""
    c = setup_customer(world, tmp_path)
    op = setup_operator(world, tmp_path)
    # both pieces end after the trigger: this alarm's live video, whatever the set-up took
    a = c.panel.raise_alarm(triggered_at_ms=now_ms() - 6_000)
    junk = c.camera.record(now_ms() - 4_000, kind=RecordingKind.LIVE, plaintext=b"no video")
    good = c.camera.record(now_ms() - 2_000, kind=RecordingKind.LIVE, plaintext=video_segments()[0])
    out = tmp_path / "live"
    res = op.run("live", a["alarm_id"], "--out", out, "--max-segments", "2", "--timeout", "30")
    assert f"cam-front/{junk}: {junk}.ts: not appended" in res.output
    assert f"cam-front/{good} (live, backlog) decrypted" in res.output  # recorded before
    assert (out / "cam-front" / f"{junk}.ts").read_bytes() == b"no video"
    assert_plays(out / "cam-front-live.ts", seconds=2.0)


def test_live_view_decrypts_new_segments_as_they_arrive(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    a = c.panel.raise_alarm()
    op = setup_operator(world, tmp_path)
    out_dir = tmp_path / "live"
    proc = subprocess.Popen(
        [
            str(CAMVAULT),
            "operator",
            "live",
            a["alarm_id"],
            "--out",
            str(out_dir),
            "--max-segments",
            "2",
            "--timeout",
            "60",
        ],
        env={**os.environ, **op.env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # the view makes its output directory once it has the alarm, just before it opens the
        # feed (what was committed before that is backlog); the CLI's start takes seconds
        # under load
        deadline = time.monotonic() + 30
        while not out_dir.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        rids = []
        for i in range(2):
            video = video_segments()[i]
            rids.append(c.camera.record(now_ms() - 2_000, kind=RecordingKind.LIVE, plaintext=video))
            time.sleep(0.5)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    for rid in rids:
        assert f"cam-front/{rid} (live, live) decrypted, latency" in output
    assert "feed ended (max_segments): 2 segment(s)" in output
    for rid in rids:
        assert (out_dir / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]
    assert_plays(out_dir / "cam-front-live.ts", seconds=4.0)


def test_live_view_leaves_pre_alarm_recordings_to_the_alarm_release(
    world: World, tmp_path: Path
) -> None:
    """The feed lists the pre-alarm recordings first; `release --alarm` already released them:
    the live view must not ask the custodians for them again (each would be logged twice)."""
    c = setup_customer(world, tmp_path, pre_alarm=30)
    trigger = now_ms()
    pre = [c.camera.record(trigger - 10_000), c.camera.record(trigger - 6_000)]
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op = setup_operator(world, tmp_path)
    out = op.run("release", "--alarm", a["alarm_id"], "--out", tmp_path / "arc").output
    assert "2 of 2 recording(s) decrypted" in out

    out_dir = tmp_path / "live"
    done: list[LiveResult] = []
    follow = threading.Thread(
        target=lambda: done.append(
            live(OperatorState(op.state), a["alarm_id"], out_dir, max_segments=2, timeout_s=60)
        )
    )
    follow.start()
    time.sleep(1.5)  # the feed is open and has listed the pre-alarm recordings
    video = video_segments()
    straddling = c.camera.record(  # holds the trigger
        trigger - 1_000, kind=RecordingKind.LIVE, plaintext=video[0]
    )
    fresh = c.camera.record(now_ms() - 2_000, kind=RecordingKind.LIVE, plaintext=video[1])
    follow.join(60)
    assert not follow.is_alive() and done, "the live view did not end"
    res = done[0]
    assert res.ended == "max_segments" and res.pre_alarm == 2
    assert [s.released.recording_id for s in res.segments] == [straddling, fresh]
    assert all(not s.backlog and s.latency_ms == s.decrypted_ms - s.end_ms for s in res.segments)
    assert not any((out_dir / "cam-front" / f"{rid}.ts").exists() for rid in pre)
    assert_plays(out_dir / "cam-front-live.ts", seconds=4.0)

    # every custodian released each recording once: 2 (one pre-alarm batch) + 1 + 1 (live);
    # a live view that released the pre-alarm recordings again would make it 6
    deadline = time.monotonic() + 15
    while True:
        released: Counter[str] = Counter()
        for r in audit_site(CustomerState(c.state)):
            for acc in r.accesses:
                if acc.kind == "release" and acc.operator_id == op.operator_id:
                    released[acc.custodian_id] += acc.released
        if sorted(released.values()) == [4, 4, 4] or time.monotonic() > deadline:
            break
        time.sleep(0.3)  # the custodian not waited for may still be answering
    assert sorted(released.values()) == [4, 4, 4], released

    # the CLI says where the pre-alarm recordings are
    out = op.run("live", a["alarm_id"], "--out", tmp_path / "l2", "--timeout", "3").output
    assert "2 pre-alarm recording(s) not released here" in out


def test_live_view_releases_a_live_segment_dated_before_the_trigger(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Segment times are dated ~0.1-0.2 s early (docs/CAMERA.md): a segment the camera sealed
    as `live` (after it saw the alarm) can end "before" the trigger. The live view releases it;
    a continuous segment with the same times is pre-alarm and left to `release --alarm`, and so
    is a live recording that ended seconds before the trigger (an earlier alarm's)."""
    c = setup_customer(world, tmp_path, pre_alarm=30)
    trigger = now_ms()
    earlier = c.camera.record(trigger - 5_500, kind=RecordingKind.LIVE)  # ends 3.5 s before
    pre = c.camera.record(trigger - 2_100)  # ends 100 ms before the trigger
    early = c.camera.record(  # same times, live
        trigger - 2_100, kind=RecordingKind.LIVE, plaintext=video_segments()[0]
    )
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op = setup_operator(world, tmp_path)

    skipped: list[str] = []
    res = live(
        OperatorState(op.state),
        a["alarm_id"],
        tmp_path / "live",
        on_skip=lambda item: skipped.append(item["recording_id"]),
        max_segments=1,
        timeout_s=30,
    )
    assert res.ended == "max_segments" and res.pre_alarm == 2 and skipped == [earlier, pre]
    assert [s.released.recording_id for s in res.segments] == [early]
    assert res.segments[0].end_ms == trigger - 100 and res.segments[0].released.path is not None
    assert (tmp_path / "live" / "cam-front" / f"{early}.ts").read_bytes() == (
        c.camera.plaintexts[early]
    )
    assert_plays(tmp_path / "live" / "cam-front-live.ts", seconds=2.0)

    # the CLI names each skipped recording as it goes, and sums them up even on Ctrl-C
    def interrupted(*args: Any, on_segment: Callable[[Any], None], **kw: Any) -> LiveResult:
        def then_ctrl_c(seg: Any) -> None:
            on_segment(seg)
            raise KeyboardInterrupt

        return live(*args, on_segment=then_ctrl_c, **kw)

    monkeypatch.setattr(operator_live, "live", interrupted)
    out = op.run("live", a["alarm_id"], "--out", tmp_path / "l2", "--timeout", "30", code=130)
    lines = out.output.splitlines()
    assert any(ln.startswith(f"pre-alarm cam-front/{pre} (segment, ") for ln in lines), out.output
    assert f"cam-front/{early} (live, backlog) decrypted" in out.output
    assert "feed ended" not in out.output
    assert (
        f"2 pre-alarm recording(s) not released here: `camvault operator release --alarm "
        f"{a['alarm_id']} --out DIR`" in out.output
    )


def test_consent_request_approve_release_revoke(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    t0 = now_ms() - 600_000
    inside = [c.camera.record(t0), c.camera.record(t0 + 2_000)]
    outside = c.camera.record(t0 + 100_000)
    tech = setup_operator(world, tmp_path, role="technician")
    out = request_consent(
        tech, c.site_id, t0, t0 + 10_000, "camera 1 loses focus at night", duration_s=600
    )
    request_id = out.split()[2].rstrip(":")
    assert "pending" in out
    # nothing before the customer answers
    assert (
        "no_justification"
        in tech.run("release", "--site", c.site_id, "--out", tmp_path / "n", code=1).output
    )
    reqs = c.run("consent", "requests").output
    assert request_id in reqs and "loses focus" in reqs
    assert "consent_request" in c.run("inbox").output
    approved = c.run("consent", "approve", request_id).output
    consent_id = approved.split()[1]
    assert tech.operator_id in approved

    out_dir = tmp_path / "maint"
    out = tech.run("release", "--consent", consent_id, "--out", out_dir).output
    assert "2 of 2 recording(s) decrypted" in out
    for rid in inside:
        assert (out_dir / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]
    assert not (out_dir / "cam-front" / f"{outside}.ts").exists()

    st = OperatorState(tech.state)
    item = {
        "camera_id": "cam-front",
        "recording_id": inside[0],
        "kind": "segment",
        "start_ms": t0,
        "end_ms": t0 + 2_000,
    }
    with st.storage() as client:
        header = base64.b64decode(_arc_detail(client, c.site_id, item)["header"])
    consent = signed_from_json(
        next(x for x in my_consents(st) if x["consent_id"] == consent_id)["consent"]
    )

    revoked = c.run("consent", "revoke", consent_id).output
    assert revoked.count("custodian c") == 3 and "revoked" in revoked
    refused = tech.run("release", "--consent", consent_id, "--out", tmp_path / "r", code=1)
    assert "no_justification" in refused.output
    # the custodians heard of the revocation directly: a header kept from before is useless
    with pytest.raises(ThresholdNotMet) as exc:
        gather_releases(
            st.endpoints(),
            2,
            tech.operator_id,
            st.key(),
            purpose=Purpose.MAINTENANCE.value,
            justification=consent,
            session=SessionKey.generate(),
            recordings=[Recording(header, _metadata(c.site_id, item))],
        )
    reasons = {e.reason for e in exc.value.errors.values() if isinstance(e, CustodianRefused)}
    assert reasons == {"consent_revoked"}
    audit = c.run("audit").output
    assert "maintenance" in audit and f"consent {consent_id}" in audit and "released 2" in audit
    assert "refused consent_revoked" in audit


def test_telemetry_view(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    with c.camera.client as client:
        r = client.post(
            f"/v1/sites/{c.site_id}/devices/cam-front/telemetry",
            json={
                "reported_ms": now_ms(),
                "battery_pct": 87,
                "signal_dbm": -61,
                "firmware": "1.4.2",
                "storage_health": "ok",
                "uptime_s": 3600,
            },
        )
    assert r.status_code in (200, 201), r.text
    op = setup_operator(world, tmp_path)
    out = op.run("telemetry", "--site", c.site_id).output
    assert "cam-front" in out and "87" in out and "1.4.2" in out
    assert "None" not in out  # temperature was not reported: "-"
    rows = json.loads(op.run("telemetry", "--site", c.site_id, "--json").output)
    assert [(r["device_id"], r["battery_pct"], r["temperature_c"]) for r in rows] == [
        ("cam-front", 87, None)
    ]


def test_lists_as_json_and_tables_that_never_cut_an_id(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    alarm = c.panel.raise_alarm()
    op = setup_operator(world, tmp_path)
    alarms = json.loads(op.run("alarms", "--json").output)
    mine = [a for a in alarms if a["alarm_id"] == alarm["alarm_id"]]
    assert len(mine) == 1 and mine[0]["site_id"] == c.site_id
    listed = json.loads(op.run("consent", "list", "--json").output)
    assert listed == {"requests": [], "consents": []}

    operatorcli.console.width = 60  # a narrow terminal: ids fold onto the next lines
    try:
        table = runner.invoke(app, ["operator", "alarms"], env=op.env).output
    finally:
        operatorcli.console.width = 250
    first_column = "".join(
        line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│")
    )
    assert alarm["alarm_id"] in first_column, table  # whole, in pieces, never "…"


def test_custodians_refuse_a_revoked_consent_even_if_storage_serves(
    world: World, tmp_path: Path
) -> None:
    """A storage service that ignores the revocation (here: it never got it) still cannot
    help the technician: the custodians heard of it from the customer directly, and the CLI
    shows each custodian's reason."""
    c = setup_customer(world, tmp_path)
    t0 = now_ms() - 300_000
    c.camera.record(t0)
    tech = setup_operator(world, tmp_path, role="technician")
    out = request_consent(tech, c.site_id, t0, t0 + 5_000, "focus", duration_s=600)
    consent_id = c.run("consent", "approve", out.split()[2].rstrip(":")).output.split()[1]
    state = CustomerState(c.state)
    revocation = sign_statement(Revocation(c.site_id, consent_id, now_ms()), state.site_key())
    statuses = post_custodians(
        state.config.custodians, lambda api: api.revoke(c.site_id, revocation)
    )
    assert statuses == {"c1": "logged", "c2": "logged", "c3": "logged"}
    refused = tech.run("release", "--consent", consent_id, "--out", tmp_path / "r", code=1)
    assert "custodians refused:" in refused.output
    # every custodian that answered refused for the right reason; none released
    reasons = refused.output.split("custodians refused:")[1].strip().split("; ")
    assert len(reasons) >= 2 and all(r.endswith(": consent_revoked") for r in reasons), reasons
    assert not list((tmp_path / "r").glob("**/*.ts"))


def test_customer_refuses_a_consent_request(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    t0 = now_ms() - 60_000
    c.camera.record(t0)
    tech = setup_operator(world, tmp_path, role="technician")
    out = request_consent(tech, c.site_id, t0, t0 + 5_000, "routine check")
    request_id = out.split()[2].rstrip(":")
    assert (
        f"request {request_id} refused"
        in c.run("consent", "refuse", request_id, "--reason", "not now").output
    )
    mine = tech.run("consent", "list").output
    assert request_id in mine and "refused" in mine and "not now" in mine
    assert "consent_request_decided" in c.run("consent", "approve", request_id, code=1).output
    assert (
        "no_justification"
        in tech.run("release", "--site", c.site_id, "--out", tmp_path / "n", code=1).output
    )


def test_live_view_releases_what_queued_up_in_one_request_per_custodian(
    world: World, tmp_path: Path
) -> None:
    """Pieces the feed announced while the live view was busy are released together, one
    request per custodian (not one per piece: at 0.5 s fragments they would queue behind each
    other), still each in feed order, decrypted and in the live file; every receipt of the
    batch (the late custodian's too) reaches the customer's inbox before `live` returns."""
    c = setup_customer(world, tmp_path)
    a = c.panel.raise_alarm(triggered_at_ms=now_ms() - 8_000)
    op = setup_operator(world, tmp_path)
    video = video_segments()
    rids = [  # after the trigger, committed before the feed opens: announced at once
        c.camera.record(now_ms() - 6_000 + 2_000 * i, kind=RecordingKind.LIVE, plaintext=video[i])
        for i in range(3)
    ]
    out = tmp_path / "live"
    res = live(OperatorState(op.state), a["alarm_id"], out, max_segments=3, timeout_s=60)
    assert res.ended == "max_segments" and res.warnings == []
    assert [s.released.recording_id for s in res.segments] == rids
    for rid in rids:
        assert (out / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]
    assert_plays(out / "cam-front-live.ts", seconds=6.0)

    requests: Counter[str] = Counter()
    released: Counter[str] = Counter()
    deadline = time.monotonic() + 15
    while True:
        requests.clear()
        released.clear()
        for r in audit_site(CustomerState(c.state)):
            for acc in r.accesses:
                if acc.kind == "release" and acc.operator_id == op.operator_id:
                    requests[acc.custodian_id] += 1
                    released[acc.custodian_id] += acc.released
        if sorted(released.values()) == [3, 3, 3] or time.monotonic() > deadline:
            break
        time.sleep(0.3)  # access notices reach the customer asynchronously
    assert sorted(released.values()) == [3, 3, 3], released
    # the three were announced together: fewer requests than pieces (one, but for a feed
    # thread descheduled between two events)
    assert all(n < 3 for n in requests.values()), requests

    reports = [i.data for i in read_inbox(CustomerState(c.state), kind="release_receipts")]
    receipts = [r for rep in reports for r in rep["receipts"]]
    assert sum(requests.values()) == len(receipts)  # every custodian's answer, the late too
    assert {r["outcome"] for r in receipts} == {"released"}


def test_alarm_release_takes_the_pre_alarm_piece_committed_during_its_first_batch(
    world: World, tmp_path: Path
) -> None:
    """The piece a camera was recording at the trigger is sealed once it sees the alarm, often
    after the operator listed the window: a second look releases it (the 30 s window is then
    whole). With ``pre_alarm_only`` (beside the live view) that look leaves what ended after
    the trigger to the live view; each recording is released once."""
    c = setup_customer(world, tmp_path, pre_alarm=30)
    trigger = now_ms()
    first = c.camera.record(trigger - 10_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op = setup_operator(world, tmp_path)
    late: list[str] = []

    def commit_meanwhile(r: Released) -> None:
        if not late:  # during the first batch: the camera seals the pieces at the trigger
            late.append(c.camera.record(trigger - 2_500))  # ends 0.5 s before the trigger
            late.append(c.camera.record(trigger - 500))  # holds it: the live view's

    res = release_alarm(
        OperatorState(op.state), a["alarm_id"], tmp_path / "arc", commit_meanwhile,
        pre_alarm_only=True,
    )  # fmt: skip
    assert [r.recording_id for r in res.decrypted] == [first, late[0]]
    assert all(r.pre_alarm for r in res.items)
    for rid in (first, late[0]):
        got = (tmp_path / "arc" / "cam-front" / f"{rid}.ts").read_bytes()
        assert got == c.camera.plaintexts[rid]
    # without pre_alarm_only (no live view beside it) the held piece is released too
    whole = release_alarm(OperatorState(op.state), a["alarm_id"], tmp_path / "all")
    assert {r.recording_id for r in whole.decrypted} == {first, *late}
