"""ffmpeg's CSV segment list as the camera reads it (clients/camera/segmenter.py RunDir):
parsed incrementally (each line once, never the whole list again), a line still being
written waits, a segment whose file is gone is not reported, a damaged line is skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.camera.segmenter import LIST_NAME, RUN_INFO, RunDir, Segment

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
