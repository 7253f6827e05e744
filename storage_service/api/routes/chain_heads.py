"""A camera's signed chain head (docs/CHAIN_HEADS.md): the camera posts, the customer (or the
camera itself) reads the latest."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from storage_service.api.auth import SameSite, SignedPrincipal
from storage_service.api.deps import EngineDep, SettingsDep
from storage_service.api.errors import ERROR_RESPONSES, replayed
from storage_service.api.params import CameraId, SiteId
from storage_service.schemas.chain_heads import ChainHeadOut, PostChainHead
from storage_service.services import chain_heads

router = APIRouter(
    responses=ERROR_RESPONSES,
    prefix="/v1/sites/{site_id}/cameras/{camera_id}/chain-head",
    tags=["chain heads"],
    dependencies=[SameSite],
)


@router.post("", status_code=status.HTTP_201_CREATED, responses=replayed(ChainHeadOut))
def post_head(
    site_id: SiteId,
    camera_id: CameraId,
    body: PostChainHead,
    principal: SignedPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    response: Response,
) -> ChainHeadOut:
    """The camera's latest ChainHead, signed by its enrolled key; refused when it goes
    backwards (``chain_head_not_newer``). Re-sending the stored head answers 200."""
    principal.require_device(site_id, camera_id)
    out, changed = chain_heads.post(engine, site_id, camera_id, body.head, settings.clock_skew_s)
    if not changed:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("")
def read_head(
    site_id: SiteId, camera_id: CameraId, principal: SignedPrincipal, engine: EngineDep
) -> ChainHeadOut:
    """The latest head the camera posted (404 ``chain_head_not_found`` before its first)."""
    if principal.kind == "device":
        principal.require_device(site_id, camera_id)
    else:
        principal.require_customer(site_id)
    return chain_heads.read(engine, site_id, camera_id)
