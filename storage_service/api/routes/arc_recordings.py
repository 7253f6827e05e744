"""Recordings of a site as an ARC operator sees them: only those an open alarm or an active
consent covers (storage-side rule in services/arc_access.py; the custodians enforce the
real one)."""

from __future__ import annotations

from fastapi import APIRouter

from common.time import now_ms
from crypto.statements import OperatorRole
from storage_service.api.access import SiteScope
from storage_service.api.auth import SignedPrincipal
from storage_service.api.deps import EngineDep, SettingsDep, StoreDep
from storage_service.api.errors import ERROR_RESPONSES
from storage_service.api.params import PageCursor, PageLimit, RecordingFilters, RecordingRef, SiteId
from storage_service.schemas.recordings import RecordingDetail, RecordingPage
from storage_service.services import arc_access
from storage_service.services.recordings import Query as RecQuery
from storage_service.services.roles import require_role

router = APIRouter(
    responses=ERROR_RESPONSES,
    prefix="/v1/sites/{site_id}/arc",
    tags=["arc"],
    dependencies=[SiteScope],
)
ANY_ROLE = (OperatorRole.OPERATOR, OperatorRole.TECHNICIAN)


@router.get("/recordings")
def list_recordings(
    site_id: SiteId,
    principal: SignedPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    filters: RecordingFilters,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> RecordingPage:
    """Newest first; only recordings inside an open alarm's window (role operator) or an
    active consent granted to the caller; 403 ``no_justification`` when none applies."""
    operator_id = require_role(engine, principal, *ANY_ROLE)
    q = RecQuery(site_id, *filters, include_deleted=False)
    return arc_access.list_for_operator(
        engine, operator_id, q, now_ms(), min(limit, settings.list_max_page), cursor
    )


@router.get("/cameras/{camera_id}/recordings/{recording_id}")
def read_recording(
    ref: RecordingRef,
    principal: SignedPrincipal,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
) -> RecordingDetail:
    """Manifest, age header and presigned GET of a justified recording."""
    operator_id = require_role(engine, principal, *ANY_ROLE)
    return arc_access.detail_for_operator(engine, store, settings, operator_id, *ref, now_ms())
