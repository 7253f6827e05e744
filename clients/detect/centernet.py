"""CenterNet (MobileNetV3) trained on COCO: persons, animals and vehicles in one pass.

The model is the ``centernet`` graph shipped in the npm package ``@vladmandic/human`` (MIT,
``models/centernet.json`` + ``centernet.bin``, 4 MB), installed by
``scripts/install-tools.sh models`` into ``.cache/models/centernet``. It is a TF.js graph
model; :mod:`clients.detect.tfjs` rewrites it for OpenCV's DNN module. Input: RGB 512 x 512,
pixel values 0..255. Outputs at stride 4: a 128 x 128 heatmap per COCO class (sigmoid) and 4
box distances (left, top, right, bottom, in input pixels / 4). A detection is a heatmap peak
(3 x 3 local maximum) at or above ``min_score``.

The files' sha256 are pinned in ``centernet.sha256`` next to this module (``sha256sum``
format), the one list both the installer (``sha256sum -c``) and this loader check: every file
is read once, hashed, compared with its pin, and only then parsed, so a corrupt, truncated or
replaced file never reaches the parser (a same-size flipped weight would otherwise load and
silently lower scores). A deployment running another model names its own pin file
(``sha256_file`` or ``$CAMVAULT_MODEL_SHA256_FILE``); there is no way to skip the check.

No model, no detector: :class:`ModelMissingError` says where the files were looked for and
how to install them, :class:`ModelCorruptError` which file failed and how to reinstall it; the
camera never runs silently without its vehicle model or with a damaged one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from clients.detect.base import Detection, Frame, Label
from clients.detect.tfjs import graph_to_onnx, weight_files

MODEL_FILES = ("centernet.json", "centernet.bin")
OUTPUTS = ("tower_0/keypoints", "tower_0/wh")
#: The model files' pinned sha256 (read by scripts/install-tools.sh too).
SHA256_FILE = Path(__file__).with_name("centernet.sha256")
INSTALL_HINT = "run `bash scripts/install-tools.sh models` (or `make tools`)"
INPUT_SIZE = 512
STRIDE = 4
#: Heatmap peaks below this are ignored. On the test photographs true objects score 0.43 to
#: 0.68 and the strongest wrong label 0.26 (docs/CAMERA.md "Detection").
MIN_SCORE = 0.35


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: COCO's 80 classes in the model's output order.
COCO_CLASSES = _words(
    "person bicycle car motorcycle airplane bus train truck boat traffic-light fire-hydrant "
    "stop-sign parking-meter bench bird cat dog horse sheep cow elephant bear zebra giraffe "
    "backpack umbrella handbag tie suitcase frisbee skis snowboard sports-ball kite "
    "baseball-bat baseball-glove skateboard surfboard tennis-racket bottle wine-glass cup fork "
    "knife spoon bowl banana apple sandwich orange broccoli carrot hot-dog pizza donut cake "
    "chair couch potted-plant bed dining-table toilet tv laptop mouse remote keyboard "
    "cell-phone microwave oven toaster sink refrigerator book clock vase scissors teddy-bear "
    "hair-drier toothbrush"
)

#: COCO class -> camvault label (classes not listed are ignored).
LABELS: dict[str, Label] = {
    "person": Label.PERSON,
    **{c: Label.VEHICLE for c in _words("bicycle car motorcycle airplane bus train truck boat")},
    **{c: Label.ANIMAL for c in _words("bird cat dog horse sheep cow elephant bear zebra giraffe")},
}


class ModelError(RuntimeError):
    """The detector's model cannot be used; the message names the file and the fix."""


class ModelMissingError(ModelError):
    """A model file the detector needs is not installed."""


class ModelCorruptError(ModelError):
    """A model file does not match its pinned sha256 or cannot be loaded."""


def default_model_dir() -> Path:
    """``$CAMVAULT_MODEL_DIR``, else ``models/centernet`` in the install cache
    (``$CAMVAULT_CACHE_DIR`` or, in a repository checkout, the repository's ``.cache``)."""
    if explicit := os.environ.get("CAMVAULT_MODEL_DIR"):
        return Path(explicit)
    cache = os.environ.get("CAMVAULT_CACHE_DIR") or Path(__file__).resolve().parents[2] / ".cache"
    return Path(cache) / "models" / "centernet"


def default_sha256_file() -> Path:
    """``$CAMVAULT_MODEL_SHA256_FILE``, else the pins checked in next to this module."""
    if explicit := os.environ.get("CAMVAULT_MODEL_SHA256_FILE"):
        return Path(explicit)
    return SHA256_FILE


_PIN_LINE = re.compile(r"([0-9a-f]{64}) [ *]([^/\\\0]+)")


