"""Alarms: panel intake, the customer's cancel and list, camera polling (site routes), and the
ARC's queue, state changes and live feed (``/v1/alarms``, operators with role operator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from crypto.statements import OperatorRole
from storage_service.api.access import SiteScope
from storage_service.api.auth import SignedPrincipal
from storage_service.api.deps import CommitsDep, EngineDep, SettingsDep, StoreDep
from storage_service.api.errors import ERROR_RESPONSES, replayed
from storage_service.api.params import DeviceId, SiteId
from storage_service.core.errors import ApiError, Reason
from storage_service.core.sse import EVENT_STREAM, STREAM_HEADERS
from storage_service.schemas.alarms import (
    AlarmCancelIn,
    AlarmIn,
    AlarmOut,
    AlarmPage,
    AlarmState,
    AlarmStateOut,
)
from storage_service.schemas.base import ID_PATTERN
from storage_service.services import alarms
from storage_service.services.feed import alarm_feed
from storage_service.services.roles import require_role

AlarmId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]

site_router = APIRouter(
    responses=ERROR_RESPONSES,
    prefix="/v1/sites/{site_id}",
    tags=["alarms"],
    dependencies=[SiteScope],
)
arc_router = APIRouter(responses=ERROR_RESPONSES, prefix="/v1/alarms", tags=["alarms"])


@site_router.post("/alarms", status_code=status.HTTP_201_CREATED, responses=replayed(AlarmOut))
def post_alarm(
    site_id: SiteId,
    body: AlarmIn,
    principal: SignedPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    response: Response,
) -> AlarmOut:
    """A panel posts its signed AlarmEvent (the same event again: 200, same alarm)."""
    if principal.kind != "device" or principal.device_id is None:
        raise ApiError(Reason.WRONG_PRINCIPAL, "only an enrolled panel of this site posts alarms")
    out, created = alarms.intake(engine, settings, site_id, principal.device_id, body.event)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@site_router.get("/alarms")
def site_alarms(
    site_id: SiteId,
    principal: SignedPrincipal,
    engine: EngineDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AlarmPage:
    """The site's alarms, newest first (the customer)."""
    principal.require_customer(site_id)
    return alarms.list_alarms(engine, site_id=site_id, states=None, limit=limit, cursor=cursor)


@site_router.post("/alarms/cancel")
def cancel_alarm(
    site_id: SiteId, body: AlarmCancelIn, principal: SignedPrincipal, engine: EngineDep
) -> AlarmOut:
    """The customer cancels an open or acknowledged alarm with a signed AlarmCancel."""
    principal.require_customer(site_id)
    return alarms.cancel(engine, site_id, body.cancel)


@site_router.get("/devices/{device_id}/alarm-state")
def alarm_state(
    site_id: SiteId, device_id: DeviceId, principal: SignedPrincipal, engine: EngineDep
) -> AlarmStateOut:
    """A device polls: alarms of its site whose access period is open (a camera then uploads
    its pre-alarm buffer and switches to live segments)."""
    principal.require_device(site_id, device_id)
    return alarms.device_state(engine, site_id)


@arc_router.get("")
def queue(
    principal: SignedPrincipal,
    engine: EngineDep,
    state: Annotated[list[AlarmState] | None, Query()] = None,
    site_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AlarmPage:
    """The ARC's alarm queue, newest first (``state`` repeatable, e.g. open and acknowledged)."""
    require_role(engine, principal, OperatorRole.OPERATOR)
    return alarms.list_alarms(
        engine, site_id=site_id, states=list(state) if state else None, limit=limit, cursor=cursor
    )


@arc_router.get("/{alarm_id}")
def read_alarm(alarm_id: AlarmId, principal: SignedPrincipal, engine: EngineDep) -> AlarmOut:
    """One alarm, with the panel-signed event to present to the custodians."""
    require_role(engine, principal, OperatorRole.OPERATOR)
    return alarms.read(engine, alarm_id)


@arc_router.post("/{alarm_id}/ack")
def acknowledge(alarm_id: AlarmId, principal: SignedPrincipal, engine: EngineDep) -> AlarmOut:
    """open → acknowledged."""
    operator_id = require_role(engine, principal, OperatorRole.OPERATOR)
    return alarms.acknowledge(engine, alarm_id, operator_id)


@arc_router.post("/{alarm_id}/close")
def close(alarm_id: AlarmId, principal: SignedPrincipal, engine: EngineDep) -> AlarmOut:
    """acknowledged → closed (ends the access period on the storage side)."""
    operator_id = require_role(engine, principal, OperatorRole.OPERATOR)
    return alarms.close(engine, alarm_id, operator_id)


@arc_router.get(
    "/{alarm_id}/feed",
    response_class=StreamingResponse,
    responses={200: {"content": {EVENT_STREAM: {}}, "description": "server-sent events"}},
)
def feed(
    alarm_id: AlarmId,
    principal: SignedPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    commits: CommitsDep,
    store: StoreDep,
) -> StreamingResponse:
    """Live feed (SSE) of the site's recordings in the alarm window while access is open:
    events ``recording`` (metadata, manifest, age header, presigned GET: what the justified
    recording route gives) and a final ``end``."""
    require_role(engine, principal, OperatorRole.OPERATOR)
    alarm = alarms.read(engine, alarm_id)
    return StreamingResponse(
        alarm_feed(engine, settings, alarm_id, (commits, alarm.site_id), store),
        media_type=EVENT_STREAM,
        headers=STREAM_HEADERS,
    )
