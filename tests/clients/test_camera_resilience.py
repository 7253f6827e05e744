"""The camera survives network loss, SIGKILL and a dying ffmpeg (restarted into a new run
directory): nothing lost, nothing duplicated, chain intact (real storage service process,
real ffmpeg, real `camvault camera run`)."""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.camera import agent as agent_module
from clients.camera.agent import CameraAgent
from clients.camera.config import CameraConfig, SourceConfig, SourceKind
from clients.camera.fragments import fragments_per_segment
from clients.camera.segmenter import RUN_INFO, FfmpegSource, RestartBackoff
from common.time import now_ms
from tests.clients.test_camera_support import World, ffmpeg, new_world
from tests.storage.conftest import _start
from tests.storage.support import CAMVAULT, Service


@pytest.fixture
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    ffmpeg()
    yield from _start(request, "embedded")


def check_complete(w: World, expected: int, power_cut_at: int | None = None) -> None:
    """``expected`` recordings, chain intact, no duplicate, each segment starting where the
    previous ended (except at ``power_cut_at``: the camera was off between two runs)."""
    items = w.recordings()
    assert len(items) == expected, [(i["sequence"], i["recording_id"]) for i in items]
    w.check_chain(items)
    ms = w.manifests(items)
    for n, (a, b) in enumerate(itertools.pairwise(ms), start=1):
        if n == power_cut_at:
            assert b.start_ms > a.end_ms
        else:
            assert b.start_ms == a.end_ms, (a.recording_id, b.recording_id)
    for i in items:
        assert w.decrypt(w.export(i["recording_id"]))[0] == 0x47


def test_offline_for_a_while_then_back(svc: Service, tmp_path: Path) -> None:
    w = new_world(svc.url, tmp_path)
    cfg = w.config(source=SourceConfig(kind=SourceKind.TESTSRC, realtime=True, duration_s=14))
    agent = CameraAgent(cfg)
    th = threading.Thread(target=agent.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 20
    while not w.recordings() and time.monotonic() < deadline:
        time.sleep(0.2)
    before = len(w.recordings())
    svc.stop()  # the service (and its store) is gone for ~6 s
    time.sleep(6)
    assert agent.upload_error is not None  # the agent noticed
    assert agent.journal.pending_count() >= 2  # segments kept coming, queued on disk
    svc.start()
    th.join(60)
    assert not th.is_alive()
    assert before >= 1
    check_complete(w, 7)  # 14 s / 2 s


def _run_cli(
    w: World, log: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(CAMVAULT), "camera", "run", "--verbose",
            "--url", w.site.url, "--site", w.site.site_id, "--camera", w.cam.camera_id,
            "--key", str(w.key_file), "--state-dir", str(w.tmp / "state"),
            "--detector", "none", *extra,
        ],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"camera exited early: {log.read_text()}")
        time.sleep(0.1)
    pytest.fail(f"{text!r} not seen in {timeout} s: {log.read_text()}")


