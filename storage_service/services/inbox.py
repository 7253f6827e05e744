"""The customer's per-site inbox: smart alerts from cameras (age ciphertext, opaque to the
service), access notices relayed from custodians, consent requests and alarms.

Every item has a source and a source reference, unique per site and kind, so a retried
delivery is the same item (200) and a different body under the same reference is
``inbox_conflict``. The customer polls (``after`` = the last id seen, oldest first) or
subscribes (SSE, :func:`stream`); the stream is a wake-up channel, the list is authoritative.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common.bodies import loads
from common.time import now_ms
from storage_service.core.errors import ApiError, Reason
from storage_service.core.principal import Principal
from storage_service.core.settings import Settings
from storage_service.core.sse import sse_comment, sse_event
from storage_service.db.engine import session_scope
from storage_service.db.models import InboxItem
from storage_service.schemas.inbox import (
    InboxItemOut,
    InboxPage,
    NoticeIn,
    ReceiptsIn,
    SmartAlertIn,
)
from storage_service.services.sites import get_site

AGE_MAGIC = b"age-encryption.org/v1\n"
NOTICE_TYPE = "camvault/v1/access-notice"
RECEIPTS_TYPE = "camvault/v1/release-receipts"
BINARY_KINDS = frozenset({"smart_alert"})


def item_out(item: InboxItem) -> InboxItemOut:
    binary = item.kind in BINARY_KINDS
    return InboxItemOut(
        id=int(item.id or 0),
        kind=item.kind,
        source=item.source,
        source_ref=item.source_ref,
        created_ms=item.created_ms,
        text=None if binary else item.body.decode("utf-8"),
        payload=base64.b64encode(item.body).decode("ascii") if binary else None,
    )


def add_item(
    s: Session, site_id: str, kind: str, source: str, ref: str, body: bytes, now: int
) -> tuple[InboxItem, bool]:
    """Add an item in the caller's transaction; the same (source, ref, body) is a no-op."""
    existing = s.exec(
        select(InboxItem).where(
            col(InboxItem.site_id) == site_id,
            col(InboxItem.kind) == kind,
            col(InboxItem.source) == source,
            col(InboxItem.source_ref) == ref,
        )
    ).first()
    if existing is not None:
        if hmac.compare_digest(existing.body, body):
            return existing, False
        raise ApiError(Reason.INBOX_CONFLICT, f"another {kind} with reference {ref!r} is stored")
    item = InboxItem(
        site_id=site_id, kind=kind, source=source, source_ref=ref, created_ms=now, body=body
    )
    s.add(item)
    try:
        s.flush()
    except IntegrityError:
        raise ApiError(Reason.INBOX_CONFLICT, f"{kind} {ref!r} was stored concurrently") from None
    return item, True


