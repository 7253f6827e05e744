"""Video sources cut into independently playable segments.

Our own ffmpeg writes MPEG-TS segments (``-f segment -segment_time S -reset_timestamps 1``)
into a run directory, with a CSV segment list that ffmpeg appends a line to only once a
segment is complete: that list is the completion signal (a segment never appears there half
written). Each run directory also holds ``run.json`` with the wall-clock start of the run, so
a segment's times are ``t0 + start offset``. Leftover run directories of a previous process
(killed) are drained the same way: listed segments are complete; anything else is a partial
write and is discarded.

A foreign segmenter writing into a directory (source kind ``dir``) gives no list: a file is
complete once a later file (by name) exists, or once it has not changed for ``settle_s``.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from clients.camera.config import SourceConfig, SourceKind

log = logging.getLogger("camvault.camera")

LIST_NAME = "segments.csv"
RUN_INFO = "run.json"
VIDEO_SUFFIXES = (".ts", ".mp4", ".m4s", ".mkv")


class SourceError(RuntimeError):
    """The video source cannot be started (ffmpeg missing, file missing)."""


@dataclass(frozen=True, slots=True)
class Segment:
    path: Path
    start_ms: int
    end_ms: int
    key: str  # unique name of this segment (for the processed-segments journal)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ffmpeg_binary() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise SourceError("ffmpeg is not installed (apt-get install ffmpeg)")
    return exe


def ffmpeg_command(source: SourceConfig, out_dir: Path, segment_s: float) -> list[str]:
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin"]
    if source.realtime:
        cmd.append("-re")
    if source.kind is SourceKind.TESTSRC:
        cmd += ["-f", "lavfi", "-i", f"testsrc=size={source.size}:rate={source.rate}"]
    elif source.kind is SourceKind.FILE:
        if not source.path or not Path(source.path).is_file():
            raise SourceError(f"video file not found: {source.path}")
        cmd += ["-i", source.path]
    else:
        raise SourceError(f"ffmpeg does not run for source kind {source.kind.value}")
    if source.duration_s is not None:
        cmd += ["-t", str(source.duration_s)]
    gop = max(1, int(source.rate * segment_s))
    cmd += [
        "-an",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{segment_s})",
        "-f", "segment", "-segment_time", str(segment_s), "-reset_timestamps", "1",
        "-segment_format", "mpegts",
        "-segment_list", str(out_dir / LIST_NAME), "-segment_list_type", "csv",
        str(out_dir / "seg_%06d.ts"),
    ]  # fmt: skip
    return cmd


class RunDir:
    """A run directory of our ffmpeg: complete segments are those in its CSV list."""

    def __init__(self, path: Path) -> None:
        self.path = path
        info = json.loads((path / RUN_INFO).read_text()) if (path / RUN_INFO).is_file() else {}
        self.t0_ms = int(info.get("t0_ms", 0))
        self._parsed = 0  # bytes of the list parsed so far (whole lines)
        self._listed: list[Segment] = []  # listed segments whose file was there at the last look

    def complete(self) -> list[Segment]:
        """The listed segments whose file is still there (the agent deletes each once sealed).

        Only the lines appended since the last call are parsed: the list grows by one line
        per segment for as long as ffmpeg runs (43,200 a day at 2 s), and parsing all of it at
        every poll cost 0.6 s per poll after a day, on every segment's way to the cloud."""
        try:
            with (self.path / LIST_NAME).open("rb") as f:
                f.seek(self._parsed)
                new = f.read()
        except FileNotFoundError:
            return []
        whole = new.rfind(b"\n") + 1  # a line still being written waits for the next call
        self._parsed += whole
        for line in new[:whole].decode(errors="replace").splitlines():
            if not line.strip():
                continue
            parts = line.strip().split(",")
            try:
                if len(parts) != 3 or not parts[0] or Path(parts[0]).name != parts[0]:
                    raise ValueError("not name,start,end")
                name, start, end = parts[0], float(parts[1]), float(parts[2])
            except ValueError:  # a list damaged by a power cut: skip the line, not the run
                log.warning("%s: unreadable segment list line %r", self.path.name, line[:80])
                continue
            self._listed.append(
                Segment(
                    self.path / name,
                    self.t0_ms + int(start * 1000),
                    self.t0_ms + int(end * 1000),
                    f"{self.path.name}/{name}",
                )
            )
        self._listed = [s for s in self._listed if s.path.is_file()]
        return list(self._listed)

    def discard_partials(self) -> None:
        """After the writer is gone: drop segments that never made it into the list."""
        listed = {s.path.name for s in self.complete()}
        for p in self.path.iterdir():
            if p.suffix in VIDEO_SUFFIXES and p.name not in listed:
                p.unlink(missing_ok=True)


class FfmpegSource:
    """Runs ffmpeg into a fresh run directory under ``root``."""

    def __init__(self, source: SourceConfig, root: Path, segment_s: float) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.run = RunDir(self._new_run_dir())
        cmd = ffmpeg_command(source, self.run.path, segment_s)
        t0 = now_ms()
        (self.run.path / RUN_INFO).write_text(json.dumps({"t0_ms": t0}))
        self.run.t0_ms = t0
        log = (self.run.path / "ffmpeg.log").open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def _new_run_dir(self) -> Path:
        n = 1 + max((int(p.name[4:]) for p in self.root.glob("run-*") if p.name[4:].isdigit()),
                    default=0)  # fmt: skip
        path = self.root / f"run-{n:06d}"
        path.mkdir()
        return path

    def leftover_runs(self) -> list[RunDir]:
        """Run directories of earlier processes (oldest first), partial segments dropped."""
        runs = []
        for p in sorted(self.root.glob("run-*")):
            if p != self.run.path and p.is_dir():
                run = RunDir(p)
                run.discard_partials()
                runs.append(run)
        return runs

    def complete(self) -> list[Segment]:
        return self.run.complete()

    @property
    def finished(self) -> bool:
        return self.proc.poll() is not None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class DirectorySource:
    """Segments another program writes into ``path`` (sorted by name)."""

    def __init__(self, path: Path, segment_s: float, settle_s: float | None = None) -> None:
        if not path.is_dir():
            raise SourceError(f"segment directory not found: {path}")
        self.path = path
        self.segment_s = segment_s
        self.settle_s = settle_s if settle_s is not None else 2 * segment_s + 1

    def complete(self) -> list[Segment]:
        files = sorted(p for p in self.path.iterdir() if p.suffix in VIDEO_SUFFIXES)
        out = []
        now = time.time()
        for i, p in enumerate(files):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            if i + 1 < len(files) or now - st.st_mtime >= self.settle_s:
                end = st.st_mtime_ns // 1_000_000
                out.append(Segment(p, end - int(self.segment_s * 1000), end, f"dir/{p.name}"))
        return out

    @property
    def finished(self) -> bool:
        return False

    def stop(self) -> None:
        return None


def extract_still(segment: Path, out: Path) -> None:
    """The first frame of ``segment`` as a JPEG (for stills-only camera models)."""
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-i", str(segment), "-frames:v", "1", "-q:v", "3", str(out)],
        check=True, timeout=30,
    )  # fmt: skip
