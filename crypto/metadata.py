"""Recording metadata: the facts about a recording that escrow shares and manifests bind.

A recording is identified by (site, camera, recording id) and described by its kind and its
time span. These values are bound as AEAD associated data into every escrow stanza, so a
custodian that opens a share knows which recording it belongs to and nobody can re-label it,
and they appear in the camera-signed manifest. Times are integer milliseconds since the Unix
epoch (UTC), which keeps the canonical encoding exact (see crypto.canonical).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from crypto.canonical import parse_canonical_json
from crypto.errors import StatementError

#: Domain-separation prefix of the canonical metadata encoding (version 1).
METADATA_DOMAIN = b"camvault/v1/recording-metadata\n"

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_FIELDS = ("camera_id", "end_ms", "kind", "recording_id", "site_id", "start_ms")
MAX_TIME_MS = 2**53 - 1


class RecordingKind(StrEnum):
    SEGMENT = "segment"  # continuous-recording video segment
    CLIP = "clip"  # event clip (pre-alarm buffer, detection)
    LIVE = "live"  # live segment uploaded while an alarm is open
    STILL = "still"  # JPEG snapshot
    EVENT = "event"  # detection event record (labels, thumbnail)


def check_id(value: object, what: str) -> str:
    """Return ``value`` if it is a well-formed camvault identifier, else raise."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise StatementError(
            f"{what}: must be 1-128 characters of [A-Za-z0-9._:-], starting alphanumeric"
        )
    return value


def check_time_ms(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TIME_MS:
        raise StatementError(f"{what}: must be an integer number of milliseconds >= 0")
    return value


@dataclass(frozen=True, slots=True)
class RecordingMetadata:
    site_id: str
    camera_id: str
    recording_id: str
    kind: RecordingKind
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        check_id(self.site_id, "site_id")
        check_id(self.camera_id, "camera_id")
        check_id(self.recording_id, "recording_id")
        if not isinstance(self.kind, RecordingKind):
            raise StatementError("kind: must be a RecordingKind")
        check_time_ms(self.start_ms, "start_ms")
        check_time_ms(self.end_ms, "end_ms")
        if self.end_ms < self.start_ms:
            raise StatementError("end_ms: must not be before start_ms")

    def to_json(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "camera_id": self.camera_id,
            "recording_id": self.recording_id,
            "kind": self.kind.value,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
        }

    @classmethod
    def from_json(cls, obj: object) -> RecordingMetadata:
        if not isinstance(obj, dict):
            raise StatementError("recording metadata: must be a JSON object")
        keys = set(obj)
        if keys != set(_FIELDS):
            missing = sorted(set(_FIELDS) - keys)
            unknown = sorted(keys - set(_FIELDS))
            raise StatementError(
                f"recording metadata: missing fields {missing}, unknown fields {unknown}"
            )
        kind = obj["kind"]
        if not isinstance(kind, str) or kind not in {k.value for k in RecordingKind}:
            raise StatementError(f"kind: must be one of {[k.value for k in RecordingKind]}")
        return cls(
            site_id=check_id(obj["site_id"], "site_id"),
            camera_id=check_id(obj["camera_id"], "camera_id"),
            recording_id=check_id(obj["recording_id"], "recording_id"),
            kind=RecordingKind(kind),
            start_ms=check_time_ms(obj["start_ms"], "start_ms"),
            end_ms=check_time_ms(obj["end_ms"], "end_ms"),
        )

    def canonical(self) -> bytes:
        """Canonical JSON (RFC 8785) of the metadata, without domain prefix.

        Written directly rather than through :func:`canonical_json` (a custodian encodes it
        twice per recording, thousands per request): the members are listed in RFC 8785
        order, identifiers are restricted to ``[A-Za-z0-9._:-]`` and the kind to ASCII
        letters, so no string needs escaping, and times are integers. The test suite checks
        the result equals ``canonical_json(self.to_json())``.
        """
        return (
            f'{{"camera_id":"{self.camera_id}","end_ms":{self.end_ms},'
            f'"kind":"{self.kind.value}","recording_id":"{self.recording_id}",'
            f'"site_id":"{self.site_id}","start_ms":{self.start_ms}}}'
        ).encode("ascii")

    def associated_data(self) -> bytes:
        """The bytes bound as AEAD associated data: domain prefix || canonical JSON."""
        return METADATA_DOMAIN + self.canonical()

    @classmethod
    def parse(cls, data: bytes) -> RecordingMetadata:
        """Parse the canonical JSON produced by :meth:`canonical` (strictly)."""
        return cls.from_json(parse_canonical_json(data))
