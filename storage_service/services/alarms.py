"""Alarms: intake of panel-signed AlarmEvents, the ARC's queue and its state machine, the
customer's cancel, and what a polling camera sees.

Intake checks, in order (each with its reason code): the poster is a panel of the site
(``wrong_principal``); the statement parses (``statement_invalid``) and names this site
(``wrong_site``) and the posting panel (``wrong_principal``); its signature is the panel's
enrolled key (``statement_signature_invalid``); the trigger time is fresh (``alarm_not_fresh``:
at most ``alarm_max_age_s`` old, at most ``clock_skew_s`` ahead). The same event again is the
same alarm (200); another statement with a stored (panel, event id) is ``alarm_conflict``; a
counter not above the panel's last one is ``counter_not_increasing`` (compare-and-set on
``panel_counters``, in the transaction that stores the alarm).

States: open → acknowledged → closed (operators with role ``operator``), and open or
acknowledged → cancelled (customer-signed AlarmCancel). Repeating the transition an alarm
already made is answered with the alarm (200, nothing changes); anything else is
``alarm_state_conflict`` (409).
"""

from __future__ import annotations

import hmac
import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from common.time import now_ms
from crypto.ed25519 import Ed25519PublicKey
from crypto.statements import AlarmCancel, AlarmEvent, DeviceKind, verify
from storage_service.core.cursor import HEX_ID, Keyset
from storage_service.core.errors import ApiError, Reason
from storage_service.core.settings import Settings
from storage_service.core.statements import parse_statement, statement_json, statement_refusals
from storage_service.db.engine import session_scope
from storage_service.db.models import Alarm, Device, PanelCounter
from storage_service.schemas.alarms import ActiveAlarm, AlarmOut, AlarmPage, AlarmStateOut
from storage_service.services.arc_access import ACTIVE_STATES, active_alarms, alarm_access_open
from storage_service.services.inbox import add_item
from storage_service.services.sites import get_site, verify_customer_statement

#: The ARC queue and a site's alarms: newest trigger first.
KEYSET: Keyset[Alarm] = Keyset(Alarm, "triggered_at_ms", "id", HEX_ID)


def alarm_out(a: Alarm, now: int) -> AlarmOut:
    return AlarmOut(
        alarm_id=a.id,
        site_id=a.site_id,
        panel_id=a.panel_id,
        event_id=a.event_id,
        alarm_type=a.alarm_type,
        triggered_at_ms=a.triggered_at_ms,
        counter=a.counter,
        state=a.state,
        created_ms=a.created_ms,
        access_until_ms=a.access_until_ms,
        access_open=alarm_access_open(a, now),
        acknowledged_ms=a.acknowledged_ms,
        acknowledged_by=a.acknowledged_by,
        closed_ms=a.closed_ms,
        closed_by=a.closed_by,
        cancelled_ms=a.cancelled_ms,
        event=statement_json(a.event),
        cancel=statement_json(a.cancel) if a.cancel is not None else None,
    )


def _panel(s: Session, site_id: str, device_id: str) -> Device:
    dev = s.get(Device, (site_id, device_id))
    if dev is None or dev.kind != DeviceKind.PANEL.value:
        raise ApiError(Reason.WRONG_PRINCIPAL, "only an enrolled panel of this site posts alarms")
    return dev


