"""Technical telemetry of devices (battery, signal, firmware, storage, temperature, uptime):
plaintext to the ARC, in its own table (never mixed with recordings), kept for at most
``telemetry_retention_s`` (default 30 days): each row carries its expiry, readers skip
expired rows and the sweeper deletes them (:func:`remove_expired`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from common.time import now_ms
from storage_service.core.cursor import Keyset
from storage_service.core.settings import Settings
from storage_service.db.engine import session_scope
from storage_service.db.models import TelemetryReport
from storage_service.schemas.telemetry import TelemetryIn, TelemetryOut, TelemetryPage
from storage_service.services.devices import get_device
from storage_service.services.sites import get_site

#: Newest first by arrival.
KEYSET: Keyset[TelemetryReport] = Keyset(TelemetryReport, "received_ms", "id")


def report_out(t: TelemetryReport) -> TelemetryOut:
    return TelemetryOut(
        device_id=t.device_id,
        received_ms=t.received_ms,
        reported_ms=t.reported_ms,
        battery_pct=t.battery_pct,
        signal_dbm=t.signal_dbm,
        firmware=t.firmware,
        storage_health=t.storage_health,
        storage_free_bytes=t.storage_free_bytes,
        temperature_c=t.temperature_c,
        uptime_s=t.uptime_s,
    )


def post(
    engine: Engine, settings: Settings, site_id: str, device_id: str, body: TelemetryIn
) -> TelemetryOut:
    now = now_ms()
    with session_scope(engine) as s:
        get_site(s, site_id)
        get_device(s, site_id, device_id)
        row = TelemetryReport(
            site_id=site_id,
            device_id=device_id,
            received_ms=now,
            expires_ms=now + settings.telemetry_retention_s * 1000,
            **body.model_dump(),
        )
        s.add(row)
        s.flush()
        return report_out(row)


def read(
    engine: Engine,
    site_id: str,
    device_id: str | None,
    from_ms: int | None,
    to_ms: int | None,
    limit: int,
    cursor: str | None,
) -> TelemetryPage:
    """Newest first, ``received_ms`` in [from_ms, to_ms), unexpired rows only."""
    T = TelemetryReport  # noqa: N806
    stmt = select(T).where(col(T.site_id) == site_id, col(T.expires_ms) > now_ms())
    if device_id is not None:
        stmt = stmt.where(col(T.device_id) == device_id)
    if from_ms is not None:
        stmt = stmt.where(col(T.received_ms) >= from_ms)
    if to_ms is not None:
        stmt = stmt.where(col(T.received_ms) < to_ms)
    after = KEYSET.decode(cursor) if cursor else None
    stmt = KEYSET.select(stmt, after).limit(limit + 1)
    with Session(engine) as s:
        get_site(s, site_id)
        rows, next_cursor = KEYSET.page(s.exec(stmt).all(), limit)
    return TelemetryPage(
        items=[report_out(t) for t in rows],
        next_cursor=next_cursor,
    )


def remove_expired(engine: Engine, now: int) -> int:
    """Delete telemetry past its retention (called by the sweeper)."""
    with session_scope(engine) as s:
        result = s.execute(sa.delete(TelemetryReport).where(col(TelemetryReport.expires_ms) <= now))
        return int(result.rowcount)  # type: ignore[attr-defined]
