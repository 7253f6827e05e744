"""Bodies of the telemetry routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr

from storage_service.schemas.base import Request, Response, TimeMs


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
