"""Video sources cut into independently playable segments.

Our own ffmpeg writes MPEG-TS segments, video and the source's sound unless it is turned off
(``-f segment -segment_time S -reset_timestamps 1``), or short fragments with one clock for the
whole run (``-reset_timestamps 0``, a keyframe at each fragment's start) that the agent joins
into segments outside an alarm and seals one by one during it (clients/camera/fragments.py),
into a run directory, with a CSV segment list that ffmpeg appends a line to only once a
segment is complete: that list is the completion signal (a segment never appears there half
written). Each run directory also holds ``run.json`` with the wall-clock start of the run, so
a segment's times are ``t0 + start offset``. Leftover run directories of a previous process
(killed), or of an ffmpeg that exited and was restarted into a new run directory, are drained
the same way: listed segments are complete; anything else is a partial write and is discarded.
Run directory numbers only increase, so a segment's key (``run-NNNNNN/seg_NNNNNN.ts``) is
never reused.

Sources: ffmpeg's test pattern, a video file, an IP camera's RTSP stream (TCP by default; a
stream that stalls for RTSP_STALL_S ends ffmpeg, and the agent reconnects with its restart
backoff), a V4L2 device; or a foreign segmenter writing into a directory.

A foreign segmenter writing into a directory (source kind ``dir``) gives no list: a file is
complete once a later file (by name) exists, or once it has not changed for ``settle_s``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from clients.camera.config import SourceConfig, SourceKind
from common.time import now_ms

log = logging.getLogger("camvault.camera")

LIST_NAME = "segments.csv"
RUN_INFO = "run.json"
#: The most a run's dates are moved by its first listing (RunDir._calibrate): ffmpeg's start-up
#: (an RTSP camera's connection included); a larger gap is a late first look, not start-up.
MAX_START_UP_MS = 10_000
VIDEO_SUFFIXES = (".ts", ".mp4", ".m4s", ".mkv")
#: How often the producer looks whether ffmpeg listed a new segment (one stat of the list).
LIST_LOOK_S = 0.02
_WHOLE_F = re.compile(r"-?[0-9]+\.[0-9]{6}")  # a number as C's %f prints it


class SourceError(RuntimeError):
    """The video source cannot be started (ffmpeg missing, file missing)."""


@dataclass(frozen=True, slots=True)
class Segment:
    path: Path
    start_ms: int
    end_ms: int
    key: str  # unique name of this segment (for the processed-segments journal)


def segment_file(key: str, runs_root: Path, dir_source: Path | None) -> Path | None:
    """The file a segment key names (``run-NNNNNN/NAME`` under ``runs_root``, ``dir/NAME``
    in the ``dir`` source's directory), or None for a key of no known form."""
    top, _, name = key.partition("/")
    if not name or Path(name).name != name or name in (".", ".."):
        return None
    if top == "dir":
        return None if dir_source is None else dir_source / name
    if top.startswith("run-") and top[4:].isdigit():
        return runs_root / top / name
    return None


def ffmpeg_binary() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise SourceError("ffmpeg is not installed (apt-get install ffmpeg)")
    return exe


#: An RTSP stream that sends nothing for this long is given up (ffmpeg exits and the agent
#: reconnects with its restart backoff): a camera rebooted or a network gone quiet.
RTSP_STALL_S = 5.0


def source_input(source: SourceConfig) -> list[str]:
    """ffmpeg's input options for a live device: an IP camera's RTSP stream or a V4L2
    device (USB cameras, capture cards)."""
    if source.kind is SourceKind.RTSP:
        if not source.path or not source.path.startswith(("rtsp://", "rtsps://")):
            raise SourceError("source rtsp needs an rtsp:// or rtsps:// URL as its path")
        if source.rtsp_transport not in ("tcp", "udp"):
            raise SourceError(f"rtsp_transport must be tcp or udp, not {source.rtsp_transport}")
        return [
            "-rtsp_transport", source.rtsp_transport,
            "-timeout", str(int(RTSP_STALL_S * 1_000_000)),  # socket I/O timeout, microseconds
            "-i", source.path,
        ]  # fmt: skip
    if not source.path or not Path(source.path).exists():
        raise SourceError(f"video device not found: {source.path}")
    return [
        "-f", "v4l2", "-framerate", str(source.rate), "-video_size", source.size,
        "-i", source.path,
    ]  # fmt: skip


def ffmpeg_command(
    source: SourceConfig, out_dir: Path, segment_s: float, *, one_clock: bool = False
) -> list[str]:
    """ffmpeg cutting ``source`` into pieces of ``segment_s`` seconds, each starting with a
    keyframe. ``one_clock``: the pieces keep the run's timestamps (fragments, whose bytes
    joined in order are one valid stream); else each restarts at zero (whole segments)."""
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin"]
    live_device = source.kind in (SourceKind.RTSP, SourceKind.V4L2)
    if source.realtime and not live_device:  # a live device has its own pace
        cmd.append("-re")
    if live_device:
        cmd += source_input(source)
    elif source.kind is SourceKind.TESTSRC:
        cmd += ["-f", "lavfi", "-i", f"testsrc=size={source.size}:rate={source.rate}"]
        if source.audio:  # a 1 kHz tone, so the whole audio path is exercised too
            if source.realtime:
                cmd.append("-re")
            cmd += ["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=16000"]
    elif source.kind is SourceKind.FILE:
        if not source.path or not Path(source.path).is_file():
            raise SourceError(f"video file not found: {source.path}")
        cmd += ["-i", source.path]
    else:
        raise SourceError(f"ffmpeg does not run for source kind {source.kind.value}")
    if source.duration_s is not None:
        cmd += ["-t", str(source.duration_s)]
    gop = max(1, int(source.rate * segment_s))
    # The first video stream, and the first audio stream if there is one (`?`): segments
    # carry the camera's sound unless the installer turned it off (privacy laws in some
    # places forbid recording sound).
    cmd += ["-map", "0:v:0"]
    if source.audio:
        second = "1:a:0" if source.kind is SourceKind.TESTSRC else "0:a:0?"
        cmd += ["-map", second, "-c:a", "aac", "-b:a", "64k"]
    else:
        cmd.append("-an")
    cmd += [
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{segment_s})",
        "-f", "segment", "-segment_time", str(segment_s),
        "-reset_timestamps", "0" if one_clock else "1",
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
        self.one_clock = bool(info.get("one_clock", False))  # fragments (fragments.py)
        self._parsed = 0  # bytes of the list parsed so far (whole lines)
        self._listed: list[Segment] = []  # listed segments whose file was there at the last look
        self._writer_gone = False  # set by discard_partials: the list will not grow any more
        #: set by FfmpegSource on the run its ffmpeg writes now: dated by its first listing
        self.calibrate = False

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
        lines = new[:whole].decode(errors="replace").splitlines()
        if self.calibrate and any(ln.strip() for ln in lines):
            self._calibrate([ln for ln in lines if ln.strip()][-1], now_ms())
        for line in lines:
            if not line.strip():
                continue
            seg = self._parse(line)
            if seg is None:  # a list damaged by a power cut: skip the line, not the run
                log.warning("%s: unreadable segment list line %r", self.path.name, line[:80])
                continue
            self._listed.append(seg)
        tail = new[whole:]
        if self._writer_gone and tail.strip():
            self._parsed += len(tail)
            seg = self._parse(tail.decode(errors="replace"), fragment=True)
            if seg is None or not seg.path.is_file():
                log.warning("%s: torn last list line %r dropped", self.path.name, tail[:80])
            else:
                self._listed.append(seg)
        self._listed = [s for s in self._listed if s.path.is_file()]
        return list(self._listed)

    def _parse(self, line: str, fragment: bool = False) -> Segment | None:
        """``name,start,end`` (ffmpeg writes ``%s,%f,%f``), or None for a damaged line.

        A ``fragment`` (a last line without its newline, after a torn write) counts only
        when its end field is whole as ffmpeg prints it (six decimals): a cut ``6.`` of
        ``6.000000`` must not be taken for ``6`` and a cut ``1`` of ``10.000000`` for ``1``."""
        parts = line.strip().split(",")
        if len(parts) != 3 or not parts[0] or Path(parts[0]).name != parts[0]:
            return None
        if fragment and not _WHOLE_F.fullmatch(parts[2]):
            return None
        try:  # float() takes "inf" and "nan": int() of them raises
            start = self.t0_ms + int(float(parts[1]) * 1000)
            end = self.t0_ms + int(float(parts[2]) * 1000)
        except (ValueError, OverflowError):
            return None
        return Segment(self.path / parts[0], start, end, f"{self.path.name}/{parts[0]}")

    def _calibrate(self, last_line: str, seen_ms: int) -> None:
        """Date the run from its first listing. ``t0_ms`` is taken before ffmpeg is launched,
        earlier than its first frame by ffmpeg's start-up (0.1-0.4 s measured), so every
        recording of the run was dated that much early: with no pre-alarm window, a live
        fragment holding the trigger could be dated as ending before it and refused. A listed
        segment ended by the time it is seen, so the run's clock started at the latest
        ``seen_ms - its end offset``; that moves ``t0_ms`` later (never earlier: a file read
        faster than real time keeps it; by at most :data:`MAX_START_UP_MS`), and is saved in
        ``run.json`` for a later drain of this run. Dates then run late by the listing's
        delay (the next frame, ffmpeg's flush, one look: ~0.1 s) instead of early."""
        self.calibrate = False
        parts = last_line.strip().split(",")
        try:
            t0 = seen_ms - int(float(parts[2]) * 1000)
        except (IndexError, ValueError, OverflowError):
            return
        if not 0 < t0 - self.t0_ms <= MAX_START_UP_MS:
            return
        self.t0_ms = t0
        info = {"t0_ms": t0, "one_clock": self.one_clock}
        tmp = self.path / (RUN_INFO + ".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(self.path / RUN_INFO)

    def has_new(self) -> bool:
        """The list has grown since the last :meth:`complete`."""
        try:
            return (self.path / LIST_NAME).stat().st_size > self._parsed
        except FileNotFoundError:
            return False

    def discard_partials(self) -> None:
        """After the writer is gone: drop segments that never made it into the list.

        A last line without its newline (a write torn by a power cut) still counts when it
        is whole (three valid fields, see ``_parse``) and its file exists: the writer is gone,
        so the line will never be finished, and ffmpeg lists a segment only once it is
        complete."""
        self._writer_gone = True
        listed = {s.path.name for s in self.complete()}
        for p in self.path.iterdir():
            if p.suffix in VIDEO_SUFFIXES and p.name not in listed:
                p.unlink(missing_ok=True)


class FfmpegSource:
    """Runs ffmpeg into a fresh run directory under ``root``; ``restart`` runs a new ffmpeg
    into a new run directory once the previous one has exited."""

    def __init__(
        self, source: SourceConfig, root: Path, segment_s: float, *, one_clock: bool = False
    ) -> None:
        self.source = source
        self.root = root
        self.segment_s = segment_s
        self.one_clock = one_clock
        root.mkdir(parents=True, exist_ok=True)
        self._start()

    def _start(self) -> None:
        run = RunDir(self._new_run_dir())
        try:
            cmd = ffmpeg_command(self.source, run.path, self.segment_s, one_clock=self.one_clock)
            t0 = now_ms()
            (run.path / RUN_INFO).write_text(json.dumps({"t0_ms": t0, "one_clock": self.one_clock}))
            run.t0_ms, run.one_clock, run.calibrate = t0, self.one_clock, True
            with (run.path / "ffmpeg.log").open("ab") as out:
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        except BaseException:
            shutil.rmtree(run.path, ignore_errors=True)  # nothing was written into it
            raise
        self.run, self.proc, self.started = run, proc, time.monotonic()

    def restart(self) -> RunDir:
        """Once ffmpeg has exited: a new ffmpeg into a new run directory. Returns the old run
        (its writer gone, partial segments discarded) for the caller to drain. Raises
        ``SourceError``/``OSError`` when ffmpeg cannot be started (the old run stays current)."""
        if self.proc.poll() is None:
            raise RuntimeError("ffmpeg is still running")
        old = self.run
        old.discard_partials()  # idempotent: a failed start is simply retried later
        self._start()
        return old

    @property
    def exit_status(self) -> int | None:
        """ffmpeg's exit status (negative: killed by that signal), None while it runs."""
        return self.proc.poll()

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

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        """Until ffmpeg lists a new segment, ``stop`` is set or ``timeout_s`` has passed: a
        look at the list's size every ``LIST_LOOK_S`` (a segment waited up to a whole
        0.2 s poll before, on every live piece's way to the operator)."""
        deadline = time.monotonic() + timeout_s
        while not stop.wait(min(LIST_LOOK_S, max(0.0, deadline - time.monotonic()))):
            if self.run.has_new() or time.monotonic() >= deadline:
                return

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

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        stop.wait(timeout_s)

    def stop(self) -> None:
        return None


def extract_still(segment: Path, out: Path) -> None:
    """The first frame of ``segment`` as a JPEG (for stills-only camera models)."""
    subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-i", str(segment), "-frames:v", "1", "-q:v", "3", str(out)],
        check=True, timeout=30,
    )  # fmt: skip


#: A live source's ffmpeg that exits is started again after RESTART_FIRST_S, doubling at each
#: exit in a row up to RESTART_MAX_S; a run that lasted RESTART_HEALTHY_S starts over at the
#: first delay.
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
RESTART_HEALTHY_S = 60.0


class RestartBackoff:
    """Capped exponential delays before restarting a source that exited."""

    def __init__(
        self,
        first_s: float = RESTART_FIRST_S,
        max_s: float = RESTART_MAX_S,
        healthy_s: float = RESTART_HEALTHY_S,
    ) -> None:
        self.first_s, self.max_s, self.healthy_s = first_s, max_s, healthy_s
        self._next = first_s

    def delay(self, ran_s: float) -> float:
        """The wait before the next start, after a run that lasted ``ran_s`` seconds."""
        if ran_s >= self.healthy_s:
            self._next = self.first_s
        d = self._next
        self._next = min(d * 2, self.max_s)
        return d
