"""The camera agent on a real IP camera stream: GStreamer's RTSP server (tests/support/
rtsp_server.py, a live H.264 test pattern with an AAC tone) -> 2 s segments with sound ->
encrypted, signed, uploaded; each recording decrypts and plays (ffprobe: video and audio, its
duration; ffmpeg decodes it without an error). When the stream drops (the camera reboots),
the agent reconnects with its restart backoff and goes on, the manifest chain intact."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.camera.agent import CameraAgent
from clients.camera.config import SourceConfig, SourceKind
from clients.camera.segmenter import SourceError, ffmpeg_command
from clients.video import decode_errors, duration_s
from tests.clients.test_camera_support import World, ffmpeg, new_world
from tests.storage.support import Service
from tests.storage.support_arc import start
from tests.support.services import free_port

SERVER = Path(__file__).resolve().parents[1] / "support" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # PyGObject and GStreamer come from Debian


class RtspCamera:
    """The RTSP server process, on a fixed port so that it can come back after a drop."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [SYSTEM_PYTHON, str(SERVER), str(self.port), "cam"],
                stdout=subprocess.PIPE,
                stderr=out,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            pytest.fail(f"RTSP server did not start: {self.log.read_text()}", pytrace=False)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # a camera losing power: no RTSP TEARDOWN
            self.proc.wait(10)
            self.proc = None


@pytest.fixture(scope="module")
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    ffmpeg()
    yield from start(request, "embedded")


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[RtspCamera]:
    cam = RtspCamera(free_port(), tmp_path / "rtsp.log")
    cam.start()
    try:
        yield cam
    finally:
        cam.stop()


def streams(path: Path) -> list[str]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", path],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(s["codec_type"] for s in json.loads(done.stdout)["streams"])


def check_plays(w: World, items: list[dict[str, object]], tmp: Path) -> None:
    for i in items:
        seg = tmp / f"{i['recording_id']}.ts"
        seg.write_bytes(w.decrypt(w.export(str(i["recording_id"]))))
        assert streams(seg) == ["audio", "video"], seg
        # at most a segment; the last one before the stream dropped (or ended) may be short
        assert 0.0 < duration_s(seg) <= 3.0, duration_s(seg)
        assert decode_errors(seg) == ""


def test_rtsp_stream_with_sound_is_recorded(
    svc: Service, camera: RtspCamera, tmp_path: Path
) -> None:
    w = new_world(svc.url, tmp_path)
    source = SourceConfig(kind=SourceKind.RTSP, path=camera.url, duration_s=6)
    CameraAgent(w.config(source=source)).run()
    items = w.recordings()
    assert len(items) >= 2, items  # 6 s of stream, 2 s segments (the first may be cut short)
    assert all(i["kind"] == "segment" for i in items)
    w.check_chain(items)
    check_plays(w, items, tmp_path)


def test_a_dropped_stream_is_reconnected(svc: Service, camera: RtspCamera, tmp_path: Path) -> None:
    w = new_world(svc.url, tmp_path)
    cfg = w.config(source=SourceConfig(kind=SourceKind.RTSP, path=camera.url), exit_when_done=False)
    agent = CameraAgent(cfg)
    th = threading.Thread(target=agent.run, daemon=True)
    th.start()

    def recorded(n: int, timeout: float = 60) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = w.recordings()
            if len(items) >= n:
                return items
            time.sleep(0.3)
        pytest.fail(f"fewer than {n} recordings: {agent.upload_error}")

    try:
        before = len(recorded(2))
        camera.stop()  # the camera reboots: the stream is gone
        time.sleep(3)
        camera.start()
        after = recorded(before + 2)
    finally:
        agent.stop()
        th.join(60)
    assert not th.is_alive()
    assert agent.source_restarts >= 1
    w.check_chain(after)  # contiguous sequences across the reconnect
    check_plays(w, after[-2:], tmp_path)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (SourceConfig(kind=SourceKind.RTSP, path="http://cam/stream"), "rtsp:// or rtsps:// URL"),
        (SourceConfig(kind=SourceKind.RTSP, path=None), "rtsp:// or rtsps:// URL"),
        (
            SourceConfig(kind=SourceKind.RTSP, path="rtsp://h/s", rtsp_transport="http"),
            "rtsp_transport must be tcp or udp",
        ),
        (SourceConfig(kind=SourceKind.V4L2, path="/dev/video99"), "video device not found"),
    ],
)
def test_bad_live_sources_are_refused_before_ffmpeg_runs(
    source: SourceConfig, error: str, tmp_path: Path
) -> None:
    with pytest.raises(SourceError, match=error):
        ffmpeg_command(source, tmp_path, 2.0)
