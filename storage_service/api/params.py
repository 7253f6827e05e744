"""Shared path and query parameters (identifiers as in crypto.metadata.check_id)."""

from __future__ import annotations

from typing import Annotated, NamedTuple

from fastapi import Depends, Path, Query

from crypto.metadata import MAX_TIME_MS
from storage_service.schemas.base import ID_PATTERN

SiteId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
CameraId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
DeviceId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
RecordingId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
CameraFilter = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)]
FromMs = Annotated[int | None, Query(ge=0, le=MAX_TIME_MS)]
ToMs = Annotated[int | None, Query(ge=0, le=MAX_TIME_MS)]
#: Page size and cursor of the recording lists (capped by the ``list_max_page`` setting).
PageLimit = Annotated[int, Query(ge=1, le=10_000)]
PageCursor = Annotated[str | None, Query(max_length=64)]


class RecordingPath(NamedTuple):
    """``/sites/{site_id}/cameras/{camera_id}/recordings/{recording_id}``."""

    site_id: str
    camera_id: str
    recording_id: str


def _recording_path(
    site_id: SiteId, camera_id: CameraId, recording_id: RecordingId
) -> RecordingPath:
    return RecordingPath(site_id, camera_id, recording_id)


RecordingRef = Annotated[RecordingPath, Depends(_recording_path)]


class RecordingFilter(NamedTuple):
    """The ``camera_id``, ``from_ms`` and ``to_ms`` query parameters of recording lists."""

    camera_id: str | None
    from_ms: int | None
    to_ms: int | None


def _recording_filter(
    camera_id: CameraFilter = None, from_ms: FromMs = None, to_ms: ToMs = None
) -> RecordingFilter:
    return RecordingFilter(camera_id, from_ms, to_ms)


RecordingFilters = Annotated[RecordingFilter, Depends(_recording_filter)]
