"""Recordings of a site: list (with tombstones), detail + presigned GET, export, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from storage_service.api.auth import SameSite, SignedPrincipal
from storage_service.api.deps import EngineDep, SettingsDep, StoreDep
from storage_service.api.errors import ERROR_RESPONSES
from storage_service.api.params import CameraFilter, CameraId, FromMs, RecordingId, SiteId, ToMs
from storage_service.core.errors import ApiError, Reason
from storage_service.schemas.base import DeleteResult
from storage_service.schemas.recordings import RecordingDetail, RecordingPage, ReplaceHeader
from storage_service.services import recordings
from storage_service.services.recordings import Query as RecQuery

router = APIRouter(
    responses=ERROR_RESPONSES,
    prefix="/v1/sites/{site_id}",
    tags=["recordings"],
    dependencies=[SameSite],
)
AGE_TYPE = "application/octet-stream"


@router.get("/recordings")
def list_recordings(
    site_id: SiteId,
    principal: SignedPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    camera_id: CameraFilter = None,
    from_ms: FromMs = None,
    to_ms: ToMs = None,
    include_deleted: bool = True,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> RecordingPage:
    """Newest first; ``start_ms`` in [from_ms, to_ms); tombstones included by default."""
    principal.require_customer(site_id)
    q = RecQuery(site_id, camera_id, from_ms, to_ms, include_deleted)
    return recordings.list_recordings(engine, q, min(limit, settings.list_max_page), cursor)


@router.get("/cameras/{camera_id}/recordings/{recording_id}")
def read_recording(
    site_id: SiteId,
    camera_id: CameraId,
    recording_id: RecordingId,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
) -> RecordingDetail:
    """Manifest, age header (base64) and a presigned GET URL of the payload."""
    principal.require_customer(site_id)
    return recordings.detail(engine, store, settings, site_id, camera_id, recording_id)


@router.get(
    "/cameras/{camera_id}/recordings/{recording_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {AGE_TYPE: {}}, "description": "the age file"}},
)
def export(
    site_id: SiteId,
    camera_id: CameraId,
    recording_id: RecordingId,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
) -> StreamingResponse:
    """The recording as one age file (header || payload), streamed."""
    principal.require_customer(site_id)
    length, chunks = recordings.export(engine, store, site_id, camera_id, recording_id)
    return StreamingResponse(
        chunks,
        media_type=AGE_TYPE,
        headers={
            "Content-Length": str(length),
            "Content-Disposition": f'attachment; filename="{recording_id}.age"',
        },
    )


@router.get(
    "/export.tar",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-tar": {}}, "description": "tar of age files"}},
)
def export_tar(
    site_id: SiteId,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
    camera_id: CameraFilter = None,
    from_ms: FromMs = None,
    to_ms: ToMs = None,
) -> StreamingResponse:
    """A tar of the age files and signed manifests of a time range, streamed."""
    principal.require_customer(site_id)
    q = RecQuery(site_id, camera_id, from_ms, to_ms, include_deleted=False)
    return StreamingResponse(
        recordings.export_tar(engine, store, settings, q),
        media_type="application/x-tar",
        headers={"Content-Disposition": f'attachment; filename="{site_id}.tar"'},
    )


@router.put("/cameras/{camera_id}/recordings/{recording_id}/header")
def replace_header(
    site_id: SiteId,
    camera_id: CameraId,
    recording_id: RecordingId,
    body: ReplaceHeader,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
) -> RecordingDetail:
    """Replace the age header with one the customer re-wrapped (new customer device)."""
    principal.require_customer(site_id)
    return recordings.replace_header(
        engine, store, settings, site_id, camera_id, recording_id, body.header
    )


@router.delete("/cameras/{camera_id}/recordings/{recording_id}")
def delete_recording(
    site_id: SiteId,
    camera_id: CameraId,
    recording_id: RecordingId,
    principal: SignedPrincipal,
    engine: EngineDep,
) -> DeleteResult:
    """Crypto-shred one recording (header gone now, payload swept later)."""
    principal.require_customer(site_id)
    return DeleteResult(deleted=recordings.delete_one(engine, site_id, camera_id, recording_id))


@router.delete("/recordings")
def delete_range(
    site_id: SiteId,
    principal: SignedPrincipal,
    engine: EngineDep,
    from_ms: FromMs = None,
    to_ms: ToMs = None,
    camera_id: CameraFilter = None,
) -> DeleteResult:
    """Crypto-shred every recording with ``start_ms`` in [from_ms, to_ms) (both required)."""
    principal.require_customer(site_id)
    if from_ms is None or to_ms is None or to_ms < from_ms:
        raise ApiError(Reason.INVALID_RANGE, "from_ms and to_ms are required, from_ms <= to_ms")
    q = RecQuery(site_id, camera_id, from_ms, to_ms)
    return DeleteResult(deleted=recordings.delete_range(engine, q))
