"""Live latency: alarm raised at the panel -> first decrypted live segment at the operator.

The real programs, as `make demo` starts them (demo/story.py: same processes, same
settings): the storage service (SQLite, local blob directory, SSE feeds woken by
each commit and polling the database every 0.2 s), three custodians (t = 2) and a camera agent
(`camvault camera run`, default settings: the ``opencv`` detector runs on every segment before
it is sealed) cutting an ffmpeg test pattern into 2-second segments at wall-clock pace; the
agent asks its alarm state every second, and again before sealing a segment outside an alarm
when its last answer is older than 0.25 s. The panel (clients/panel.py) and the operator console
(clients/operator/console.py, the code behind `camvault operator live`) run in this process.

Each of ``alarms`` rounds, at a random phase of the camera's segment clock:

1. the panel signs and posts an AlarmEvent; T0 = its trigger time (the panel's clock);
2. the operator opens the alarm's live feed at once and, per new recording, gets one release
   from the custodians, fetches and decrypts the payload (``live()``);
3. once ``per_alarm`` live segments have been decrypted the operator acknowledges and
   closes the alarm; the next round waits until the camera has seen it closed (a segment
   ending after the close was committed as ``segment``, not ``live``; at most
   ``CLOSE_SEEN_TIMEOUT_S``), then a random 0-2 s more.

Measured (one clock: every process runs on this machine):

* first live: T_first_live - T0, where T_first_live is when the first segment of kind
  ``live`` delivered by the feed (not backlog, not pre-alarm) was decrypted at the operator;
  also the first segment holding any video after T0, whatever its kind (the segment running
  at T0 is labelled ``live`` only if the camera learned of the alarm before sealing it);
* per live segment: decrypted at the operator - end of the segment at the camera, p50 / max
  (n is small: no p99), split into camera (end -> committed at the storage service: ffmpeg
  closing the segment, the agent's 0.2 s producer poll, detection, sealing, upload), feed
  (committed -> announced to the operator: the service's SSE wake or poll), release
  (announced -> t custodians answered, header fetch included) and payload (presigned GET +
  decryption).

The camera's segment times are the ffmpeg run's start (taken just before ffmpeg is spawned)
plus the segment's offset: ffmpeg's own start-up, tens of ms, is counted in "camera".

``run() -> dict`` is what ``make bench`` calls; ``python -m bench.live`` prints the result.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import workdir
from bench.report import render_live
from clients import panel
from clients.camera.config import CameraConfig
from clients.customer.state import CustomerState
from clients.operator import console as operator
from clients.operator.state import OperatorState
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from demo.story import (
    CAMERA,
    OPERATOR,
    PANEL,
    SITE,
    Story,
    StoryError,
    require_tool,
    segment_rows,
)

ALARMS = 5
PER_ALARM = 3  # live segments decrypted per alarm before the operator closes it
SEGMENT_S = CameraConfig.segment_s  # the agent's default, what `camera run` uses
GOAL_MS = int(SEGMENT_S * 1000) + 1000
PRE_ALARM_S, POST_ALARM_S = 6, 30  # the story's camera model
SSE_POLL_S = 0.2  # demo.story.Story.start_services
ROUND_TIMEOUT_S = 20.0
CLOSE_SEEN_TIMEOUT_S = 15.0
VIDEO_KINDS = ("live", "segment", "clip")  # the feed also carries detection event records


def _summary(values: list[int]) -> dict[str, int]:
    """n, min, p50 (nearest rank), max: a few alarms give no meaningful p99."""
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50_ms": ordered[max(0, math.ceil(len(ordered) / 2) - 1)],
        "max_ms": ordered[-1],
        "min_ms": ordered[0],
    }


def _segment(seg: operator.LiveSegment) -> dict[str, Any]:
    return {
        "recording_id": seg.released.recording_id,
        "kind": seg.released.kind,
        "backlog": seg.backlog,
        "end_ms": seg.end_ms,
        "latency_ms": seg.latency_ms,
        "camera_ms": seg.committed_ms - seg.end_ms,
        "feed_ms": seg.received_ms - seg.committed_ms,
        "release_ms": seg.released_ms - seg.received_ms,
        "payload_ms": seg.decrypted_ms - seg.released_ms,
        "decrypted_ms": seg.decrypted_ms,
    }


def _setup(s: Story) -> Path:
    """Customer, site (3 custodians, t = 2), camera and panel enrolled, operator registered:
    the story's step 1, without its output. Returns the panel's key file."""
    s.cli("customer", "customer", "init", quiet=True)
    create = ["customer", "site", "create", "--label", SITE, "--storage", s.storage_url]
    for url in s.custodian_urls:
        create += ["--custodian", url]
    s.cli("customer", *create, "--threshold", "2", quiet=True)
    cam_key = s.cli("camera", "camera", "keygen", "-o", "cam-1.key", quiet=True).strip()
    panel_key = s.cli("panel", "panel", "keygen", "-o", "panel.key", quiet=True).strip()
    s.cli(
        "customer",
        *["customer", "enroll-camera", CAMERA, "--device-key", cam_key, "--model", "garden-cam"],
        *["--pre-alarm", str(PRE_ALARM_S), "--post-alarm", str(POST_ALARM_S)],
        quiet=True,
    )
    s.cli("customer", "customer", "enroll-panel", PANEL, "--device-key", panel_key, quiet=True)
    arc = s.workdir / "arc.key"
    arc.write_text(s.arc.to_text() + "\n")
    arc.chmod(0o600)
    init = ["operator", "init", "--id", OPERATOR, "--role", "operator", "--storage", s.storage_url]
    for url in s.custodian_urls:
        init += ["--custodian", url]
    s.cli(OPERATOR, *init, quiet=True)
    s.cli(OPERATOR, "operator", "register", "--arc-key", "arc.key", quiet=True)
    return s.workdir / "panel.key"


def _start_camera(s: Story) -> None:
    args = ["camera", "run", "--url", s.storage_url, "--site", s.site, "--camera", CAMERA]
    args += ["--key", "cam-1.key", "--state-dir", "cam-1-state", "--source", "testsrc"]
    s.camera = s.spawn("camera", args, {})
    deadline = time.monotonic() + 60
    while len(segment_rows(s.cli("customer", "customer", "list", quiet=True))) < 2:
        if s.camera.poll() is not None:
            raise StoryError(f"the camera agent exited with code {s.camera.returncode}")
        if time.monotonic() > deadline:
            raise StoryError("the camera uploaded nothing in 60 s")
        time.sleep(0.5)


def _round(
    s: Story, op: OperatorState, panel_key: Path, index: int, per_alarm: int
) -> dict[str, Any]:
    key = Ed25519SigningKey.from_text(panel_key.read_text().strip())
    got: list[operator.LiveSegment] = []
    enough = threading.Event()
    outcome: list[operator.LiveResult | BaseException] = []

    def on_segment(seg: operator.LiveSegment) -> None:
        got.append(seg)
        if sum(g.released.kind == "live" and not g.backlog for g in got) >= per_alarm:
            enough.set()

    a = panel.trigger(s.storage_url, s.site, PANEL, key, s.workdir / "panel-state.json")
    t0 = int(a["triggered_at_ms"])
    alarm_id = str(a["alarm_id"])

    def follow() -> None:
        try:
            outcome.append(
                operator.live(
                    op,
                    alarm_id,
                    s.workdir / f"arc-live-{index}",
                    on_segment=on_segment,
                    timeout_s=ROUND_TIMEOUT_S + 10,
                )
            )
        except BaseException as exc:  # reported by the main thread
            outcome.append(exc)
        finally:
            enough.set()

    thread = threading.Thread(target=follow, name=f"live-{index}", daemon=True)
    thread.start()
    enough.wait(ROUND_TIMEOUT_S)
    operator.transition(op, alarm_id, "ack")
    operator.transition(op, alarm_id, "close")
    closed_ms = now_ms()
    thread.join(15)
    if thread.is_alive():
        raise StoryError(f"alarm {index}: the live view did not end after the close")
    result = outcome[0] if outcome else None
    if isinstance(result, BaseException):
        raise StoryError(f"alarm {index}: live view failed: {result!r}") from result
    if result is None:
        raise StoryError(f"alarm {index}: the live view returned nothing")
    fresh = [g for g in got if not g.backlog]
    live = [g for g in fresh if g.released.kind == "live"]
    if len(live) < per_alarm:
        raise StoryError(
            f"alarm {index}: {len(live)} live segment(s) in {ROUND_TIMEOUT_S:.0f} s "
            f"(feed: {[(g.released.kind, g.backlog) for g in got]})"
        )
    first_any = min(
        (g for g in fresh if g.released.kind in VIDEO_KINDS), key=lambda g: g.decrypted_ms
    )
    return {
        "t0_ms": t0,
        "first_live_ms": live[0].decrypted_ms - t0,
        "first_live_wait_for_end_ms": live[0].end_ms - t0,
        "first_video_after_t0_ms": first_any.decrypted_ms - t0,
        "first_video_kind": first_any.released.kind,
        "pre_alarm_skipped": result.pre_alarm,
        "feed_ended": result.ended,
        "closed_ms": closed_ms,
        "segments": [_segment(g) for g in got],
    }


def _wait_camera_saw_close(customer: CustomerState, closed_ms: int) -> float:
    """Wait until the camera has seen the alarm closed: a segment ending after the close was
    committed with kind ``segment`` (it was sealed as ``live`` while the camera still saw the
    alarm). Returns the seconds waited."""
    began = time.monotonic()
    _, site_id = customer.site()
    since = closed_ms - int(3 * SEGMENT_S * 1000)
    with customer.storage() as storage:
        while True:
            items = storage.recordings(site_id, camera_id=CAMERA, from_ms=since)
            if any(
                i["kind"] == "segment" and i["status"] == "committed" and i["end_ms"] > closed_ms
                for i in items
            ):
                return time.monotonic() - began
            if time.monotonic() - began > CLOSE_SEEN_TIMEOUT_S:
                raise StoryError(
                    f"the camera still sealed live segments {CLOSE_SEEN_TIMEOUT_S:.0f} s "
                    "after the alarm was closed"
                )
            time.sleep(0.2)


def run(alarms: int = ALARMS, per_alarm: int = PER_ALARM, seed: int = 6) -> dict[str, Any]:
    require_tool("ffmpeg", "run `bash scripts/install-tools.sh camera`")
    rng = random.Random(seed)
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    with workdir("camvault-bench-live-", tmpfs=False) as work:
        s = Story(work)
        try:
            s.start_services()
            panel_key = _setup(s)
            _start_camera(s)
            op = OperatorState(work / OPERATOR)
            customer = CustomerState(work / "customer")
            rounds: list[dict[str, Any]] = []
            for i in range(alarms):
                if rounds:
                    rounds[-1]["close_seen_after_s"] = round(
                        _wait_camera_saw_close(customer, rounds[-1]["closed_ms"]), 2
                    )
                time.sleep(rng.uniform(0, SEGMENT_S))  # a random phase of the segment clock
                rounds.append(_round(s, op, panel_key, i, per_alarm))
        except BaseException:
            s.log_tails()
            raise
        finally:
            s.stop_all()
    return _report(rounds, per_alarm, load_before, time.monotonic() - began)


def _report(
    rounds: list[dict[str, Any]], per_alarm: int, load_before: float, seconds: float
) -> dict[str, Any]:
    live = [g for r in rounds for g in r["segments"] if g["kind"] == "live" and not g["backlog"]]
    first = [r["first_live_ms"] for r in rounds]
    return {
        "alarms": len(rounds),
        "live_per_alarm": per_alarm,
        "segment_s": SEGMENT_S,
        "goal_ms": GOAL_MS,
        "first_live": _summary(first) | {"met": sum(v < GOAL_MS for v in first)},
        "first_live_wait_for_end": _summary([r["first_live_wait_for_end_ms"] for r in rounds]),
        "first_video_after_t0": _summary([r["first_video_after_t0_ms"] for r in rounds]),
        "segment_latency": _summary([g["latency_ms"] for g in live]),
        "phases_median_ms": {
            p: round(statistics.median(g[f"{p}_ms"] for g in live))
            for p in ("camera", "feed", "release", "payload")
        },
        "phases_max_ms": {
            p: max(g[f"{p}_ms"] for g in live) for p in ("camera", "feed", "release", "payload")
        },
        # the segment running at T0 was not labelled live (the camera learned of the alarm
        # after sealing it): the first live segment is the next one, one segment later
        "first_video_not_live": sum(r["first_video_kind"] != "live" for r in rounds),
        "pre_alarm_skipped": [r["pre_alarm_skipped"] for r in rounds],
        "rounds": rounds,
        "setup": (
            f"storage + 3 custodians (t = 2) + camera agent as processes (demo/story.py "
            f"settings: SQLite, local blobs, SSE poll {SSE_POLL_S} s); testsrc 320x240 at 10 fps, "
            f"{SEGMENT_S:g} s segments, detector {CameraConfig.detector} "
            f"({CameraConfig.detect_frames} frames per segment; a live segment is queued before "
            f"detection runs), camera alarm "
            f"poll {CameraConfig.alarm_poll_s:g} s (and before sealing); panel and operator in "
            "the bench process"
        ),
        "cpus": len(os.sched_getaffinity(0)),
        "loadavg_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alarms", type=int, default=ALARMS, help=f"alarms ({ALARMS})")
    parser.add_argument("--per-alarm", type=int, default=PER_ALARM, help=f"({PER_ALARM})")
    args = parser.parse_args(argv)
    result = run(args.alarms, args.per_alarm)
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))
    print("\n".join(render_live(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
