"""Shared path and query parameter types (identifiers as in crypto.metadata.check_id)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from crypto.metadata import MAX_TIME_MS
from storage_service.schemas.base import ID_PATTERN

SiteId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
CameraId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
DeviceId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
RecordingId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
CameraFilter = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)]
FromMs = Annotated[int | None, Query(ge=0, le=MAX_TIME_MS)]
ToMs = Annotated[int | None, Query(ge=0, le=MAX_TIME_MS)]
