"""The pre-alarm ring buffer: encrypted segments kept on the camera, not yet in the manifest
chain, bounded by the camera profile's ``pre_alarm_s`` (DESIGN "Release protocol": the
custodians release at most that far back). Promoted to the outbox when an alarm starts or
something is detected (event mode); silently aged out otherwise (no gap in the chain: these
segments were never given a sequence number)."""

from __future__ import annotations

from clients.camera import parts
from clients.camera.queue import Journal


def prune(journal: Journal, pre_alarm_s: int, now_ms: int) -> int:
    """Drop entries that ended more than ``pre_alarm_s`` ago; returns how many."""
    dropped = 0
    for s in journal.ring_items():
        if s.end_ms < now_ms - pre_alarm_s * 1000:
            journal.ring_drop(s.recording_id)
            s.file.unlink(missing_ok=True)
            parts.discard(s.file)
            dropped += 1
    return dropped
