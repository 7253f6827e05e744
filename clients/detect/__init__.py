"""On-device detection: a pluggable :class:`Detector` giving person / animal / vehicle labels
with a confidence per video segment (docs/CAMERA.md "Detection")."""

from clients.detect.base import Detection, Detector, Label, SegmentDetections, detect_segment

__all__ = ["Detection", "Detector", "Label", "SegmentDetections", "detect_segment"]
