"""Decrypted video segments made into one file that plays and seeks.

A camera cuts its video into MPEG-TS segments that each play on their own: each starts its
own timestamps at zero (``-reset_timestamps 1``), and a camera that restarts its encoder
starts a new run anyway. Concatenating the bytes therefore gives a file whose timestamps jump
back at every segment: players report the duration of one segment and ffmpeg prints
"DTS out of order". Joining is a remux instead: ffmpeg's concat demuxer reads the segments in
order and shifts each one's timestamps to follow the previous one, and ``-c copy`` keeps the
encoded streams as they are (no re-encoding, so no quality loss and little CPU).

Two containers: MPEG-TS (what the segments are; streams as it is written) and MP4 with its
index at the front (``+faststart``), which every player and browser opens and seeks.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from clients.api.errors import ClientError


class VideoError(ClientError):
    """ffmpeg is missing, or could not make the file (the message is ffmpeg's last line)."""


class Container(StrEnum):
    TS = "ts"
    MP4 = "mp4"


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise VideoError(f"{name} is not installed (apt-get install ffmpeg)")
    return exe


def _concat_line(path: Path) -> str:
    """One entry of a concat list: the path single-quoted, a quote written as '\\''."""
    quoted = str(path.resolve()).replace("'", "'\\''")
    return f"file '{quoted}'\n"


def join_segments(
    segments: Sequence[Path], out: Path, container: Container, *, audio: bool = True
) -> Path:
    """Remux ``segments`` (in playback order) into ``out``. Written to a temporary name
    beside ``out`` and renamed when ffmpeg succeeded: ``out`` is never left half written."""
    if not segments:
        raise VideoError("no video segments to join")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".join-", dir=out.parent) as tmp:
        listing = Path(tmp) / "segments.txt"
        listing.write_text("".join(_concat_line(p) for p in segments))
        partial = Path(tmp) / f"partial.{container.value}"
        cmd = [_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
        cmd += ["-f", "concat", "-safe", "0", "-i", str(listing)]
        cmd += ["-map", "0:v?", "-map", "0:a?"] if audio else ["-map", "0:v?", "-an"]
        cmd += ["-c", "copy"]
        if container is Container.MP4:
            cmd += ["-movflags", "+faststart", "-f", "mp4"]
        else:
            cmd += ["-f", "mpegts"]
        cmd.append(str(partial))
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not partial.is_file():
            lines = done.stderr.strip().splitlines()
            raise VideoError(f"ffmpeg could not join the segments: {lines[-1] if lines else ''}")
        partial.replace(out)
    return out


def duration_s(path: Path) -> float:
    """The file's duration as a player sees it (ffprobe's format duration), in seconds."""
    cmd = [_tool("ffprobe"), "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
    done = subprocess.run(
        [*cmd, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return float(done.stdout.strip())
    except ValueError:
        raise VideoError(f"{path}: ffprobe reads no duration: {done.stderr.strip()}") from None


def decode_errors(path: Path) -> str:
    """What ffmpeg says when it decodes the whole file (empty: it plays cleanly)."""
    cmd = [_tool("ffmpeg"), "-hide_banner", "-v", "error", "-nostdin", "-i", str(path)]
    done = subprocess.run(
        [*cmd, "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stderr.strip() if done.returncode == 0 else (done.stderr.strip() or "failed")


class LiveFile:
    """A growing MPEG-TS file of a live feed, one segment appended at a time, that plays as
    one stream while it grows: each segment is remuxed with its timestamps shifted to start
    where the file so far ends (``-output_ts_offset``). Appending the bytes as they are would
    restart the clock at every segment (players then show one segment's duration)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset_s = duration_s(path) if path.is_file() and path.stat().st_size else 0.0

    def append(self, segment: Path) -> None:
        cmd = [_tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-i"]
        cmd += [str(segment), "-map", "0", "-c", "copy"]
        cmd += ["-output_ts_offset", f"{self.offset_s:.6f}", "-f", "mpegts", "-"]
        done = subprocess.run(cmd, capture_output=True, check=False)
        if done.returncode != 0 or not done.stdout:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise VideoError(f"{segment.name}: not appended: {lines[-1] if lines else ''}")
        with self.path.open("ab") as fh:
            fh.write(done.stdout)
        self.offset_s += duration_s(segment)
