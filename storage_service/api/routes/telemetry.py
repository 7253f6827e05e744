"""Technical telemetry: devices post, the ARC (and the customer) read; never recordings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from crypto.statements import OperatorRole
from storage_service.api.access import SiteScope
from storage_service.api.auth import SignedPrincipal
from storage_service.api.deps import EngineDep, SettingsDep
from storage_service.api.errors import ERROR_RESPONSES
from storage_service.api.params import DeviceId, FromMs, SiteId, ToMs
from storage_service.schemas.base import ID_PATTERN
from storage_service.schemas.telemetry import TelemetryIn, TelemetryOut, TelemetryPage
from storage_service.services import telemetry
from storage_service.services.roles import require_role

router = APIRouter(
    responses=ERROR_RESPONSES,
    prefix="/v1/sites/{site_id}",
    tags=["telemetry"],
    dependencies=[SiteScope],
)


@router.post("/devices/{device_id}/telemetry", status_code=status.HTTP_201_CREATED)
def post_telemetry(
    site_id: SiteId,
    device_id: DeviceId,
    body: TelemetryIn,
    principal: SignedPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
) -> TelemetryOut:
    """A device reports its health (strict schema)."""
    principal.require_device(site_id, device_id)
    return telemetry.post(engine, settings, site_id, device_id, body)


@router.get("/telemetry")
def read_telemetry(
    site_id: SiteId,
    principal: SignedPrincipal,
    engine: EngineDep,
    device_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
    from_ms: FromMs = None,
    to_ms: ToMs = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> TelemetryPage:
    """Newest first, per site or per device (ARC operators and technicians, the customer)."""
    if principal.kind == "customer":
        principal.require_customer(site_id)
    else:
        require_role(engine, principal, OperatorRole.OPERATOR, OperatorRole.TECHNICIAN)
    return telemetry.read(engine, site_id, device_id, from_ms, to_ms, limit, cursor)
