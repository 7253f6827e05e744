"""Sites: pin or change site keys, the per-site settings, consent revocations, alarm cancels,
alarm closes (ARC), recording deletions and the retention policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from escrow_service.api.deps import AuthDep, BodyDep, ServiceDep, json_body
from escrow_service.schemas.ends import AlarmCloseIn, RecordingDeletionIn, RetentionPolicyIn
from escrow_service.schemas.requests import (
    AlarmCancelIn,
    DeviceRevocationIn,
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
    "/{site_id}/device-revocations",
    response_model_exclude_none=True,
    openapi_extra=documented(DeviceRevocationIn),
)
def revoke_device(
    site_id: str,
    body: Annotated[DeviceRevocationIn, json_body(DeviceRevocationIn)],
    service: ServiceDep,
) -> ReceiptOut:
    """Revoke a device key (DeviceRevocation signed by the site's customer): alarms it
    signs from its ``revoked_from_ms`` on are refused; logged."""
    return ReceiptOut.of(service.intake.device_revocations.take(body.device_revocation, site_id))


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


@router.post(
    "/{site_id}/alarm-closes",
    response_model_exclude_none=True,
    openapi_extra=documented(AlarmCloseIn),
)
def close_alarm(site_id: str, body: BodyDep, auth: AuthDep, service: ServiceDep) -> ReceiptOut:
    """End an alarm's access here (AlarmClose signed by a registered ARC operator, in a
    request signed by that operator); every later release under the alarm is refused."""
    caller = auth.caller(body)
    close = parse_body(AlarmCloseIn, body)
    return ReceiptOut.of(service.alarm_closes.take_from(caller, close.alarm_close, site_id))


@router.post(
    "/{site_id}/deletions",
    response_model_exclude_none=True,
    openapi_extra=documented(RecordingDeletionIn),
)
def delete_recordings(
    site_id: str,
    body: Annotated[RecordingDeletionIn, json_body(RecordingDeletionIn)],
    service: ServiceDep,
) -> ReceiptOut:
    """Deleted recordings (RecordingDeletion signed by the site's customer): their stanzas
    are refused from now on, for good."""
    return ReceiptOut.of(service.deletions.take(body.deletion, site_id))


@router.post(
    "/{site_id}/retention",
    response_model_exclude_none=True,
    openapi_extra=documented(RetentionPolicyIn),
)
def set_retention(
    site_id: str,
    body: Annotated[RetentionPolicyIn, json_body(RetentionPolicyIn)],
    service: ServiceDep,
) -> ReceiptOut:
    """The site's retention (RetentionPolicy signed by the site's customer): stanzas of
    recordings that ended longer ago are refused from now on."""
    return ReceiptOut.of(service.retention.take(body.retention_policy, site_id))
