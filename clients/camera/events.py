"""What the camera tells about its detections: the event record (a recording of kind
``event`` in the chain, encrypted like the segment) and the smart alert (an inbox notice
encrypted to the customer only), as the JSON bytes that are sealed."""

from __future__ import annotations

import json
from typing import Any

from clients.camera.seal import Sealed
from clients.detect.base import SegmentDetections
from crypto.encoding import b64encode_padded

EVENT_RECORD_TYPE = "camvault/v1/detection-event"
SMART_ALERT_TYPE = "camvault/v1/smart-alert"


def event_record(camera_id: str, segment: Sealed, found: SegmentDetections, detector: str) -> bytes:
    """Labels, detections and thumbnail of ``segment``."""
    thumb = found.thumbnail_jpeg
    record: dict[str, Any] = {
        "type": EVENT_RECORD_TYPE,
        "camera_id": camera_id,
        "segment_recording_id": segment.recording_id,
        "segment_kind": segment.kind.value,
        "start_ms": segment.start_ms,
        "end_ms": segment.end_ms,
        "detector": detector,
        "frames_sampled": found.frames_sampled,
        "labels": found.labels_json(),
        "detections": [d.to_json() for d in found.detections],
        "thumbnail_jpeg": None if thumb is None else b64encode_padded(thumb),
    }
    return json.dumps(record, sort_keys=True).encode()


def smart_alert(
    camera_id: str, segment: Sealed, event: Sealed, found: SegmentDetections
) -> tuple[str, bytes]:
    """The alert id and the notice naming the segment, its event record and the labels."""
    alert_id = f"alert-{event.recording_id}"
    body = {
        "type": SMART_ALERT_TYPE,
        "alert_id": alert_id,
        "camera_id": camera_id,
        "segment_recording_id": segment.recording_id,
        "event_recording_id": event.recording_id,
        "start_ms": segment.start_ms,
        "labels": found.labels_json(),
    }
    return alert_id, json.dumps(body, sort_keys=True).encode()