def read_pins(path: Path) -> dict[str, str]:
    """File name -> sha256 (hex) from a ``sha256sum``-format file; anything else refused."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ModelMissingError(
            f"model sha256 pin file {path} not found (centernet.sha256 ships next to "
            "clients/detect/centernet.py; CAMVAULT_MODEL_SHA256_FILE names another)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelCorruptError(f"model sha256 pin file {path} cannot be read: {e}") from e
    pins: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = _PIN_LINE.fullmatch(line)
        if m is None or m[2] in (".", "..") or m[2] in pins:
            raise ModelCorruptError(
                f"model sha256 pin file {path} line {n} is not `<sha256>  <file name>` "
                "(sha256sum format, one plain file name per line, each once)"
            )
        pins[m[2]] = m[1]
    if not pins:
        raise ModelCorruptError(f"model sha256 pin file {path} pins no file")
    return pins


class CenterNetDetector:
    """COCO CenterNet through OpenCV DNN (see the module docstring)."""

    name = "centernet-mbv3-coco"

    def __init__(
        self,
        model_dir: Path | None = None,
        min_score: float = MIN_SCORE,
        sha256_file: Path | None = None,
    ) -> None:
        self.model_dir = model_dir if model_dir is not None else default_model_dir()
        self.sha256_file = sha256_file if sha256_file is not None else default_sha256_file()
        missing = [f for f in MODEL_FILES if not (self.model_dir / f).is_file()]
        if missing:
            raise ModelMissingError(
                f"CenterNet model file(s) {', '.join(missing)} not found in {self.model_dir}: "
                f"{INSTALL_HINT}, or point CAMVAULT_MODEL_DIR at a directory holding "
                "centernet.json and centernet.bin"
            )
        self.net = self._load()
        self.min_score = min_score
        self.kernel = np.ones((3, 3), np.uint8)

    def _load(self) -> cv2.dnn.Net:
        """Every file read once and checked against its pin before it is parsed."""
        pins = read_pins(self.sha256_file)
        model_bytes = self._read_pinned("centernet.json", pins)
        try:
            model: Any = json.loads(model_bytes)
            if not isinstance(model, dict):
                raise ValueError("not a JSON object")
            names = weight_files(model)
        except ValueError as e:  # JSON, UTF-8 and UnsupportedGraphError are ValueErrors
            raise self._corrupt("centernet.json", f"cannot be read as a TF.js model: {e}") from e
        files = {name: self._read_pinned(name, pins) for name in names}
        try:
            onnx = graph_to_onnx(model, files, OUTPUTS, INPUT_SIZE, "centernet")
            return cv2.dnn.readNetFromONNX(np.frombuffer(onnx, np.uint8))
        except Exception as e:  # pinned (hence intended) files that do not load: one clear error
            raise self._corrupt(
                "centernet.json", f"(with {', '.join(names)}) does not load: {e}"
            ) from e

    def _read_pinned(self, name: str, pins: dict[str, str]) -> bytes:
        pin = pins.get(name)
        if pin is None:
            raise self._corrupt(name, f"has no sha256 pin in {self.sha256_file}")
        path = self.model_dir / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelMissingError(
                f"CenterNet model file {name} not found in {self.model_dir}: {INSTALL_HINT}"
            ) from None
        except OSError as e:
            raise self._corrupt(name, f"cannot be read: {e}") from e
        digest = hashlib.sha256(data).hexdigest()
        if not hmac.compare_digest(digest, pin):
            raise self._corrupt(
                name,
                f"does not match its pinned sha256 ({len(data)} bytes, sha256 {digest}, "
                f"pinned {pin} in {self.sha256_file}): the file is corrupt, truncated or "
                "another version",
            )
        return data

    def _corrupt(self, name: str, problem: str) -> ModelCorruptError:
        return ModelCorruptError(
            f"CenterNet model file {name} in {self.model_dir} {problem}; {INSTALL_HINT} to "
            "reinstall it (a deployment running another model names its pins with "
            "CAMVAULT_MODEL_SHA256_FILE)"
        )

    def detect_frame(self, frame: Frame) -> list[Detection]:
        h, w = frame.shape[:2]
        blob = cv2.dnn.blobFromImage(frame, 1.0, (INPUT_SIZE, INPUT_SIZE), swapRB=True)
        self.net.setInput(blob)
        heat, dist = self.net.forward(list(OUTPUTS))
        sx, sy = w / INPUT_SIZE, h / INPUT_SIZE
        out: list[Detection] = []
        for cls, name in enumerate(COCO_CLASSES):
            label = LABELS.get(name)
            if label is None:
                continue
            hm = heat[0, cls]
            peaks = (hm >= self.min_score) & (hm == cv2.dilate(hm, self.kernel))
            for y, x in zip(*np.nonzero(peaks), strict=True):
                left, top, right, bottom = (float(v) for v in dist[0, :, y, x])
                cx, cy = float(x) * STRIDE, float(y) * STRIDE
                x1, y1 = max(0.0, (cx - left) * sx), max(0.0, (cy - top) * sy)
                x2, y2 = min(float(w), (cx + right) * sx), min(float(h), (cy + bottom) * sy)
                box = (int(x1), int(y1), max(1, int(x2 - x1)), max(1, int(y2 - y1)))
                out.append(Detection(label, float(hm[y, x]), box, f"centernet:{name}"))
        return out
