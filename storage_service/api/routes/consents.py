"""Maintenance consents: technicians request, customers approve (signed Consent) or refuse,
and revoke (signed Revocation); the site's custodians and the grantee read them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from crypto.statements import OperatorRole
from storage_service.api.access import SiteScope
from storage_service.api.auth import SignedPrincipal
from storage_service.api.deps import EngineDep, SettingsDep
from storage_service.api.errors import ERROR_RESPONSES, replayed
from storage_service.api.params import SiteId
from storage_service.core.errors import ApiError, Reason
from storage_service.schemas.consents import (
    ConsentIn,
    ConsentList,
    ConsentOut,
    ConsentRefusalIn,
    ConsentRequestIn,
    ConsentRequestList,
    ConsentRequestOut,
    RevocationIn,
)
from storage_service.services import consents
from storage_service.services.roles import require_role

RequestState = Annotated[Literal["pending", "approved", "refused"] | None, Query()]

site_router = APIRouter(
    responses=ERROR_RESPONSES,
    prefix="/v1/sites/{site_id}",
    tags=["consents"],
    dependencies=[SiteScope],
)
arc_router = APIRouter(responses=ERROR_RESPONSES, prefix="/v1", tags=["consents"])


@site_router.post("/consent-requests", status_code=status.HTTP_201_CREATED)
def request_consent(
    site_id: SiteId, body: ConsentRequestIn, principal: SignedPrincipal, engine: EngineDep
) -> ConsentRequestOut:
    """A technician asks the customer for access (appears in the customer's inbox)."""
    operator_id = require_role(engine, principal, OperatorRole.TECHNICIAN)
    return consents.create_request(engine, site_id, operator_id, body)


@site_router.get("/consent-requests")
def site_requests(
    site_id: SiteId, principal: SignedPrincipal, engine: EngineDep, state: RequestState = None
) -> ConsentRequestList:
    """The site's consent requests, newest first (the customer)."""
    principal.require_customer(site_id)
    return ConsentRequestList(
        items=consents.list_requests(engine, site_id=site_id, operator_id=None, state=state)
    )


@site_router.post("/consents", status_code=status.HTTP_201_CREATED, responses=replayed(ConsentOut))
def approve(
    site_id: SiteId,
    body: ConsentIn,
    principal: SignedPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    response: Response,
) -> ConsentOut:
    """The customer stores a signed Consent (answering ``request_id``, or on its own)."""
    principal.require_customer(site_id)
    out, created = consents.approve(engine, settings, site_id, body.consent, body.request_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@site_router.post("/consent-refusals")
def refuse(
    site_id: SiteId, body: ConsentRefusalIn, principal: SignedPrincipal, engine: EngineDep
) -> ConsentRequestOut:
    """The customer refuses a pending request."""
    principal.require_customer(site_id)
    return consents.refuse(engine, site_id, body)


@site_router.post("/revocations")
def revoke(
    site_id: SiteId, body: RevocationIn, principal: SignedPrincipal, engine: EngineDep
) -> ConsentOut:
    """The customer revokes a consent with a signed Revocation (also sent to custodians)."""
    principal.require_customer(site_id)
    return consents.revoke(engine, site_id, body.revocation)


@site_router.get("/consents")
def site_consents(site_id: SiteId, principal: SignedPrincipal, engine: EngineDep) -> ConsentList:
    """The site's consents with their revocations: the customer and the site's custodians
    (relay of revocations)."""
    if principal.kind not in ("customer", "custodian"):
        raise ApiError(Reason.WRONG_PRINCIPAL, "only the customer and the site's custodians")
    return ConsentList(items=consents.list_consents(engine, site_id=site_id, grantee_id=None))


@arc_router.get("/consent-requests")
def my_requests(
    principal: SignedPrincipal, engine: EngineDep, state: RequestState = None
) -> ConsentRequestList:
    """The calling technician's requests and their answers."""
    operator_id = require_role(engine, principal, OperatorRole.TECHNICIAN, OperatorRole.OPERATOR)
    return ConsentRequestList(
        items=consents.list_requests(engine, site_id=None, operator_id=operator_id, state=state)
    )


@arc_router.get("/consents")
def my_consents(principal: SignedPrincipal, engine: EngineDep) -> ConsentList:
    """Consents granted to the caller (to present to the custodians), with revocations."""
    operator_id = require_role(engine, principal, OperatorRole.TECHNICIAN, OperatorRole.OPERATOR)
    return ConsentList(items=consents.list_consents(engine, site_id=None, grantee_id=operator_id))
