"""Bodies of the alarm routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from storage_service.schemas.base import Request, Response, SignedJSON

AlarmState = Literal["open", "acknowledged", "closed", "cancelled"]


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
    #: the version of the site's current SiteKeys: a camera refetches and verifies them when
    #: it grew (a recipient removed applies to its next recording, not a minute later)
    site_keys_version: int
