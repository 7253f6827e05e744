"""Devices: enroll a site's panel or camera."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from escrow_service.api.deps import ServiceDep, json_body
from escrow_service.schemas.requests import DeviceEnrollmentIn, documented
from escrow_service.schemas.responses import ReceiptOut

router = APIRouter(prefix="/v1/sites", tags=["devices"])


@router.post(
    "/{site_id}/devices",
    response_model_exclude_none=True,
    openapi_extra=documented(DeviceEnrollmentIn),
)
def enroll_device(
    site_id: str,
    body: Annotated[DeviceEnrollmentIn, json_body(DeviceEnrollmentIn)],
    service: ServiceDep,
) -> ReceiptOut:
    """DeviceEnrollment signed by the site's pinned customer key."""
    return ReceiptOut.of(service.intake.devices.take(body.device_enrollment, site_id))