def test_sigkill_mid_upload_then_restart(svc: Service, tmp_path: Path) -> None:
    w = new_world(svc.url, tmp_path)
    log = tmp_path / "camera.log"
    proc = _run_cli(
        w, log, "--source", "testsrc", "--duration", "30",
        env={"CAMVAULT_CAMERA_DELAY_COMMIT_S": "2"},
    )  # fmt: skip
    # wait until the third recording's payload is in the store but not committed, then cut
    # the power (camera agent and its ffmpeg)
    deadline = time.monotonic() + 30
    while log.read_text(errors="replace").count("delaying commit") < 3:
        _wait_for(log, "delaying commit", proc, 30)
        if time.monotonic() > deadline:
            pytest.fail(log.read_text())
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    committed_before = len(w.recordings())
    assert committed_before == 2  # #0 and #1 committed, #2 stored but not committed
    run1 = tmp_path / "state" / "segments" / "run-000001" / "segments.csv"
    # the fragments ffmpeg completed before the kill (0.5 s pieces, 4 to a 2 s segment; a
    # run's last group may be shorter: it is sealed as a shorter segment)
    listed = run1.read_text().splitlines()
    per = fragments_per_segment(CameraConfig.segment_s, CameraConfig.fragment_s)  # the CLI's
    segments = -(-len(listed) // per)
    assert segments >= 3
    proc2 = _run_cli(w, log, "--source", "testsrc", "--duration", "4", "--fast", "--exit-when-done")
    assert proc2.wait(90) == 0, log.read_text()
    # every segment ffmpeg completed before the cut exactly once, then the 2 new ones
    check_complete(w, segments + 2, power_cut_at=segments)
    assert not (tmp_path / "state" / "segments" / "run-000001").exists()


def _run_t0(run: Path) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return int(json.loads((run / RUN_INFO).read_text())["t0_ms"])
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(0.05)
    raise AssertionError(f"{run} not started")


def test_ffmpeg_that_dies_is_restarted_into_a_new_run(
    svc: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(agent_module, "PRUNE_PROCESSED_S", 0.0)  # prune at every cycle
    caplog.set_level(logging.INFO, logger="camvault.camera")
    w = new_world(svc.url, tmp_path)
    cfg = w.config(
        source=SourceConfig(kind=SourceKind.TESTSRC, realtime=True),  # a live source
        exit_when_done=False,
    )
    agent = CameraAgent(cfg)
    th = threading.Thread(target=agent.run, daemon=True)
    th.start()
    segments = cfg.state / "segments"
    t0s: list[int] = []
    kills: list[int] = []
    listed: list[int] = []

    def uploaded_since(t0: int, n: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sum(i["start_ms"] >= t0 for i in w.recordings()) >= n:
                return
            time.sleep(0.2)
        pytest.fail(f"fewer than {n} recordings since {t0}: {agent.upload_error}")

    try:
        for run in ("run-000001", "run-000002"):
            t0s.append(_run_t0(segments / run))
            uploaded_since(t0s[-1], 2)
            # dated again from its first listing (later by ffmpeg's start-up: calibration)
            t0s[-1] = _run_t0(segments / run)
            source = agent.source
            assert isinstance(source, FfmpegSource) and source.run.path.name == run
            kills.append(now_ms())
            os.kill(source.proc.pid, signal.SIGKILL)  # a crash (or the camera device lost)
            time.sleep(0.1)  # the list is final: what ffmpeg completed before it died
            listed.append(len((source.run.path / "segments.csv").read_text().splitlines()))
        t0s.append(_run_t0(segments / "run-000003"))
        uploaded_since(t0s[-1], 1)
        t0s[-1] = _run_t0(segments / "run-000003")
    finally:
        agent.stop()
        th.join(60)
    assert not th.is_alive()
    assert agent.source_restarts == 2
    items = w.recordings()
    w.check_chain(items)  # sequences contiguous, no duplicate, chain intact
    ms = w.manifests(items)
    gaps = [(a, b) for a, b in itertools.pairwise(ms) if b.start_ms != a.end_ms]
    assert len(gaps) == 2, [(m.start_ms, m.end_ms) for m in ms]
    for (a, b), kill, t0, wait_s in zip(gaps, kills, t0s[1:], (1, 2), strict=True):
        assert b.start_ms == t0  # the new run's first segment
        assert a.end_ms <= kill  # the gap is the outage: from the kill...
        assert kill + wait_s * 1000 <= t0 < kill + wait_s * 1000 + 3000  # ...to the restart
    # every fragment ffmpeg completed before it died, exactly once (only the one being written
    # is lost): joined agent.per_segment at a time, the run's last ones into a shorter segment
    for n, start, end in zip(listed, t0s[:-1], t0s[1:], strict=True):
        assert sum(start <= m.start_ms < end for m in ms) == -(-n // agent.per_segment)
    for m in ms:
        assert m.end_ms > m.start_ms
    for i in items:
        assert w.decrypt(w.export(i["recording_id"]))[0] == 0x47
    # the old runs were drained and removed; their journal rows pruned with them
    assert sorted(p.name for p in segments.iterdir()) == ["run-000003"]
    db = sqlite3.connect(cfg.state / "journal.sqlite")
    try:
        assert db.execute("SELECT count(*) FROM processed").fetchone()[0] <= 1
    finally:
        db.close()
    logged = [r.getMessage() for r in caplog.records]
    exits = [m for m in logged if m.startswith("ffmpeg exited")]
    assert len(exits) == 2, logged
    assert f"status -{int(signal.SIGKILL)} " in exits[0] and exits[0].endswith("restarting in 1 s")
    assert exits[1].endswith("restarting in 2 s")  # run 2 was short: the delay doubled
    assert sum(m.startswith("ffmpeg restarted into run-00000") for m in logged) == 2
    assert "source ended" not in logged


def test_restart_backoff_doubles_up_to_its_cap_and_resets_after_a_long_run() -> None:
    b = RestartBackoff(first_s=1, max_s=30, healthy_s=60)
    assert [b.delay(5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]  # runs that keep dying
    assert b.delay(59.9) == 30
    assert b.delay(60) == 1  # a run that lasted a while: back to the first delay
    assert [b.delay(0) for _ in range(3)] == [2, 4, 8]