def intake(
    engine: Engine, settings: Settings, site_id: str, panel_id: str, event: dict[str, Any]
) -> tuple[AlarmOut, bool]:
    """Store the alarm of a panel-signed AlarmEvent; returns (alarm, created)."""
    with Session(engine) as s:
        _panel(s, site_id, panel_id)
    signed = parse_statement(event, "event")
    claimed = signed.unverified_statement
    if not isinstance(claimed, AlarmEvent):
        raise ApiError(Reason.STATEMENT_INVALID, f"event: is a {signed.statement_type}")
    if claimed.site_id != site_id:
        raise ApiError(Reason.WRONG_SITE, "the alarm event is for another site")
    if claimed.panel_id != panel_id:
        raise ApiError(Reason.WRONG_PRINCIPAL, "the alarm event names another panel")
    data = signed.encode()
    now = now_ms()
    with session_scope(engine) as s:
        get_site(s, site_id)
        panel = _panel(s, site_id, panel_id)
        with statement_refusals("event", Reason.ALARM_INVALID):
            ev = verify(signed, Ed25519PublicKey.from_text(panel.device_key), AlarmEvent)
        existing = s.exec(
            select(Alarm).where(
                col(Alarm.site_id) == site_id,
                col(Alarm.panel_id) == panel_id,
                col(Alarm.event_id) == ev.event_id,
            )
        ).first()
        if existing is not None:
            if hmac.compare_digest(existing.event, data):
                return alarm_out(existing, now), False
            raise ApiError(Reason.ALARM_CONFLICT, "another event with this event id is stored")
        if ev.triggered_at_ms > now + settings.clock_skew_s * 1000:
            raise ApiError(Reason.ALARM_NOT_FRESH, "the alarm's trigger time is in the future")
        if ev.triggered_at_ms < now - settings.alarm_max_age_s * 1000:
            raise ApiError(
                Reason.ALARM_NOT_FRESH,
                f"the alarm was triggered more than {settings.alarm_max_age_s} s ago",
            )
        _advance_counter(s, site_id, panel_id, ev.counter)
        alarm = Alarm(
            id=uuid.uuid4().hex,
            site_id=site_id,
            panel_id=panel_id,
            event_id=ev.event_id,
            alarm_type=ev.alarm_type.value,
            triggered_at_ms=ev.triggered_at_ms,
            counter=ev.counter,
            event=data,
            state="open",
            created_ms=now,
            access_until_ms=ev.triggered_at_ms + settings.alarm_access_period_s * 1000,
        )
        s.add(alarm)
        try:
            s.flush()
        except IntegrityError:
            raise ApiError(Reason.ALARM_CONFLICT, "this event was stored concurrently") from None
        notice = {
            "alarm_id": alarm.id,
            "panel_id": panel_id,
            "event_id": ev.event_id,
            "alarm_type": ev.alarm_type.value,
            "triggered_at_ms": ev.triggered_at_ms,
            "access_until_ms": alarm.access_until_ms,
        }
        add_item(s, site_id, "alarm", f"panel:{panel_id}", ev.event_id, _json(notice), now)
        return alarm_out(alarm, now), True


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _advance_counter(s: Session, site_id: str, panel_id: str, counter: int) -> None:
    """Compare-and-set the panel's last counter (strictly increasing)."""
    row = s.get(PanelCounter, (site_id, panel_id))
    if row is None:
        s.add(PanelCounter(site_id=site_id, panel_id=panel_id, last_counter=counter))
        try:
            s.flush()
        except IntegrityError:
            raise ApiError(
                Reason.COUNTER_NOT_INCREASING, "a concurrent event advanced the counter"
            ) from None
        return
    result = s.execute(
        sa.update(PanelCounter)
        .where(
            col(PanelCounter.site_id) == site_id,
            col(PanelCounter.panel_id) == panel_id,
            col(PanelCounter.last_counter) < counter,
        )
        .values(last_counter=counter)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(
            Reason.COUNTER_NOT_INCREASING,
            f"counter {counter} is not above the panel's last counter {row.last_counter}",
            details={"last_counter": row.last_counter},
        )


def _get(s: Session, alarm_id: str) -> Alarm:
    a = s.get(Alarm, alarm_id)
    if a is None:
        raise ApiError(Reason.ALARM_NOT_FOUND, "no such alarm")
    return a


def read(engine: Engine, alarm_id: str) -> AlarmOut:
    with Session(engine) as s:
        return alarm_out(_get(s, alarm_id), now_ms())


def list_alarms(
    engine: Engine,
    *,
    site_id: str | None,
    states: list[str] | None,
    limit: int,
    cursor: str | None,
) -> AlarmPage:
    """Newest trigger first; the ARC queue (all sites) or one site's alarms."""
    stmt = select(Alarm)
    if site_id is not None:
        stmt = stmt.where(col(Alarm.site_id) == site_id)
    if states:
        stmt = stmt.where(col(Alarm.state).in_(states))
    after = KEYSET.decode(cursor) if cursor else None
    now = now_ms()
    with Session(engine) as s:
        if site_id is not None:
            get_site(s, site_id)
        rows, next_cursor = KEYSET.page(
            s.exec(KEYSET.select(stmt, after).limit(limit + 1)).all(), limit
        )
    return AlarmPage(
        items=[alarm_out(a, now) for a in rows],
        next_cursor=next_cursor,
    )


def acknowledge(engine: Engine, alarm_id: str, operator_id: str) -> AlarmOut:
    return _operator_step(engine, alarm_id, operator_id, "open", "acknowledged", "")


def close(engine: Engine, alarm_id: str, operator_id: str) -> AlarmOut:
    return _operator_step(
        engine, alarm_id, operator_id, "acknowledged", "closed", " (acknowledge it first)"
    )


def _operator_step(
    engine: Engine, alarm_id: str, operator_id: str, before: str, after: str, hint: str
) -> AlarmOut:
    """An operator moves the alarm from ``before`` to ``after`` (acknowledged or closed),
    recording when and by whom; repeating the step changes nothing."""
    verb = {"acknowledged": "acknowledge", "closed": "close"}[after]
    with session_scope(engine) as s:
        a = _get(s, alarm_id)
        now = now_ms()
        if a.state == after:
            return alarm_out(a, now)
        if a.state != before:
            raise ApiError(Reason.ALARM_STATE_CONFLICT, f"cannot {verb} a {a.state} alarm{hint}")
        _transition(s, a, before, **{f"{after}_ms": now, f"{after}_by": operator_id})
        s.refresh(a)
        return alarm_out(a, now)


def _transition(s: Session, a: Alarm, expected: str, **values: Any) -> None:
    """Compare-and-set of the state, so concurrent transitions cannot both win."""
    state = {"acknowledged_ms": "acknowledged", "closed_ms": "closed", "cancelled_ms": "cancelled"}
    new = next(v for k, v in state.items() if k in values)
    result = s.execute(
        sa.update(Alarm)
        .where(col(Alarm.id) == a.id, col(Alarm.state) == expected)
        .values(state=new, **values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(Reason.ALARM_STATE_CONFLICT, "the alarm changed concurrently; read it again")


def cancel(engine: Engine, site_id: str, cancel_json: dict[str, Any]) -> AlarmOut:
    """The customer cancels an alarm with an AlarmCancel signed by the pinned key."""
    signed = parse_statement(cancel_json, "cancel")
    data = signed.encode()
    with session_scope(engine) as s:
        site = get_site(s, site_id)
        c = verify_customer_statement(site, signed, AlarmCancel, "cancel")
        a = s.exec(
            select(Alarm).where(
                col(Alarm.site_id) == site_id,
                col(Alarm.panel_id) == c.panel_id,
                col(Alarm.event_id) == c.event_id,
            )
        ).first()
        if a is None:
            raise ApiError(
                Reason.ALARM_NOT_FOUND, "no alarm of this site has that panel and event id"
            )
        now = now_ms()
        if a.state == "cancelled":
            return alarm_out(a, now)
        if a.state not in ACTIVE_STATES:
            raise ApiError(Reason.ALARM_STATE_CONFLICT, f"cannot cancel a {a.state} alarm")
        _transition(s, a, a.state, cancelled_ms=now, cancel=data)
        s.refresh(a)
        return alarm_out(a, now)


def device_state(engine: Engine, site_id: str) -> AlarmStateOut:
    """The site's alarms whose access period is open (what a polling camera acts on)."""
    now = now_ms()
    with Session(engine) as s:
        site = get_site(s, site_id)
        rows = active_alarms(s, site_id, now)
    items = [
        ActiveAlarm(
            alarm_id=a.id,
            panel_id=a.panel_id,
            event_id=a.event_id,
            alarm_type=a.alarm_type,
            triggered_at_ms=a.triggered_at_ms,
            access_until_ms=a.access_until_ms,
        )
        for a in sorted(rows, key=lambda a: a.triggered_at_ms)
    ]
    return AlarmStateOut(
        active=bool(items), alarms=items, now_ms=now, site_keys_version=site.keys_version
    )
