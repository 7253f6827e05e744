"""The camera agent against the real storage service (uvicorn process, SQLite + local
store): ffmpeg test pattern → 2 s segments → encrypted, signed, uploaded; the customer
decrypts every recording (one with the real `age`), the chain verifies; SD card files open
with `age`; telemetry arrives; stills; alarm → pre-alarm ring buffer and live segments."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients import panel
from clients.camera.agent import CameraAgent
from clients.camera.config import Mode, SourceConfig, SourceKind
from crypto.metadata import RecordingKind
from tests.clients.test_camera_support import ffmpeg, new_world, playable
from tests.storage.support import Service
from tests.storage.support_arc import enroll_panel, start

TS_SYNC = 0x47  # MPEG-TS packets start with this byte


@pytest.fixture(scope="module")
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    ffmpeg()
    yield from start(request, "embedded")


def test_continuous_upload_decrypts_and_chain_verifies(
    svc: Service, tmp_path: Path, age_cli: tuple[str, str]
) -> None:
    w = new_world(svc.url, tmp_path)
    sd = tmp_path / "sd"
    agent = CameraAgent(w.config(sd_dir=str(sd), telemetry_interval_s=0.5))
    t0 = time.monotonic()
    agent.run()
    elapsed = time.monotonic() - t0
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
    agent = CameraAgent(cfg)
    th = threading.Thread(target=agent.run, daemon=True)
    th.start()
    try:
        time.sleep(7.5)  # three or so segments into the ring buffer
        assert w.recordings() == []  # event mode, nothing detected, no alarm: nothing leaves
        state = tmp_path / "panel.json"
        alarm = panel.trigger(svc.url, w.site.site_id, p.panel_id, p.key, state)
        triggered = alarm["triggered_at_ms"]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            kinds = [i["kind"] for i in w.recordings()]
            if kinds.count("live") >= 2:
                break
            time.sleep(0.5)
    finally:
        agent.stop()
        th.join(30)
    items = w.recordings()
    w.check_chain(items)
    ms = w.manifests(items)
    clips = [m for m in ms if m.kind is RecordingKind.CLIP]
    live = [m for m in ms if m.kind is RecordingKind.LIVE]
    assert len(clips) >= 3, [m.kind for m in ms]
    assert all(m.start_ms < triggered for m in clips)  # pre-alarm contents
    assert len(live) >= 2
    assert all(m.end_ms > triggered for m in live)
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
    assert [i["kind"] for i in items] == ["segment", "event", "segment", "event"]
    w.check_chain(items)
    events = w.event_records(items)
    for ev, seg in zip(events, items[0::2], strict=True):
        assert ev["segment_recording_id"] == seg["recording_id"]
        assert [x["label"] for x in ev["labels"]] == ["person"]
        assert 0.5 <= ev["labels"][0]["confidence"] <= 1.0
        assert base64.b64decode(ev["thumbnail_jpeg"])[:3] == b"\xff\xd8\xff"
    # the event record has the same escrow stanzas as the segment (custodians can release it)
    ev_file = w.export(items[1]["recording_id"])
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
        assert body["event_recording_id"] in {i["recording_id"] for i in items[1::2]}
