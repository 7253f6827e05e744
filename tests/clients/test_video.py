"""Joined video must play as one recording: the camera's real segments (its own ffmpeg
command, sound included), joined to MPEG-TS and to MP4, checked with ffprobe (duration) and
a full ffmpeg decode (no errors) — not by counting frames. The byte concatenation the join
replaces is shown failing the same checks, so the checks can tell."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from clients.camera.config import SourceConfig
from clients.camera.segmenter import ffmpeg_command
from clients.video import (
    Container,
    LiveFile,
    VideoError,
    decode_errors,
    duration_s,
    join_segments,
)

SEGMENT_S = 2.0
SEGMENTS = 4


def record(out: Path, *, audio: bool = True) -> list[Path]:
    """SEGMENTS segments of the test pattern, cut by the camera agent's own ffmpeg command."""
    out.mkdir()
    source = SourceConfig(realtime=False, duration_s=SEGMENT_S * SEGMENTS, audio=audio)
    subprocess.run(ffmpeg_command(source, out, SEGMENT_S), check=True, timeout=120)
    segments = sorted(out.glob("seg_*.ts"))
    assert len(segments) == SEGMENTS, segments
    return segments


def streams(path: Path) -> list[str]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", path],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(s["codec_type"] for s in json.loads(done.stdout)["streams"])


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return record(tmp_path_factory.mktemp("cam") / "run")


def test_segments_carry_the_sound_and_play_on_their_own(segments: list[Path]) -> None:
    for seg in segments:
        assert streams(seg) == ["audio", "video"]
        assert decode_errors(seg) == ""
        assert abs(duration_s(seg) - SEGMENT_S) < 0.5


def test_byte_concatenation_is_what_broke(segments: list[Path], tmp_path: Path) -> None:
    """The old join: players saw one segment's duration (the timestamps restart)."""
    naive = tmp_path / "naive.ts"
    naive.write_bytes(b"".join(p.read_bytes() for p in segments))
    assert duration_s(naive) < SEGMENT_S * SEGMENTS - SEGMENT_S


@pytest.mark.parametrize("container", list(Container))
def test_join_plays_for_the_recorded_time(
    segments: list[Path], tmp_path: Path, container: Container
) -> None:
    out = join_segments(segments, tmp_path / f"cam.{container.value}", container)
    assert abs(duration_s(out) - SEGMENT_S * SEGMENTS) <= SEGMENT_S
    assert decode_errors(out) == ""
    assert streams(out) == ["audio", "video"]


def test_join_without_audio(segments: list[Path], tmp_path: Path) -> None:
    out = join_segments(segments, tmp_path / "mute.mp4", Container.MP4, audio=False)
    assert streams(out) == ["video"]
    assert decode_errors(out) == ""


def test_camera_without_audio(tmp_path: Path) -> None:
    segs = record(tmp_path / "mute", audio=False)
    assert streams(segs[0]) == ["video"]


def test_paths_with_quotes_and_spaces(segments: list[Path], tmp_path: Path) -> None:
    odd = tmp_path / "it's a cam"
    odd.mkdir()
    copies = []
    for i, seg in enumerate(segments):
        copies.append(odd / f"seg '{i}'.ts")
        copies[-1].write_bytes(seg.read_bytes())
    out = join_segments(copies, odd / "joined.mp4", Container.MP4)
    assert abs(duration_s(out) - SEGMENT_S * SEGMENTS) <= SEGMENT_S


def test_a_damaged_segment_fails_in_one_line_and_writes_nothing(
    segments: list[Path], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"not video at all" * 100)
    out = tmp_path / "out.mp4"
    with pytest.raises(VideoError, match="ffmpeg could not join the segments") as err:
        join_segments([junk], out, Container.MP4)
    assert "\n" not in str(err.value)
    assert not out.exists()
    assert list(tmp_path.glob(".join-*")) == []


def test_nothing_to_join(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="no video segments"):
        join_segments([], tmp_path / "x.ts", Container.TS)


def test_live_file_grows_into_one_stream(segments: list[Path], tmp_path: Path) -> None:
    """The operator's growing live file plays for all its segments, at every step."""
    live = LiveFile(tmp_path / "cam-live.ts")
    for n, seg in enumerate(segments, start=1):
        live.append(seg)
        assert abs(duration_s(live.path) - SEGMENT_S * n) <= SEGMENT_S / 2
        assert decode_errors(live.path) == ""
    again = LiveFile(live.path)  # an operator who follows the same alarm a second time
    assert abs(again.offset_s - SEGMENT_S * SEGMENTS) <= SEGMENT_S / 2


def test_live_file_refuses_a_damaged_segment(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"\x47" + b"\x00" * 500)
    live = LiveFile(tmp_path / "cam-live.ts")
    with pytest.raises(VideoError, match=r"junk\.ts: not appended"):
        live.append(junk)
    assert not live.path.exists()
