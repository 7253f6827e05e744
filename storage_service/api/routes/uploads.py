"""Camera uploads: request presigned URLs, then commit with the age header and manifest."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from storage_service.api.auth import SameSite, SignedPrincipal
from storage_service.api.deps import CommitsDep, EngineDep, SettingsDep, StoreDep
from storage_service.api.errors import ERROR_RESPONSES, replayed
from storage_service.api.params import CameraId, RecordingId, SiteId
from storage_service.schemas.recordings import CommitRequest, RecordingOut, UploadOut, UploadRequest
from storage_service.services import uploads
from storage_service.services.recordings import recording_out

router = APIRouter(
    responses=ERROR_RESPONSES,
    prefix="/v1/sites/{site_id}/cameras/{camera_id}",
    tags=["uploads"],
    dependencies=[SameSite],
)


@router.post("/uploads", status_code=status.HTTP_201_CREATED, responses=replayed(UploadOut))
def request_upload(
    site_id: SiteId,
    camera_id: CameraId,
    body: UploadRequest,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
) -> UploadOut:
    """Presigned PUT URL(s) for the recording's age payload (the header goes to commit)."""
    principal.require_device(site_id, camera_id)
    out, created = uploads.request_upload(engine, store, settings, site_id, camera_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.post(
    "/recordings/{recording_id}/commit",
    status_code=status.HTTP_201_CREATED,
    responses=replayed(RecordingOut),
)
def commit(
    site_id: SiteId,
    camera_id: CameraId,
    recording_id: RecordingId,
    body: CommitRequest,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
    commits: CommitsDep,
    response: Response,
) -> RecordingOut:
    """Commit: check manifest, header, chain and object; store header and manifest."""
    principal.require_device(site_id, camera_id)
    done = uploads.commit(engine, store, settings, site_id, camera_id, recording_id, body)
    if done.created:
        commits.notify(site_id)  # the site's live feeds in this process look now, not later
    if not done.created:
        response.status_code = status.HTTP_200_OK
    return recording_out(done.recording)
