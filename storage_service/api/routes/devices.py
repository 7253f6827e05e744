"""Devices of a site: enroll (customer-signed DeviceEnrollment), list, read, revoke (plain,
or by a customer-signed DeviceRevocation)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from storage_service.api.auth import SameSite, SignedPrincipal
from storage_service.api.deps import EngineDep
from storage_service.api.errors import ERROR_RESPONSES, replayed
from storage_service.api.params import DeviceId, SiteId
from storage_service.schemas.sites import DeviceList, DeviceOut, EnrollDevice, RevokeDevice
from storage_service.services import devices

router = APIRouter(
    responses=ERROR_RESPONSES,
    prefix="/v1/sites/{site_id}/devices",
    tags=["devices"],
    dependencies=[SameSite],
)


@router.post("", status_code=status.HTTP_201_CREATED, responses=replayed(DeviceOut))
def enroll(
    site_id: SiteId,
    body: EnrollDevice,
    principal: SignedPrincipal,
    engine: EngineDep,
    response: Response,
) -> DeviceOut:
    """Enroll a camera or panel, or re-key it with a later enrollment (200)."""
    principal.require_customer(site_id)
    out, created = devices.enroll(engine, site_id, body.enrollment)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("")
def list_devices(site_id: SiteId, principal: SignedPrincipal, engine: EngineDep) -> DeviceList:
    principal.require_customer(site_id)
    return DeviceList(items=devices.list_devices(engine, site_id))


@router.get("/{device_id}")
def read_device(
    site_id: SiteId, device_id: DeviceId, principal: SignedPrincipal, engine: EngineDep
) -> DeviceOut:
    """The customer, or the device itself (e.g. a camera reading its chain head)."""
    if principal.kind == "device":
        principal.require_device(site_id, device_id)
    else:
        principal.require_customer(site_id)
    return devices.read_device(engine, site_id, device_id)


@router.delete("/{device_id}")
def revoke(
    site_id: SiteId, device_id: DeviceId, principal: SignedPrincipal, engine: EngineDep
) -> DeviceOut:
    """Revoke the device's key; its recordings stay."""
    principal.require_customer(site_id)
    return devices.revoke(engine, site_id, device_id)


@router.post(
    "/{device_id}/revocations",
    status_code=status.HTTP_201_CREATED,
    responses=replayed(DeviceOut),
)
def revoke_signed(
    site_id: SiteId,
    device_id: DeviceId,
    body: RevokeDevice,
    principal: SignedPrincipal,
    engine: EngineDep,
    response: Response,
) -> DeviceOut:
    """Revoke a device key by a customer-signed DeviceRevocation (200 when held already): the
    device cannot authenticate with it any more (403 ``device_revoked``), nor be enrolled
    with it again."""
    principal.require_customer(site_id)
    out, created = devices.revoke_signed(engine, site_id, device_id, body.revocation)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out
