"""Camera agent settings, from a JSON file and/or command-line options."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any


class Mode(StrEnum):
    CONTINUOUS = "continuous"  # every segment is uploaded
    EVENT = "event"  # only around detections and alarms (pre-alarm ring buffer)


class SourceKind(StrEnum):
    TESTSRC = "testsrc"  # ffmpeg's lavfi test pattern
    FILE = "file"  # a video file, cut by ffmpeg
    DIR = "dir"  # a directory another segmenter writes into
    RTSP = "rtsp"  # an IP camera's stream (path: rtsp:// or rtsps:// URL)
    V4L2 = "v4l2"  # a USB / capture device (path: /dev/videoN)


@dataclass
class SourceConfig:
    kind: SourceKind = SourceKind.TESTSRC
    path: str | None = None  # file, directory, rtsp:// URL or /dev/videoN
    realtime: bool = True  # ffmpeg -re: produce segments at wall-clock pace
    duration_s: float | None = None  # stop the source after this long (testsrc, file)
    size: str = "320x240"
    rate: int = 10
    audio: bool = True  # keep the source's audio (testsrc: a test tone); False drops it
    rtsp_transport: str = "tcp"  # or "udp" (RTP over UDP: lower latency, lost on NAT/firewalls)


@dataclass
class CameraConfig:
    url: str
    site_id: str
    camera_id: str
    key_file: str  # the device's Ed25519 signing key (ed25519-secret text)
    state_dir: str
    source: SourceConfig = field(default_factory=SourceConfig)
    mode: Mode = Mode.CONTINUOUS
    segment_s: float = 2.0
    #: ffmpeg cuts fragments this long, joined into segments outside an alarm and uploaded
    #: one by one as live recordings during it (clients/camera/fragments.py); None, 0 or
    #: segment_s: whole segments only (live video then waits for a whole segment)
    fragment_s: float | None = 0.5
    site_keys_file: str | None = None  # SiteKeys to pin at first start (else: first fetch)
    detector: str = "opencv"  # or "none"
    detect_frames: int = 3
    post_event_s: float = 4.0  # event mode: keep uploading this long after a detection
    stills: bool = False  # upload a JPEG still per segment instead of video
    sd_dir: str | None = None
    sd_retention_s: float = 7 * 86400
    sd_max_bytes: int | None = None
    sd_retention_check_s: float = 60.0  # the card is listed for retention at most this often
    alarm_poll_s: float = 1.0
    telemetry_interval_s: float = 60.0
    chain_head_interval_s: int = 60  # a signed chain head at least this often (1-86400)
    firmware: str = "camvault-agent-0.1"
    multipart_threshold: int = 64 * 1024 * 1024
    part_size: int = 16 * 1024 * 1024
    retry_max_s: float = 5.0
    exit_when_done: bool = False  # stop once the source ended and the queue is empty

    @property
    def state(self) -> Path:
        return Path(self.state_dir)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CameraConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(obj) - known
        if unknown:
            raise ValueError(f"unknown camera settings: {sorted(unknown)}")
        data = dict(obj)
        src = data.pop("source", {}) or {}
        src_known = {f.name for f in fields(SourceConfig)}
        if set(src) - src_known:
            raise ValueError(f"unknown source settings: {sorted(set(src) - src_known)}")
        source = SourceConfig(**src)
        source.kind = SourceKind(source.kind)
        cfg = cls(source=source, **data)
        cfg.mode = Mode(cfg.mode)
        interval = cfg.chain_head_interval_s
        if (
            isinstance(interval, bool)
            or not isinstance(interval, int)
            or not 1 <= interval <= 86400
        ):
            raise ValueError("chain_head_interval_s must be a whole number of seconds, 1-86400")
        return cfg

    @classmethod
    def load(cls, path: Path) -> CameraConfig:
        obj = json.loads(path.read_text())
        if not isinstance(obj, dict):
            raise ValueError(f"{path}: must hold a JSON object")
        return cls.from_json(obj)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["mode"] = self.mode.value
        out["source"]["kind"] = self.source.kind.value
        return out
