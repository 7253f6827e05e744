"""The customer's inbox: smart alerts from cameras, access notices from custodians, consent
requests and alarms; polled (paged) or subscribed to (SSE)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import StreamingResponse

from crypto.statements import OperatorRole
from storage_service.api.access import SiteScope
from storage_service.api.auth import SignedPrincipal
from storage_service.api.deps import EngineDep, SettingsDep
from storage_service.api.errors import ERROR_RESPONSES, replayed
from storage_service.api.params import CameraId, SiteId
from storage_service.core.sse import EVENT_STREAM, STREAM_HEADERS
from storage_service.schemas.inbox import (
    InboxItemOut,
    InboxKind,
    InboxPage,
    NoticeIn,
    ReceiptsIn,
    SmartAlertIn,
)
from storage_service.services import inbox
from storage_service.services.roles import require_role

After = Annotated[int, Query(ge=0, le=2**63 - 1)]
Kinds = Annotated[list[InboxKind] | None, Query()]

site_router = APIRouter(
    responses=ERROR_RESPONSES,
    prefix="/v1/sites/{site_id}",
    tags=["inbox"],
    dependencies=[SiteScope],
)
notice_router = APIRouter(responses=ERROR_RESPONSES, prefix="/v1", tags=["inbox"])


@site_router.post(
    "/cameras/{camera_id}/smart-alerts",
    status_code=status.HTTP_201_CREATED,
    responses=replayed(InboxItemOut),
)
def post_smart_alert(
    site_id: SiteId,
    camera_id: CameraId,
    body: SmartAlertIn,
    principal: SignedPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    response: Response,
) -> InboxItemOut:
    """A camera posts a smart alert, age-encrypted to the customer recipients (opaque here)."""
    principal.require_device(site_id, camera_id)
    out, created = inbox.post_smart_alert(engine, settings, site_id, camera_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@site_router.post(
    "/release-receipts", status_code=status.HTTP_201_CREATED, responses=replayed(InboxItemOut)
)
def post_release_receipts(
    site_id: SiteId,
    body: ReceiptsIn,
    principal: SignedPrincipal,
    engine: EngineDep,
    response: Response,
) -> InboxItemOut:
    """An ARC operator posts the checkpoints its release receipts carried (kind
    ``release_receipts``): the customer's audit cross-checks them (split view)."""
    operator_id = require_role(engine, principal, OperatorRole.OPERATOR, OperatorRole.TECHNICIAN)
    out, created = inbox.post_receipts(engine, site_id, operator_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@site_router.get("/inbox")
def list_inbox(
    site_id: SiteId,
    principal: SignedPrincipal,
    engine: EngineDep,
    after: After = 0,
    kind: Kinds = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> InboxPage:
    """Items with id > ``after``, oldest first; pass ``next_cursor`` as ``after`` next."""
    principal.require_customer(site_id)
    return inbox.list_items(engine, site_id, after, limit, list(kind) if kind else None)


@site_router.get(
    "/inbox/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {EVENT_STREAM: {}}, "description": "server-sent events"}},
)
def stream_inbox(
    site_id: SiteId,
    principal: SignedPrincipal,
    engine: EngineDep,
    settings: SettingsDep,
    after: After = 0,
    kind: Kinds = None,
    last_event_id: Annotated[str | None, Header(pattern=r"^[0-9]{1,19}$")] = None,
) -> StreamingResponse:
    """SSE: events ``item`` (id = item id) after ``after`` / ``Last-Event-ID``, live."""
    principal.require_customer(site_id)
    start = max(after, int(last_event_id)) if last_event_id else after
    inbox.list_items(engine, site_id, start, 1, None)  # site exists (404 before streaming)
    return StreamingResponse(
        inbox.stream(engine, settings, site_id, start, list(kind) if kind else None),
        media_type=EVENT_STREAM,
        headers=STREAM_HEADERS,
    )


@notice_router.post(
    "/notices", status_code=status.HTTP_201_CREATED, responses=replayed(InboxItemOut)
)
def post_notice(
    body: NoticeIn, principal: SignedPrincipal, engine: EngineDep, response: Response
) -> InboxItemOut:
    """A custodian delivers an access notice (keyid ``custodian:<site>/<custodian>``, signed
    with its log key from the site's SiteKeys); redelivery of the same notice: 200."""
    out, created = inbox.post_notice(engine, principal, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out