def post_smart_alert(
    engine: Engine, settings: Settings, site_id: str, camera_id: str, body: SmartAlertIn
) -> tuple[InboxItemOut, bool]:
    limit = settings.smart_alert_max_bytes
    if len(body.payload) > (limit * 4) // 3 + 4:
        raise ApiError(Reason.PAYLOAD_TOO_LARGE, f"smart alert larger than {limit} bytes")
    try:
        payload = base64.b64decode(body.payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(Reason.SMART_ALERT_INVALID, "payload is not standard base64") from None
    if len(payload) > limit:
        raise ApiError(Reason.PAYLOAD_TOO_LARGE, f"smart alert larger than {limit} bytes")
    if not payload.startswith(AGE_MAGIC):
        raise ApiError(Reason.SMART_ALERT_INVALID, "payload is not an age v1 file")
    with session_scope(engine) as s:
        get_site(s, site_id)
        item, created = add_item(
            s, site_id, "smart_alert", f"camera:{camera_id}", body.alert_id, payload, now_ms()
        )
        return item_out(item), created


def post_notice(engine: Engine, principal: Principal, body: NoticeIn) -> tuple[InboxItemOut, bool]:
    """An access notice from a custodian of the site, relayed as the exact text it sent (the
    customer's client checks it against that custodian's log, clients/audit/log.py)."""
    if principal.kind != "custodian":
        raise ApiError(Reason.WRONG_PRINCIPAL, "only the site's custodians deliver access notices")
    if principal.site_id != body.site_id:
        raise ApiError(Reason.WRONG_SITE, "this custodian key belongs to another site")
    if principal.custodian_id != body.custodian_id:
        raise ApiError(Reason.WRONG_PRINCIPAL, "this key belongs to another custodian")
    try:
        notice = loads(body.notice)
    except ValueError:
        raise ApiError(Reason.NOTICE_INVALID, "notice is not JSON text") from None
    if not isinstance(notice, dict) or notice.get("type") != NOTICE_TYPE:
        raise ApiError(Reason.NOTICE_INVALID, f"notice must be a JSON object of type {NOTICE_TYPE}")
    if notice.get("site_id") != body.site_id or notice.get("custodian_id") != body.custodian_id:
        raise ApiError(Reason.NOTICE_INVALID, "the notice names another site or custodian")
    with session_scope(engine) as s:
        get_site(s, body.site_id)
        item, created = add_item(
            s,
            body.site_id,
            "access_notice",
            f"custodian:{body.custodian_id}",
            str(body.notice_id),
            body.notice.encode("utf-8"),
            now_ms(),
        )
        return item_out(item), created


def post_receipts(
    engine: Engine, site_id: str, operator_id: str, body: ReceiptsIn
) -> tuple[InboxItemOut, bool]:
    """An operator's release-receipt report, relayed as the exact text it sent. Only its
    envelope is checked here (type, site, operator): the customer's client verifies every
    checkpoint in it against the custodians' logs (clients/audit/receipts.py)."""
    try:
        report = loads(body.report)
    except ValueError:
        raise ApiError(Reason.NOTICE_INVALID, "report is not JSON text") from None
    if not isinstance(report, dict) or report.get("type") != RECEIPTS_TYPE:
        raise ApiError(
            Reason.NOTICE_INVALID, f"report must be a JSON object of type {RECEIPTS_TYPE}"
        )
    if report.get("site_id") != site_id or report.get("operator_id") != operator_id:
        raise ApiError(Reason.NOTICE_INVALID, "the report names another site or operator")
    if not isinstance(report.get("receipts"), list):
        raise ApiError(Reason.NOTICE_INVALID, "the report has no list of receipts")
    with session_scope(engine) as s:
        get_site(s, site_id)
        item, created = add_item(
            s,
            site_id,
            "release_receipts",
            f"operator:{operator_id}",
            body.report_id,
            body.report.encode("utf-8"),
            now_ms(),
        )
        return item_out(item), created


def _rows(engine: Engine, site_id: str, after: int, limit: int, kinds: list[str] | None) -> Any:
    stmt = select(InboxItem).where(col(InboxItem.site_id) == site_id, col(InboxItem.id) > after)
    if kinds:
        stmt = stmt.where(col(InboxItem.kind).in_(kinds))
    with Session(engine) as s:
        get_site(s, site_id)
        return list(s.exec(stmt.order_by(col(InboxItem.id)).limit(limit)).all())


def list_items(
    engine: Engine, site_id: str, after: int, limit: int, kinds: list[str] | None
) -> InboxPage:
    """Oldest first after ``after``; ``next_cursor`` is the id to pass as ``after`` next."""
    rows = _rows(engine, site_id, after, limit + 1, kinds)
    more = len(rows) > limit
    rows = rows[:limit]
    return InboxPage(
        items=[item_out(i) for i in rows],
        next_cursor=str(rows[-1].id) if more and rows else None,
    )


async def stream(
    engine: Engine, settings: Settings, site_id: str, after: int, kinds: list[str] | None
) -> AsyncIterator[bytes]:
    """SSE: every item after ``after`` (event ``item``, id = item id), then new ones as they
    arrive; a comment every ``sse_keepalive_s``; ends after ``sse_max_duration_s`` (event
    ``end``), the client reconnects with ``Last-Event-ID``."""
    started = last_sent = time.monotonic()
    yield b"retry: 2000\n\n"
    while True:
        rows = await run_in_threadpool(_rows, engine, site_id, after, 100, kinds)
        for item in rows:
            after = int(item.id or 0)
            yield sse_event("item", item_out(item).model_dump_json(), str(after))
            last_sent = time.monotonic()
        if len(rows) == 100:
            continue
        now = time.monotonic()
        if now - started >= settings.sse_max_duration_s:
            yield sse_event("end", json.dumps({"reason": "max_duration"}), None)
            return
        if now - last_sent >= settings.sse_keepalive_s:
            yield sse_comment("keepalive")
            last_sent = now
        await asyncio.sleep(settings.sse_poll_interval_s)
