"""Sites: create (self-signed SiteKeys), read, change keys, retention, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from storage_service.api.auth import SameSite, SignedPrincipal, SiteCreator
from storage_service.api.deps import EngineDep
from storage_service.api.errors import ERROR_RESPONSES, replayed
from storage_service.api.params import SiteId
from storage_service.schemas.base import DeleteResult
from storage_service.schemas.sites import CreateSite, SetRetention, SiteOut, UpdateSiteKeys
from storage_service.services import sites

router = APIRouter(responses=ERROR_RESPONSES, prefix="/v1/sites", tags=["sites"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=replayed(SiteOut))
def create_site(
    body: CreateSite, principal: SiteCreator, engine: EngineDep, response: Response
) -> SiteOut:
    """Create a site from a SiteKeys statement self-signed by its customer key (the request is
    signed with that key, keyid ``customer:<site_id>``). Re-sending it returns 200."""
    out, created = sites.create_site(engine, body.site_keys, body.retention_days)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/{site_id}", dependencies=[SameSite])
def read_site(site_id: SiteId, principal: SignedPrincipal, engine: EngineDep) -> SiteOut:
    """The site's latest signed SiteKeys (customer and devices of the site)."""
    principal.require_site_member(site_id)
    return sites.read_site(engine, site_id)


@router.put("/{site_id}/keys", dependencies=[SameSite])
def update_keys(
    site_id: SiteId, body: UpdateSiteKeys, principal: SignedPrincipal, engine: EngineDep
) -> SiteOut:
    """Replace the SiteKeys with a newer version signed by the pinned customer key."""
    principal.require_customer(site_id)
    return sites.update_keys(engine, site_id, body.site_keys)


@router.put("/{site_id}/retention", dependencies=[SameSite])
def set_retention(
    site_id: SiteId, body: SetRetention, principal: SignedPrincipal, engine: EngineDep
) -> SiteOut:
    """Keep recordings ``retention_days`` after their end (null: keep until deleted)."""
    principal.require_customer(site_id)
    return sites.set_retention(engine, site_id, body.retention_days)


@router.delete("/{site_id}", dependencies=[SameSite])
def delete_site(site_id: SiteId, principal: SignedPrincipal, engine: EngineDep) -> DeleteResult:
    """Delete the site and everything of it (objects are removed by the sweeper)."""
    principal.require_customer(site_id)
    return DeleteResult(deleted=sites.delete_site(engine, site_id))
