"""The default OpenCV detector on real photographs shipped by scikit-image (astronaut: a
person, NASA, public domain; chelsea: a cat, CC0; motorcycle_left: a vehicle, Middlebury
stereo 2014), on the ffmpeg test pattern, and through the segment driver on real video.

Measured limits (docs/CAMERA.md "Detection"): OpenCV bundles no vehicle model; the licence
plate cascade used as a vehicle proxy does not find the motorcycle for the right reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from clients.detect import Label, detect_segment
from clients.detect.base import Frame
from clients.detect.opencv import OpenCvDetector
from tests.clients.test_camera_support import ffmpeg


def sample(name: str) -> Path:
    import skimage

    p = Path(skimage.__file__).parent / "data" / name
    if not p.is_file():
        pytest.fail(f"scikit-image sample {name} missing (pip install scikit-image)")
    return p


def image(name: str) -> Frame:
    img = cv2.imread(str(sample(name)))
    assert img is not None
    return np.asarray(img, np.uint8)


@pytest.fixture(scope="module")
def det() -> OpenCvDetector:
    return OpenCvDetector()


def labels(det: OpenCvDetector, frame: Frame) -> set[Label]:
    return {d.label for d in det.detect_frame(frame)}


def test_person_on_the_astronaut(det: OpenCvDetector) -> None:
    found = det.detect_frame(image("astronaut.png"))
    assert {d.label for d in found} == {Label.PERSON}
    face = next(d for d in found if d.source == "haarcascade_frontalface_alt2")
    x, y, w, _h = face.box  # Eileen Collins' face is at about (175, 65, 100, 100)
    assert 150 < x < 200 and 40 < y < 90 and 80 < w < 130
    assert 0.5 <= face.confidence < 1.0


def test_animal_on_the_cat_and_not_person(det: OpenCvDetector) -> None:
    assert labels(det, image("chelsea.png")) == {Label.ANIMAL}


def test_nothing_on_the_test_pattern(det: OpenCvDetector, tmp_path: Path) -> None:
    png = tmp_path / "testsrc.png"
    subprocess.run(
        [ffmpeg(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
         "-frames:v", "1", str(png)],
        check=True,
    )  # fmt: skip
    frame = cv2.imread(str(png))
    assert frame is not None
    assert labels(det, np.asarray(frame, np.uint8)) == set()


def test_no_vehicle_on_person_or_animal(det: OpenCvDetector) -> None:
    assert Label.VEHICLE not in labels(det, image("astronaut.png"))
    assert Label.VEHICLE not in labels(det, image("chelsea.png"))


@pytest.mark.xfail(
    strict=True,
    reason="OpenCV bundles no vehicle model; the licence-plate cascade (proxy) does not frame "
    "the motorcycle (no plate is visible in this photo): known limitation, docs/CAMERA.md",
)
def test_vehicle_on_the_motorcycle(det: OpenCvDetector) -> None:
    found = [d for d in det.detect_frame(image("motorcycle_left.png")) if d.label is Label.VEHICLE]
    # the motorcycle spans about x 90..690, y 100..420 of the 741 x 500 photo: a detection of
    # the vehicle must cover most of it, not a 170 x 57 patch of the engine
    assert any(d.box[2] > 300 and d.box[3] > 150 for d in found), found


def test_segment_driver_on_real_video(det: OpenCvDetector, tmp_path: Path) -> None:
    """A 2 s MPEG-TS segment made from the astronaut photo: labels and a JPEG thumbnail."""
    seg = tmp_path / "person.ts"
    subprocess.run(
        [ffmpeg(), "-loglevel", "error", "-loop", "1", "-i", str(sample("astronaut.png")),
         "-t", "2", "-r", "10", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts",
         str(seg)],
        check=True,
    )  # fmt: skip
    result = detect_segment(det, seg, frames=3)
    assert result.frames_sampled == 3
    assert set(result.labels()) == {Label.PERSON}
    assert result.thumbnail_jpeg is not None and result.thumbnail_jpeg[:3] == b"\xff\xd8\xff"
    assert [x["label"] for x in result.labels_json()] == ["person"]
