"""The detector interface and the per-segment driver (frame sampling, thumbnail).

A detector looks at single frames (BGR ``numpy`` arrays as OpenCV decodes them); the driver
samples a few frames evenly over a segment, keeps the best confidence per label and a JPEG
thumbnail of the frame with the strongest detection. Labels and thumbnail never leave the
camera in the clear: the agent puts them into an age-encrypted event record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]

#: Thumbnails are scaled so that their longer side is at most this many pixels.
THUMBNAIL_MAX_SIDE = 320


class Label(StrEnum):
    PERSON = "person"
    ANIMAL = "animal"
    VEHICLE = "vehicle"


@dataclass(frozen=True, slots=True)
class Detection:
    label: Label
    confidence: float  # 0..1
    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    source: str  # which model fired (e.g. "hog-people", "haar:frontalface_alt2")

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label.value,
            "confidence": round(self.confidence, 3),
            "box": list(self.box),
            "source": self.source,
        }


class Detector(Protocol):
    """Finds persons, animals and vehicles in one frame."""

    name: str

    def detect_frame(self, frame: Frame) -> list[Detection]: ...


@dataclass(slots=True)
class SegmentDetections:
    """What a detector saw in one segment."""

    detections: list[Detection] = field(default_factory=list)
    frames_sampled: int = 0
    thumbnail_jpeg: bytes | None = None

    def labels(self) -> dict[Label, float]:
        """The best confidence per label."""
        best: dict[Label, float] = {}
        for d in self.detections:
            best[d.label] = max(best.get(d.label, 0.0), d.confidence)
        return best

    def labels_json(self) -> list[dict[str, Any]]:
        return [
            {"label": label.value, "confidence": round(conf, 3)}
            for label, conf in sorted(self.labels().items())
        ]


def sample_frames(path: Path, count: int) -> list[Frame]:
    """Up to ``count`` frames spread evenly over a video file (or the image itself)."""
    image = cv2.imread(str(path)) if path.suffix.lower() in {".jpg", ".jpeg", ".png"} else None
    if image is not None:
        return [image.astype(np.uint8)]
    cap = cv2.VideoCapture(str(path))
    try:
        frames: list[Frame] = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame.astype(np.uint8))
        if len(frames) <= count:
            return frames
        step = len(frames) / count
        return [frames[int(step * i + step / 2)] for i in range(count)]
    finally:
        cap.release()


def thumbnail(frame: Frame) -> bytes:
    h, w = frame.shape[:2]
    scale = min(1.0, THUMBNAIL_MAX_SIDE / max(h, w))
    small = cv2.resize(frame, (max(1, int(w * scale)), max(1, int(h * scale))))
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError("JPEG encoding of the thumbnail failed")
    return bytes(buf.tobytes())


def detect_segment(detector: Detector, path: Path, frames: int = 3) -> SegmentDetections:
    """Run ``detector`` on ``frames`` frames of the segment at ``path``."""
    sampled = sample_frames(path, frames)
    result = SegmentDetections(frames_sampled=len(sampled))
    best: tuple[float, Frame] | None = None
    for frame in sampled:
        found = detector.detect_frame(frame)
        result.detections.extend(found)
        top = max((d.confidence for d in found), default=0.0)
        if found and (best is None or top > best[0]):
            best = (top, frame)
    if best is not None:
        result.thumbnail_jpeg = thumbnail(best[1])
    return result
