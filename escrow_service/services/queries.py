"""The statements of the release path, built once.

Building a SQLAlchemy statement and its cache key took ~0.13 ms, about as long as running it
on SQLite; a release runs a dozen. Values are bound at execution.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from escrow_service.db.models import (
    alarm_cancels,
    alarm_closes,
    alarms,
    device_revocations,
    devices,
    nonces,
    notices,
    operators,
    outbox,
    revocations,
    sites,
)


class Q:
    """Prepared statements (values bound at execution)."""

    operator_key = select(operators.c.operator_key).where(
        operators.c.operator_id == bindparam("operator_id")
    )
    customer_key = select(sites.c.customer_key).where(sites.c.site_id == bindparam("site_id"))
    operator = select(operators).where(operators.c.operator_id == bindparam("operator_id"))
    site_state = select(sites.c.customer_key, sites.c.access_period_s).where(
        sites.c.site_id == bindparam("site_id")
    )
    site_devices = select(devices).where(devices.c.site_id == bindparam("site_id"))
    alarm = select(alarms).where(
        alarms.c.site_id == bindparam("site_id"),
        alarms.c.panel_id == bindparam("panel_id"),
        alarms.c.event_id == bindparam("event_id"),
    )
    alarm_last_counter = select(func.max(alarms.c.counter)).where(
        alarms.c.site_id == bindparam("site_id"), alarms.c.panel_id == bindparam("panel_id")
    )
    alarm_cancelled = select(alarm_cancels.c.cancelled_ms).where(
        alarm_cancels.c.site_id == bindparam("site_id"),
        alarm_cancels.c.panel_id == bindparam("panel_id"),
        alarm_cancels.c.event_id == bindparam("event_id"),
    )
    alarm_closed = select(alarm_closes.c.operator_id).where(
        alarm_closes.c.site_id == bindparam("site_id"),
        alarm_closes.c.panel_id == bindparam("panel_id"),
        alarm_closes.c.event_id == bindparam("event_id"),
    )
    alarm_insert = alarms.insert()
    device_revoked_from = select(device_revocations.c.revoked_from_ms).where(
        device_revocations.c.site_id == bindparam("site_id"),
        device_revocations.c.device_id == bindparam("device_id"),
        device_revocations.c.device_key == bindparam("device_key"),
    )
    revoked = select(revocations.c.revoked_ms).where(
        revocations.c.site_id == bindparam("site_id"),
        revocations.c.consent_id == bindparam("consent_id"),
    )
    notice_insert = notices.insert()
    outbox_insert = outbox.insert()
    #: INSERT ... ON CONFLICT DO NOTHING RETURNING, per dialect (see NonceStore.remember_in).
    nonce_insert: ClassVar[dict[str, Any]] = {
        name: insert(nonces)
        .on_conflict_do_nothing(index_elements=[nonces.c.keyid, nonces.c.nonce])
        .returning(nonces.c.nonce)
        for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
    }
