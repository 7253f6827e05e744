"""ffmpeg's CSV segment list as the camera reads it (clients/camera/segmenter.py RunDir):
parsed incrementally (each line once, never the whole list again), a line still being
written waits, a segment whose file is gone is not reported, a damaged line is skipped;
once the writer is gone a whole last line torn from its newline still counts; a real ffmpeg
killed mid-segment is restarted into a new run directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from clients.camera import segmenter
from clients.camera.config import SourceConfig, SourceKind
from clients.camera.segmenter import (
    LIST_NAME,
    RUN_INFO,
    FfmpegSource,
    RunDir,
    Segment,
    SourceError,
)
from common.time import now_ms
from tests.clients.test_camera_support import ffmpeg

T0 = 1_790_000_000_000


@pytest.fixture
def run(tmp_path: Path) -> Path:
    d = tmp_path / "run-000001"
    d.mkdir()
    (d / RUN_INFO).write_text(json.dumps({"t0_ms": T0}))
    return d


def segment_file(run: Path, n: int) -> str:
    name = f"seg_{n:06d}.ts"
    (run / name).write_bytes(b"\x47" * 188)
    return name


def append(run: Path, text: str) -> None:
    with (run / LIST_NAME).open("a") as f:
        f.write(text)


def line(n: int) -> str:
    return f"seg_{n:06d}.ts,{2 * n:.6f},{2 * n + 2:.6f}\n"


def listed(segs: list[Segment]) -> list[str]:
    return [s.path.name for s in segs]


def test_segments_appended_over_time_are_reported_once_each(run: Path) -> None:
    rd = RunDir(run)
    assert rd.complete() == []  # no list yet: ffmpeg has not finished a segment
    segment_file(run, 0)
    append(run, line(0))
    assert rd.complete() == [
        Segment(run / "seg_000000.ts", T0, T0 + 2000, "run-000001/seg_000000.ts")
    ]
    segment_file(run, 1)
    append(run, line(1))
    assert listed(rd.complete()) == ["seg_000000.ts", "seg_000001.ts"]  # no duplicate
    assert listed(rd.complete()) == ["seg_000000.ts", "seg_000001.ts"]  # nothing new
    (run / "seg_000000.ts").unlink()  # sealed by the agent
    segment_file(run, 2)
    segment_file(run, 3)
    append(run, line(2) + line(3))
    segs = rd.complete()
    assert listed(segs) == ["seg_000001.ts", "seg_000002.ts", "seg_000003.ts"]
    assert [(s.start_ms, s.end_ms) for s in segs] == [
        (T0 + 2000, T0 + 4000),
        (T0 + 4000, T0 + 6000),
        (T0 + 6000, T0 + 8000),
    ]


def test_a_line_being_written_waits_until_complete(run: Path) -> None:
    rd = RunDir(run)
    segment_file(run, 0)
    segment_file(run, 1)
    append(run, line(0) + "seg_000001.ts,2.0")
    assert listed(rd.complete()) == ["seg_000000.ts"]
    append(run, "00000,3.9")  # looks like a whole CSV line (three fields), but no newline yet
    assert listed(rd.complete()) == ["seg_000000.ts"]
    append(run, "00000\n")
    segs = rd.complete()
    assert listed(segs) == ["seg_000000.ts", "seg_000001.ts"]
    assert (segs[1].start_ms, segs[1].end_ms) == (T0 + 2000, T0 + 3900)  # the whole line


def test_a_listed_segment_whose_file_is_missing_is_not_reported(run: Path) -> None:
    rd = RunDir(run)
    segment_file(run, 1)
    append(run, line(0) + line(1))  # seg_000000.ts was sealed and deleted (or lost)
    assert listed(rd.complete()) == ["seg_000001.ts"]
    (run / "seg_000001.ts").unlink()
    assert rd.complete() == []


def test_lines_already_parsed_are_not_read_again(run: Path) -> None:
    rd = RunDir(run)
    for n in range(3):
        segment_file(run, n)
    append(run, line(0) + line(1) + line(2))
    assert len(rd.complete()) == 3
    for n in range(3):
        (run / f"seg_{n:06d}.ts").unlink()
    # Same bytes count, other contents: a reader starting again from the top would now
    # report seg_000007..9 (their files exist) and parse the damaged line.
    for n in (7, 8, 9):
        segment_file(run, n)
    old = (run / LIST_NAME).read_bytes()
    new = (line(7) + line(8) + "garbage,,\n").encode()
    assert len(new) <= len(old)
    (run / LIST_NAME).write_bytes(new + b"#" * (len(old) - len(new) - 1) + b"\n")
    assert rd.complete() == []
    segment_file(run, 3)
    append(run, line(3))
    assert listed(rd.complete()) == ["seg_000003.ts"]  # only what came after


def test_a_damaged_line_is_skipped_not_fatal(run: Path) -> None:
    rd = RunDir(run)
    for n in range(3):
        segment_file(run, n)
    (run / "passwd").write_text("not a segment")
    append(run, line(0) + "\n" + "seg_000001.ts,\x00\x00,4.0\n" + "../passwd,0,1\n" + line(2))
    assert listed(rd.complete()) == ["seg_000000.ts", "seg_000002.ts"]


def test_leftover_run_keeps_listed_segments_and_drops_the_partial_one(run: Path) -> None:
    for n in range(3):
        segment_file(run, n)
    append(run, line(0) + line(1) + "seg_000002.ts,4.0")  # killed while seg 2 was written
    rd = RunDir(run)
    rd.discard_partials()
    assert sorted(p.name for p in run.glob("*.ts")) == ["seg_000000.ts", "seg_000001.ts"]
    assert listed(rd.complete()) == ["seg_000000.ts", "seg_000001.ts"]
    assert rd.t0_ms == T0


def test_a_torn_last_line_of_a_leftover_run_counts_when_whole(run: Path) -> None:
    # Power cut: ffmpeg had listed seg 2 (complete) but the newline never reached the disk.
    for n in range(3):
        segment_file(run, n)
    append(run, line(0) + line(1) + line(2).rstrip("\n"))
    rd = RunDir(run)
    assert listed(rd.complete()) == ["seg_000000.ts", "seg_000001.ts"]  # writer may be alive
    rd.discard_partials()  # the writer is gone: the line will never be finished
    assert sorted(p.name for p in run.glob("*.ts")) == [f"seg_{n:06d}.ts" for n in range(3)]
    segs = rd.complete()
    assert listed(segs) == ["seg_000000.ts", "seg_000001.ts", "seg_000002.ts"]
    assert (segs[2].start_ms, segs[2].end_ms) == (T0 + 4000, T0 + 6000)
    assert listed(rd.complete()) == listed(segs)  # reported once, not parsed again
    (run / "seg_000002.ts").unlink()
    assert listed(rd.complete()) == ["seg_000000.ts", "seg_000001.ts"]


@pytest.mark.parametrize(
    "fragment",
    [
        "seg_000002.ts,4.000000,6.",  # end cut short: 6. of 6.000000 (or of 60.000000)
        "seg_000002.ts,4.000000,1",  # 1 of 10.000000
        "seg_000002.ts,4.000000",  # two fields
        "seg_000002.ts,4.000000,6.000000,",  # four
        "seg_000002.ts,4.000000,inf",
        "seg_00",
    ],
)
def test_a_torn_last_line_that_is_not_whole_is_dropped(run: Path, fragment: str) -> None:
    for n in range(3):
        segment_file(run, n)
    append(run, line(0) + line(1) + fragment)
    rd = RunDir(run)
    rd.discard_partials()
    assert sorted(p.name for p in run.glob("*.ts")) == ["seg_000000.ts", "seg_000001.ts"]
    assert listed(rd.complete()) == ["seg_000000.ts", "seg_000001.ts"]


def test_a_torn_last_line_whose_file_is_gone_is_dropped(run: Path) -> None:
    segment_file(run, 0)
    append(run, line(0) + line(1).rstrip("\n"))  # seg 1 was sealed and deleted before the cut
    rd = RunDir(run)
    rd.discard_partials()
    assert listed(rd.complete()) == ["seg_000000.ts"]


@pytest.mark.parametrize("bad", ["inf", "-inf", "1e400", "nan"])
def test_an_infinite_or_nan_time_is_a_damaged_line(run: Path, bad: str) -> None:
    # float() takes these; int(inf) raised OverflowError (int(nan) ValueError) outside the
    # try, which stopped the agent's producer.
    for n in range(3):
        segment_file(run, n)
    append(run, line(0) + f"seg_000001.ts,{bad},4.000000\n" + f"seg_000001.ts,2.0,{bad}\n")
    append(run, line(2))
    assert listed(RunDir(run).complete()) == ["seg_000000.ts", "seg_000002.ts"]


def _live_run(tmp_path: Path, launched_ms: int) -> tuple[Path, RunDir]:
    """The run directory ffmpeg writes now, launched at ``launched_ms`` (run.json's t0)."""
    d = tmp_path / "run-000002"
    d.mkdir()
    (d / RUN_INFO).write_text(json.dumps({"t0_ms": launched_ms, "one_clock": True}))
    rd = RunDir(d)
    rd.calibrate = True  # as FfmpegSource sets it on its current run
    return d, rd


def test_a_live_run_is_dated_by_its_first_listing_not_by_ffmpegs_launch(tmp_path: Path) -> None:
    """ffmpeg's first frame comes its start-up after the launch (0.1-0.4 s): dated from the
    launch, a fragment holding an alarm's trigger ends "before" it, and with no pre-alarm
    window the custodians refuse it. The first listing moves the run's clock: a fragment
    listed now ended by now, not 0.4 s ago."""
    launched = now_ms() - 900  # ffmpeg started up in 0.4 s, then recorded 0.5 s
    d, rd = _live_run(tmp_path, launched)
    segment_file(d, 0)
    append(d, "seg_000000.ts,0.000000,0.500000\n")
    before = now_ms()
    [seg] = rd.complete()
    after = now_ms()
    assert before - 500 <= seg.start_ms <= after - 500 and before <= seg.end_ms <= after
    assert seg.end_ms - (launched + 500) >= 400  # the launch dated it >= 0.4 s early
    # the next fragments continue that clock; a drain of this run later dates them the same
    segment_file(d, 1)
    append(d, "seg_000001.ts,0.500000,1.000000\n")
    segs = rd.complete()
    assert [(s.start_ms, s.end_ms) for s in segs] == [
        (seg.start_ms, seg.end_ms),
        (seg.end_ms, seg.end_ms + 500),
    ]
    assert json.loads((d / RUN_INFO).read_text())["t0_ms"] == seg.start_ms
    again = RunDir(d)
    assert [(s.start_ms, s.end_ms) for s in again.complete()] == [
        (s.start_ms, s.end_ms) for s in segs
    ]


def test_a_run_read_faster_than_real_time_keeps_its_launch_time(tmp_path: Path) -> None:
    """A file source runs ahead of the wall clock: its listing says nothing of start-up, and
    a leftover run (no longer written) is never re-dated."""
    launched = now_ms() - 1000
    d, rd = _live_run(tmp_path, launched)
    segment_file(d, 0)
    append(d, "seg_000000.ts,0.000000,6.000000\n")  # 6 s of video in 1 s
    assert [(s.start_ms, s.end_ms) for s in rd.complete()] == [(launched, launched + 6000)]
    assert json.loads((d / RUN_INFO).read_text())["t0_ms"] == launched

    left = tmp_path / "run-000003"
    left.mkdir()
    (left / RUN_INFO).write_text(json.dumps({"t0_ms": launched}))
    segment_file(left, 0)
    append(left, "seg_000000.ts,0.000000,0.500000\n")
    assert [(s.start_ms, s.end_ms) for s in RunDir(left).complete()] == [(launched, launched + 500)]


def test_segment_file_maps_keys_to_files(tmp_path: Path) -> None:
    runs, src = tmp_path / "segments", tmp_path / "incoming"
    assert segmenter.segment_file("run-000003/seg_000001.ts", runs, None) == (
        runs / "run-000003" / "seg_000001.ts"
    )
    assert segmenter.segment_file("dir/a.ts", runs, src) == src / "a.ts"
    for key in ("dir/a.ts", "run-x/seg.ts", "run-000001/", "run-000001/..", "other/a.ts", "a"):
        assert segmenter.segment_file(key, runs, None) is None, key
    assert segmenter.segment_file("run-000001/../../etc", runs, src) is None


def wait_listed(src: FfmpegSource, n: int, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = listed(src.complete())
        if len(names) >= n:
            return names
        time.sleep(0.05)
    raise AssertionError(f"ffmpeg listed fewer than {n} segments in {timeout} s")


def test_ffmpeg_restarts_into_a_new_run_directory(tmp_path: Path) -> None:
    ffmpeg()
    root = tmp_path / "segments"
    src = FfmpegSource(SourceConfig(kind=SourceKind.TESTSRC, realtime=True), root, 1.0)
    try:
        with pytest.raises(RuntimeError):
            src.restart()  # ffmpeg still runs
        wait_listed(src, 1)
        first = src.run
        os.kill(src.proc.pid, signal.SIGKILL)  # mid-segment: the next one is being written
        src.proc.wait(10)
        assert src.finished and src.exit_status == -signal.SIGKILL
        listed_before = listed(src.complete())
        assert any(p.name not in listed_before for p in first.path.glob("*.ts"))  # a partial
        old = src.restart()
        assert old is first and old.path.name == "run-000001"
        assert src.run.path.name == "run-000002" and not src.finished
        assert sorted(p.name for p in old.path.glob("*.ts")) == listed_before  # partial gone
        assert listed(old.complete()) == listed_before
        assert src.run.t0_ms >= old.complete()[-1].end_ms
        new = wait_listed(src, 1)
        assert new[0] == "seg_000000.ts"
        assert src.complete()[0].key == "run-000002/seg_000000.ts"  # a key never used before
    finally:
        src.stop()


def test_a_failed_restart_leaves_no_run_directory_and_is_retried(tmp_path: Path) -> None:
    video = tmp_path / "in.mp4"
    subprocess.run(
        [ffmpeg(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
         "-t", "1", str(video)],
        check=True,
    )  # fmt: skip
    root = tmp_path / "segments"
    src = FfmpegSource(SourceConfig(kind=SourceKind.FILE, path=str(video), realtime=False), root, 1)
    src.proc.wait(20)
    assert src.exit_status == 0
    first = src.run
    video.rename(tmp_path / "away.mp4")
    with pytest.raises(SourceError):
        src.restart()
    assert sorted(p.name for p in root.iterdir()) == ["run-000001"]  # no empty run left
    assert src.run is first
    (tmp_path / "away.mp4").rename(video)
    assert src.restart() is first
    assert src.run.path.name == "run-000002"
    src.stop()
