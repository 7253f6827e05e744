"""Sites: pin or change site keys, the per-site settings, consent revocations, alarm cancels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from escrow_service.api.deps import AuthDep, BodyDep, ServiceDep, json_body
from escrow_service.schemas.requests import (
    AlarmCancelIn,
    RevocationIn,
    SiteKeysIn,
    SiteSettingsIn,
    documented,
    parse_body,
)
from escrow_service.schemas.responses import ReceiptOut

router = APIRouter(prefix="/v1/sites", tags=["sites"])


@router.post("", response_model_exclude_none=True, openapi_extra=documented(SiteKeysIn))
def enroll_site(
    body: Annotated[SiteKeysIn, json_body(SiteKeysIn)], service: ServiceDep
) -> ReceiptOut:
    """Pin a site's keys (first enrollment) or apply a change signed by the pinned key."""
    return ReceiptOut.of(service.intake.site_keys.take(body.site_keys))


@router.put(
    "/{site_id}/settings",
    response_model_exclude_none=True,
    openapi_extra=documented(SiteSettingsIn),
)
def site_settings(site_id: str, body: BodyDep, auth: AuthDep, service: ServiceDep) -> ReceiptOut:
    """The site's alarm access period (customer-signed request)."""
    auth.customer(site_id, body)
    settings = parse_body(SiteSettingsIn, body)
    return ReceiptOut.of(service.intake.set_access_period(site_id, settings.access_period_s))


@router.post(
    "/{site_id}/revocations",
    response_model_exclude_none=True,
    openapi_extra=documented(RevocationIn),
)
def revoke(
    site_id: str, body: Annotated[RevocationIn, json_body(RevocationIn)], service: ServiceDep
) -> ReceiptOut:
    """Revoke a consent (Revocation signed by the site's customer)."""
    return ReceiptOut.of(service.intake.revocations.take(body.revocation, site_id))


@router.post(
    "/{site_id}/alarm-cancels",
    response_model_exclude_none=True,
    openapi_extra=documented(AlarmCancelIn),
)
def cancel_alarm(
    site_id: str, body: Annotated[AlarmCancelIn, json_body(AlarmCancelIn)], service: ServiceDep
) -> ReceiptOut:
    """Close an alarm's access period (AlarmCancel signed by the site's customer)."""
    return ReceiptOut.of(service.intake.alarm_cancels.take(body.alarm_cancel, site_id))
