"""CenterNet (MobileNetV3) trained on COCO: persons, animals and vehicles in one pass.

The model is the ``centernet`` graph shipped in the npm package ``@vladmandic/human`` (MIT,
``models/centernet.json`` + ``centernet.bin``, 4 MB), installed by
``scripts/install-tools.sh models`` into ``.cache/models/centernet`` (pinned version, sha256
checked). It is a TF.js graph model; :mod:`clients.detect.tfjs` rewrites it for OpenCV's DNN
module. Input: RGB 512 x 512, pixel values 0..255. Outputs at stride 4: a 128 x 128 heatmap
per COCO class (sigmoid) and 4 box distances (left, top, right, bottom, in input pixels / 4).
A detection is a heatmap peak (3 x 3 local maximum) at or above ``min_score``.

No model, no detector: :class:`ModelMissingError` says where the files were looked for and
how to install them; the camera never runs silently without its vehicle model.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from clients.detect.base import Detection, Frame, Label
from clients.detect.tfjs import load_net

MODEL_FILES = ("centernet.json", "centernet.bin")
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


class ModelMissingError(RuntimeError):
    """A model file the detector needs is not installed."""


def default_model_dir() -> Path:
    """``$CAMVAULT_MODEL_DIR``, else ``models/centernet`` in the install cache
    (``$CAMVAULT_CACHE_DIR`` or the repository's ``.cache``)."""
    if explicit := os.environ.get("CAMVAULT_MODEL_DIR"):
        return Path(explicit)
    cache = os.environ.get("CAMVAULT_CACHE_DIR") or Path(__file__).resolve().parents[2] / ".cache"
    return Path(cache) / "models" / "centernet"


class CenterNetDetector:
    """COCO CenterNet through OpenCV DNN (see the module docstring)."""

    name = "centernet-mbv3-coco"

    def __init__(self, model_dir: Path | None = None, min_score: float = MIN_SCORE) -> None:
        self.model_dir = model_dir if model_dir is not None else default_model_dir()
        missing = [f for f in MODEL_FILES if not (self.model_dir / f).is_file()]
        if missing:
            raise ModelMissingError(
                f"CenterNet model file(s) {', '.join(missing)} not found in {self.model_dir}: "
                "run `bash scripts/install-tools.sh models` (or `make tools`), or point "
                "CAMVAULT_MODEL_DIR at a directory holding centernet.json and centernet.bin"
            )
        self.net = load_net(
            self.model_dir / "centernet.json", ["tower_0/keypoints", "tower_0/wh"], INPUT_SIZE
        )
        self.min_score = min_score
        self.kernel = np.ones((3, 3), np.uint8)

    def detect_frame(self, frame: Frame) -> list[Detection]:
        h, w = frame.shape[:2]
        blob = cv2.dnn.blobFromImage(frame, 1.0, (INPUT_SIZE, INPUT_SIZE), swapRB=True)
        self.net.setInput(blob)
        heat, dist = self.net.forward(["tower_0/keypoints", "tower_0/wh"])
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
