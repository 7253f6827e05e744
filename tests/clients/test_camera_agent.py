"""The camera agent against the real storage service (uvicorn process, SQLite + local
store): ffmpeg test pattern → 2 s segments → encrypted, signed, uploaded; the customer
decrypts every recording (one with the real `age`), the chain verifies; SD card files open
with `age` and are swept for retention at start only (not at every cycle); telemetry
arrives; stills; alarm → pre-alarm ring buffer and live segments, the segment running when
the alarm is raised included; the idle uploader wakes when something is queued; detection
labels stay inside the encrypted event records, out of the local log."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients import panel
from clients.camera import agent as agent_module
from clients.camera.agent import CameraAgent
from clients.camera.config import Mode, SourceConfig, SourceKind
from clients.camera.seal import Sealed
from clients.camera.segmenter import RUN_INFO, Segment
from clients.detect.base import Detection, Frame, Label
from common.time import now_ms
from crypto.metadata import RecordingKind
from tests.clients.test_camera_support import World, ffmpeg, new_world, playable
from tests.storage.support import Service
from tests.storage.support_arc import enroll_panel, start

TS_SYNC = 0x47  # MPEG-TS packets start with this byte


@contextlib.contextmanager
def agent_running(agent: CameraAgent) -> Iterator[CameraAgent]:
    """The agent running in a thread for the block; stopped and joined afterwards."""
    th = threading.Thread(target=agent.run, daemon=True)
    th.start()
    try:
        yield agent
    finally:
        agent.stop()
        th.join(30)


def wait_for_live(w: World, count: int, timeout_s: float) -> None:
    """Until the service lists ``count`` live recordings (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if [i["kind"] for i in w.recordings()].count("live") >= count:
            return
        time.sleep(0.2)


@pytest.fixture(scope="module")
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    ffmpeg()
    yield from start(request, "embedded")


def test_continuous_upload_decrypts_and_chain_verifies(
    svc: Service, tmp_path: Path, age_cli: tuple[str, str]
) -> None:
    w = new_world(svc.url, tmp_path)
    sd = tmp_path / "sd"
    sd.mkdir()
    week_ago = time.time() - 8 * 86400
    for name in ("expired-at-start.segment.age", "not-ours.txt"):
        (sd / name).write_bytes(b"old")
        os.utime(sd / name, (week_ago, week_ago))
    cfg = w.config(sd_dir=str(sd), telemetry_interval_s=0.5, sd_retention_check_s=3600)
    agent = CameraAgent(cfg)
    assert agent.sd is not None
    store = agent.sd.store

    def store_then_expire_one(sealed: Sealed) -> Path:  # a file that expires during the run
        if not (sd / "expired-later.segment.age").exists():
            (sd / "expired-later.segment.age").write_bytes(b"old")
            os.utime(sd / "expired-later.segment.age", (week_ago, week_ago))
        return store(sealed)

    agent.sd.store = store_then_expire_one  # type: ignore[method-assign]
    t0 = time.monotonic()
    agent.run()
    elapsed = time.monotonic() - t0
    # swept at start (before the first store); the hour until the next sweep did not pass
    assert not (sd / "expired-at-start.segment.age").exists()
    assert (sd / "expired-later.segment.age").exists()
    assert (sd / "not-ours.txt").exists()
    assert agent.sd.sweeps == 1
    assert agent.source_restarts == 0  # a source with a duration ends, it is not restarted
    (sd / "expired-later.segment.age").unlink()
    items = w.recordings()
    assert len(items) == 4, [i["recording_id"] for i in items]  # 8 s of test pattern / 2 s
    assert all(i["kind"] == "segment" for i in items)
    w.check_chain(items)
    ms = w.manifests(items)
    for a, b in itertools.pairwise(ms):
        assert b.start_ms == a.end_ms  # contiguous: no segment lost
    for i in items:
        plain = w.decrypt(w.export(i["recording_id"]))
        assert plain[0] == TS_SYNC and len(plain) % 188 == 0
    assert 1.5 <= playable(plain, tmp_path) <= 2.5
    # the real age CLI reads an exported recording and the SD-card copy
    first = tmp_path / "first.age"
    first.write_bytes(w.export(items[0]["recording_id"]))
    assert w.age_decrypt(age_cli[0], first) == w.decrypt(first.read_bytes())
    sd_files = sorted(sd.glob("*.age"))
    assert len(sd_files) == 4
    for f in sd_files:
        assert w.age_decrypt(age_cli[0], f)[0] == TS_SYNC
    # the exported file is byte-identical to the SD copy (same header, same payload)
    assert first.read_bytes() in {f.read_bytes() for f in sd_files}
    # telemetry reached the service
    r = w.site.client.get(f"/v1/sites/{w.site.site_id}/telemetry")
    assert r.status_code == 200 and r.json()["items"], r.text
    assert r.json()["items"][0]["storage_health"] == "ok"
    assert elapsed < 60


def test_stills_only_uploads_jpegs(svc: Service, tmp_path: Path) -> None:
    w = new_world(svc.url, tmp_path)
    CameraAgent(w.config(stills=True, source=SourceConfig(realtime=False, duration_s=4))).run()
    items = w.recordings()
    assert [i["kind"] for i in items] == ["still", "still"]
    w.check_chain(items)
    for i in items:
        assert w.decrypt(w.export(i["recording_id"]))[:3] == b"\xff\xd8\xff"  # JPEG SOI


def test_event_mode_uploads_ring_buffer_on_alarm_then_live(svc: Service, tmp_path: Path) -> None:
    w = new_world(svc.url, tmp_path)
    p = enroll_panel(w.site)
    cfg = w.config(
        mode=Mode.EVENT,
        exit_when_done=False,
        source=SourceConfig(kind=SourceKind.TESTSRC, realtime=True, duration_s=30),
    )
    with agent_running(CameraAgent(cfg)):
        time.sleep(7.5)  # three or so segments into the ring buffer
        assert w.recordings() == []  # event mode, nothing detected, no alarm: nothing leaves
        state = tmp_path / "panel.json"
        alarm = panel.trigger(svc.url, w.site.site_id, p.panel_id, p.key, state)
        triggered = alarm["triggered_at_ms"]
        wait_for_live(w, 2, timeout_s=15)
    items = w.recordings()
    w.check_chain(items)
    ms = w.manifests(items)
    clips = [m for m in ms if m.kind is RecordingKind.CLIP]
    live = [m for m in ms if m.kind is RecordingKind.LIVE]
    assert len(clips) >= 3, [m.kind for m in ms]
    assert all(m.start_ms < triggered for m in clips)  # pre-alarm contents
    assert len(live) >= 2
    # segment times are dated from ffmpeg's spawn, 0.1-0.2 s early (docs/CAMERA.md): a live
    # fragment (0.5 s) that ended just after the alarm can be dated a little before it
    assert all(m.end_ms > triggered - 500 for m in live)
    assert ms[: len(clips)] == clips  # the buffer goes first, oldest first
    for a, b in itertools.pairwise(ms):
        assert b.start_ms == a.end_ms  # nothing missing between buffer and live
    for i in items:
        assert w.decrypt(w.export(i["recording_id"]))[0] == 0x47


def test_event_records_carry_labels_and_smart_alerts_reach_the_inbox(
    svc: Service, tmp_path: Path
) -> None:
    import base64
    import json
    import subprocess

    import skimage

    w = new_world(svc.url, tmp_path)
    video = tmp_path / "astronaut.mp4"
    photo = Path(skimage.__file__).parent / "data" / "astronaut.png"
    subprocess.run(
        [ffmpeg(), "-loglevel", "error", "-loop", "1", "-i", str(photo), "-t", "4", "-r", "10",
         "-vf", "scale=320:320", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    src = SourceConfig(kind=SourceKind.FILE, path=str(video), realtime=False)
    CameraAgent(w.config(source=src, detector="opencv")).run()
    items = w.recordings()
    kinds = [i["kind"] for i in items]
    # detection runs beside the producer: an event record follows its segment in the chain,
    # not necessarily at once
    assert sorted(kinds) == ["event", "event", "segment", "segment"] and kinds[0] == "segment"
    w.check_chain(items)
    events = w.event_records(items)
    ids = [i["recording_id"] for i in items]
    segs = [i for i in items if i["kind"] == "segment"]
    evs = [i for i in items if i["kind"] == "event"]
    for ev, ev_item, seg in zip(events, evs, segs, strict=True):
        assert ev["segment_recording_id"] == seg["recording_id"]
        assert ids.index(seg["recording_id"]) < ids.index(ev_item["recording_id"])
        assert [x["label"] for x in ev["labels"]] == ["person"]
        assert 0.5 <= ev["labels"][0]["confidence"] <= 1.0
        assert base64.b64decode(ev["thumbnail_jpeg"])[:3] == b"\xff\xd8\xff"
    # the event record has the same escrow stanzas as the segment (custodians can release it)
    ev_file = w.export(evs[0]["recording_id"])
    assert ev_file.count(b"\n-> camvault-escrow ") == 3
    # smart alerts: in the customer's inbox, encrypted to the customer ONLY
    r = w.site.client.get(f"/v1/sites/{w.site.site_id}/inbox", params={"kind": "smart_alert"})
    assert r.status_code == 200, r.text
    alerts = r.json()["items"]
    assert len(alerts) == 2
    for a in alerts:
        age_file = base64.b64decode(a["payload"])
        assert b"camvault-escrow" not in age_file.split(b"\n---", 1)[0]
        body = json.loads(w.decrypt(age_file))
        assert body["camera_id"] == w.cam.camera_id
        assert [x["label"] for x in body["labels"]] == ["person"]
        assert body["event_recording_id"] in {i["recording_id"] for i in evs}


def run_t0_ms(state: Path) -> int:
    """The wall-clock start the agent gave its ffmpeg run (segment times are offsets to it)."""
    info = state / "segments" / "run-000001" / RUN_INFO
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            return int(json.loads(info.read_text())["t0_ms"])
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(0.05)
    raise AssertionError(f"{info} not written")


@pytest.mark.parametrize("mode", [Mode.CONTINUOUS, Mode.EVENT])
def test_an_alarm_raised_mid_segment_makes_that_segment_live(
    svc: Service, tmp_path: Path, mode: Mode
) -> None:
    w = new_world(svc.url, tmp_path)
    p = enroll_panel(w.site)
    # The regular alarm poll runs once at start and then only after 60 s: the alarm can be
    # seen in time only by the ask before sealing a segment.
    cfg = w.config(
        mode=mode,
        exit_when_done=False,
        alarm_poll_s=60,
        source=SourceConfig(kind=SourceKind.TESTSRC, realtime=True, duration_s=20),
    )
    with agent_running(CameraAgent(cfg)):
        # the middle of a fragment ([5.064 s, 5.564 s): the first one ends at 0.564 s, as
        # ffmpeg cuts it), in the third segment's span
        mid = run_t0_ms(cfg.state) + 5300
        time.sleep(max(0.0, (mid - now_ms()) / 1000))
        alarm = panel.trigger(svc.url, w.site.site_id, p.panel_id, p.key, tmp_path / "panel")
        triggered = alarm["triggered_at_ms"]
        wait_for_live(w, 1, timeout_s=20)
    items = w.recordings()
    w.check_chain(items)
    ms = w.manifests(items)
    before = RecordingKind.SEGMENT if mode is Mode.CONTINUOUS else RecordingKind.CLIP
    kinds = [m.kind for m in ms]
    n_before = kinds.index(RecordingKind.LIVE)
    assert n_before >= 2 and set(kinds[:n_before]) == {before}, kinds  # pre-alarm: not live
    assert set(kinds[n_before:]) == {RecordingKind.LIVE}, kinds
    first = ms[n_before]
    # the first live recording is the fragment running at the alarm: it started before the
    # alarm and did not end long before it (segment times are dated from ffmpeg's spawn, 0.1-0.2
    # s early, docs/CAMERA.md), so the camera saw the alarm by its ask before sealing
    assert first.start_ms < triggered < first.end_ms + 300, (first, triggered)
    # live video leaves the camera fragment by fragment, not a whole segment at a time
    live = ms[n_before:]
    assert all(m.end_ms - m.start_ms <= 600 for m in live), [m.end_ms - m.start_ms for m in live]
    for a, b in itertools.pairwise(ms):
        assert b.start_ms == a.end_ms  # nothing missing around the alarm


def test_the_idle_uploader_wakes_when_something_is_queued(
    svc: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Left to itself, an idle uploader would look at the journal again only after an hour:
    # each upload below happens because queuing woke it.
    monkeypatch.setattr(agent_module, "UPLOAD_IDLE_WAIT_S", 3600.0)
    w = new_world(svc.url, tmp_path)
    p = enroll_panel(w.site)
    agent = CameraAgent(w.config(mode=Mode.EVENT))
    agent._wait_for_trust()
    uploader = threading.Thread(target=agent._upload_loop, daemon=True)
    uploader.start()

    def segment(n: int) -> Segment:
        f = tmp_path / f"seg_{n}.ts"
        f.write_bytes(bytes([TS_SYNC]) + bytes(187))
        end = now_ms()
        return Segment(f, end - 2000, end, f"test/{f.name}")

    def uploaded(n: int) -> None:
        deadline = time.monotonic() + 30
        while agent.uploaded < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert agent.uploaded == n, agent.upload_error

    try:
        agent._handle(segment(0))  # event mode, no alarm: into the ring buffer only
        assert agent.journal.pending_count() == 0
        panel.trigger(svc.url, w.site.site_id, p.panel_id, p.key, tmp_path / "panel")
        agent._poll_alarm()  # the new alarm promotes the ring buffer
        uploaded(1)
        assert agent.alarm_active
        agent._handle(segment(1))  # during the alarm: queued as live
        uploaded(2)
    finally:
        agent.stop()  # wakes the uploader too: it ends without waiting out its hour
        uploader.join(30)
        stopped = not uploader.is_alive()
        agent.client.close()
        agent.up_client.close()
        agent.journal.close()
    assert stopped
    assert [i["kind"] for i in w.recordings()] == ["clip", "live"]


class SeesAPersonAndACat:
    """A detector that finds a person and an animal in every frame."""

    name = "fake-detector"

    def detect_frame(self, frame: Frame) -> list[Detection]:
        return [
            Detection(Label.PERSON, 0.9, (1, 2, 30, 40), "fake:pedestrian"),
            Detection(Label.ANIMAL, 0.7, (5, 6, 20, 20), "fake:tabby"),
        ]


@pytest.mark.parametrize("mode", [Mode.CONTINUOUS, Mode.EVENT])
def test_detection_labels_stay_out_of_the_local_log(
    svc: Service, tmp_path: Path, mode: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    w = new_world(svc.url, tmp_path)
    cfg = w.config(mode=mode, source=SourceConfig(realtime=False, duration_s=4))
    CameraAgent(cfg, detector=SeesAPersonAndACat()).run()
    items = w.recordings()
    video = "segment" if mode is Mode.CONTINUOUS else "clip"
    assert sorted(i["kind"] for i in items) == sorted(["event", "event", video, video])
    events = w.event_records(items)  # the labels are in the encrypted records...
    assert [[x["label"] for x in ev["labels"]] for ev in events] == [["animal", "person"]] * 2
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged.count("event record") == 2  # ...the log says only that a record was made
    for secret in ("person", "animal", "pedestrian", "tabby", "confidence"):
        assert secret not in logged, secret
    # a confidence value, not the digits of a timestamp (20:20:00.994)
    assert not re.search(r"(?<![\d.:])0\.9\d*(?![\d:])", logged), "a confidence is logged"
    if mode is Mode.EVENT:
        assert "detection: 0 buffered segments queued" in logged


class SpyDetector:
    """Finds nothing; notes the journal's next chain sequence whenever it is asked (one
    frame per segment) — or fails, like a detector choking on a damaged frame."""

    name = "spy"

    def __init__(self, fail: bool = False) -> None:
        self.agent: CameraAgent | None = None
        self.heads: list[int] = []
        self.fail = fail

    def detect_frame(self, frame: object) -> list[Detection]:
        assert self.agent is not None
        self.heads.append(self.agent.journal.chain_head()[0])
        if self.fail:
            raise RuntimeError("damaged frame")
        return []


def test_continuous_segments_are_queued_before_detection_runs(svc: Service, tmp_path: Path) -> None:
    """Detection costs about a second per segment: it must not delay the upload (a live
    segment above all), so the segment is in the chain before the detector looks at it."""
    w = new_world(svc.url, tmp_path)
    spy = SpyDetector()
    agent = CameraAgent(w.config(detect_frames=1), detector=spy)
    spy.agent = agent
    agent.run()
    # segment k (sequence k-1) was signed and queued before the detector looked at it (the
    # detector runs in its own thread: the producer may be further ahead still)
    assert len(spy.heads) == 4
    assert all(head >= k for k, head in enumerate(spy.heads, start=1)), spy.heads
    assert [i["kind"] for i in w.recordings()] == ["segment"] * 4


def test_a_failing_detector_costs_labels_not_recordings(
    svc: Service, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = new_world(svc.url, tmp_path)
    spy = SpyDetector(fail=True)
    agent = CameraAgent(w.config(detect_frames=1), detector=spy)
    spy.agent = agent
    with caplog.at_level("ERROR"):
        agent.run()
    items = w.recordings()
    assert [i["kind"] for i in items] == ["segment"] * 4
    w.check_chain(items)
    failures = [r for r in caplog.records if "detection failed (RuntimeError)" in r.getMessage()]
    assert len(failures) == 4
