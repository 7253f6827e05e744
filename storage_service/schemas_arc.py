"""Request and response bodies of the alarm, consent, telemetry and inbox routes (issue 4,
items 6-9). Requests refuse unknown fields and coerce nothing (strict types)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr

from crypto.statements import ConsentScope
from storage_service.schemas import Id, Request, Response, SignedJSON, TimeMs

Text512 = Annotated[StrictStr, Field(min_length=1, max_length=512)]
AlarmState = Literal["open", "acknowledged", "closed", "cancelled"]

# --- alarms ----------------------------------------------------------------------------------


class AlarmIn(Request):
    event: SignedJSON = Field(description="AlarmEvent signed by the site's enrolled panel")


class AlarmCancelIn(Request):
    cancel: SignedJSON = Field(description="AlarmCancel signed by the site's customer key")


class AlarmOut(Response):
    alarm_id: str
    site_id: str
    panel_id: str
    event_id: str
    alarm_type: str
    triggered_at_ms: int
    counter: int
    state: AlarmState
    created_ms: int
    access_until_ms: int
    access_open: bool = Field(description="live feed and operator reads are possible now")
    acknowledged_ms: int | None
    acknowledged_by: str | None
    closed_ms: int | None
    closed_by: str | None
    cancelled_ms: int | None
    event: SignedJSON = Field(description="the panel-signed AlarmEvent (the justification)")
    cancel: SignedJSON | None


class AlarmPage(Response):
    items: list[AlarmOut]
    next_cursor: str | None


class ActiveAlarm(Response):
    alarm_id: str
    panel_id: str
    event_id: str
    alarm_type: str
    triggered_at_ms: int
    access_until_ms: int


class AlarmStateOut(Response):
    """What a polling camera needs: upload the pre-alarm buffer, switch to live segments."""

    active: bool
    alarms: list[ActiveAlarm]
    now_ms: int


# --- consents --------------------------------------------------------------------------------


class ConsentRequestIn(Request):
    cameras: Annotated[list[Id], Field(min_length=1, max_length=256)]
    scope: Annotated[list[ConsentScope], Field(min_length=1, max_length=3)]
    recordings_from_ms: TimeMs
    recordings_to_ms: TimeMs
    duration_s: Annotated[int, Field(ge=60, le=7 * 86400, strict=True)]
    reason: Text512


class ConsentRequestOut(Response):
    request_id: str
    site_id: str
    operator_id: str
    cameras: list[str]
    scope: list[str]
    recordings_from_ms: int
    recordings_to_ms: int
    duration_s: int
    reason: str
    created_ms: int
    state: Literal["pending", "approved", "refused"]
    decided_ms: int | None
    consent_id: str | None
    refusal_reason: str | None


class ConsentRequestList(Response):
    items: list[ConsentRequestOut]


class ConsentIn(Request):
    consent: SignedJSON = Field(description="Consent signed by the site's customer key")
    request_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None


class ConsentRefusalIn(Request):
    request_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    reason: Text512 | None = None


class RevocationIn(Request):
    revocation: SignedJSON = Field(description="Revocation signed by the site's customer key")


class ConsentOut(Response):
    site_id: str
    consent_id: str
    request_id: str | None
    grantee_id: str
    not_before_ms: int
    not_after_ms: int
    created_ms: int
    revoked: bool
    revoked_ms: int | None
    consent: SignedJSON
    revocation: SignedJSON | None


class ConsentList(Response):
    items: list[ConsentOut]


# --- telemetry -------------------------------------------------------------------------------


class TelemetryIn(Request):
    """Technical health of a device. Every field has a fixed type and range."""

    reported_ms: TimeMs
    battery_pct: Annotated[int, Field(ge=0, le=100, strict=True)] | None = None
    signal_dbm: Annotated[int, Field(ge=-200, le=0, strict=True)] | None = None
    firmware: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9._+-]{1,64}$")]
    storage_health: Literal["ok", "degraded", "failing", "absent"]
    storage_free_bytes: Annotated[int, Field(ge=0, le=2**62, strict=True)] | None = None
    temperature_c: (
        Annotated[float, Field(ge=-60, le=150, strict=True, allow_inf_nan=False)] | None
    ) = None
    uptime_s: Annotated[int, Field(ge=0, le=2**40, strict=True)]


class TelemetryOut(Response):
    device_id: str
    received_ms: int
    reported_ms: int
    battery_pct: int | None
    signal_dbm: int | None
    firmware: str
    storage_health: str
    storage_free_bytes: int | None
    temperature_c: float | None
    uptime_s: int


class TelemetryPage(Response):
    items: list[TelemetryOut]
    next_cursor: str | None


# --- notifications ---------------------------------------------------------------------------

InboxKind = Literal["smart_alert", "access_notice", "consent_request", "alarm"]


class SmartAlertIn(Request):
    alert_id: Id
    created_ms: TimeMs
    payload: Annotated[
        StrictStr,
        Field(min_length=1, description="age file encrypted to the customer recipients, base64"),
    ]


class NoticeIn(Request):
    """What a custodian's notice deliverer POSTs (escrow_service/notify.py)."""

    custodian_id: Id
    notice_id: Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]
    site_id: Id
    notice: Annotated[StrictStr, Field(min_length=2, description="the notice, JSON text")]


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
