"""Bodies of the notification inbox routes (smart alerts, access notices)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr

from storage_service.schemas.base import Id, Request, Response, TimeMs

InboxKind = Literal["smart_alert", "access_notice", "consent_request", "alarm", "release_receipts"]


class SmartAlertIn(Request):
    alert_id: Id
    created_ms: TimeMs
    payload: Annotated[
        StrictStr,
        Field(min_length=1, description="age file encrypted to the customer recipients, base64"),
    ]


class NoticeIn(Request):
    """What a custodian's notice deliverer POSTs (escrow_service/services/notify.py)."""

    custodian_id: Id
    notice_id: Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]
    site_id: Id
    notice: Annotated[StrictStr, Field(min_length=2, description="the notice, JSON text")]


class ReceiptsIn(Request):
    """An operator's release-receipt report (clients/audit/receipts.py, docs/FORMAT.md)."""

    report_id: Id
    report: Annotated[
        StrictStr, Field(min_length=2, max_length=600_000, description="the report, JSON text")
    ]


class InboxItemOut(Response):
    id: int
    kind: InboxKind
    source: str
    source_ref: str
    created_ms: int
    text: str | None = Field(description="JSON text (access_notice, consent_request, alarm)")
    payload: str | None = Field(description="smart_alert: the age file, standard base64")


class InboxPage(Response):
    items: list[InboxItemOut]
    next_cursor: str | None
