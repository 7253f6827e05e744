"""Recordings of a site: list (with tombstones), detail + presigned GET, export, delete."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from storage_service.api.auth import SameSite, SignedPrincipal
from storage_service.api.deps import EngineDep, SettingsDep, StoreDep
from storage_service.api.errors import ERROR_RESPONSES
from storage_service.api.params import PageCursor, PageLimit, RecordingFilters, RecordingRef, SiteId
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
    filters: RecordingFilters,
    include_deleted: bool = True,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> RecordingPage:
    """Newest first; ``start_ms`` in [from_ms, to_ms); tombstones included by default."""
    principal.require_customer(site_id)
    q = RecQuery(site_id, *filters, include_deleted)
    return recordings.list_recordings(engine, q, min(limit, settings.list_max_page), cursor)


@router.get("/cameras/{camera_id}/recordings/{recording_id}")
def read_recording(
    ref: RecordingRef,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
) -> RecordingDetail:
    """Manifest, age header (base64) and a presigned GET URL of the payload."""
    principal.require_customer(ref.site_id)
    return recordings.detail(engine, store, settings, *ref)


@router.get(
    "/cameras/{camera_id}/recordings/{recording_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {AGE_TYPE: {}}, "description": "the age file"}},
)
def export(
    ref: RecordingRef,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
) -> StreamingResponse:
    """The recording as one age file (header || payload), streamed."""
    principal.require_customer(ref.site_id)
    length, chunks = recordings.export(engine, store, *ref)
    return StreamingResponse(
        chunks,
        media_type=AGE_TYPE,
        headers={
            "Content-Length": str(length),
            "Content-Disposition": f'attachment; filename="{ref.recording_id}.age"',
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
    filters: RecordingFilters,
) -> StreamingResponse:
    """A tar of the age files and signed manifests of a time range, streamed."""
    principal.require_customer(site_id)
    q = RecQuery(site_id, *filters, include_deleted=False)
    return StreamingResponse(
        recordings.export_tar(engine, store, settings, q),
        media_type="application/x-tar",
        headers={"Content-Disposition": f'attachment; filename="{site_id}.tar"'},
    )


@router.put("/cameras/{camera_id}/recordings/{recording_id}/header")
def replace_header(
    ref: RecordingRef,
    body: ReplaceHeader,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
) -> RecordingDetail:
    """Replace the age header with one the customer re-wrapped (new customer device)."""
    principal.require_customer(ref.site_id)
    return recordings.replace_header(engine, store, settings, *ref, body.header)


@router.delete("/cameras/{camera_id}/recordings/{recording_id}")
def delete_recording(
    ref: RecordingRef,
    principal: SignedPrincipal,
    engine: EngineDep,
) -> DeleteResult:
    """Crypto-shred one recording (header gone now, payload swept later)."""
    principal.require_customer(ref.site_id)
    return DeleteResult(deleted=recordings.delete_one(engine, *ref))


@router.delete("/recordings")
def delete_range(
    site_id: SiteId,
    principal: SignedPrincipal,
    engine: EngineDep,
    filters: RecordingFilters,
) -> DeleteResult:
    """Crypto-shred every recording with ``start_ms`` in [from_ms, to_ms) (both required)."""
    principal.require_customer(site_id)
    _, from_ms, to_ms = filters
    if from_ms is None or to_ms is None or to_ms < from_ms:
        raise ApiError(Reason.INVALID_RANGE, "from_ms and to_ms are required, from_ms <= to_ms")
    q = RecQuery(site_id, *filters)
    return DeleteResult(deleted=recordings.delete_range(engine, q))
