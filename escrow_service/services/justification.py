"""The state a justification is checked against: an alarm's registration, cancel, close
and access period; a consent's validity and revocation; the camera profiles of the site.
When an access period ends and when a consent is in force are crypto.policy's rules (shared
with the storage service).

Each check runs once before the stanzas are opened and again in the writer transaction that
logs the release, so that the decision is made under the lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from crypto.statements import AlarmEvent, CameraProfile, Consent, DeviceKind
from escrow_service.core.errors import Reason, Refusal
from escrow_service.services.custodian import Custodian
from escrow_service.services.policy import check_alarm_access, check_consent_in_force
from escrow_service.services.queries import Q


def camera_profile(row: Mapping[str, Any] | None) -> CameraProfile | None:
    """The camera profile of an enrolled device row (None if it is not a camera)."""
    if row is None or row["kind"] != DeviceKind.CAMERA.value:
        return None
    return CameraProfile(
        pre_alarm_s=int(row["pre_alarm_s"]),
        post_alarm_s=int(row["post_alarm_s"]),
        live_allowed=bool(row["live_allowed"]),
        stills_only=bool(row["stills_only"]),
    )


def alarm_state(
    custodian: Custodian,
    conn: Connection | None,
    event: AlarmEvent,
    digest: bytes,
    period_s: int,
    now: int,
) -> dict[str, Any] | None:
    """Replay, freshness, cancel, close and access-period checks. Returns the row to insert when
    this is the alarm's first presentation (None if already registered)."""
    if conn is None:
        with custodian.engine.connect() as c:
            return alarm_state(custodian, c, event, digest, period_s, now)
    settings = custodian.settings
    key = {"site_id": event.site_id, "panel_id": event.panel_id, "event_id": event.event_id}
    row = conn.execute(Q.alarm, key).first()
    register: dict[str, Any] | None = None
    if row is not None:
        if bytes(row.statement_sha256) != digest:
            raise Refusal(
                Reason.EVENT_REPLAYED,
                "this event id was registered with a different alarm statement",
            )
        access_until = int(row.access_until_ms)
    else:
        skew = settings.clock_skew_s * 1000
        if event.triggered_at_ms > now + skew:
            raise Refusal(Reason.EVENT_IN_FUTURE, "alarm trigger time is in the future")
        age_ms = now - event.triggered_at_ms
        if age_ms > settings.alarm_freshness_s * 1000:
            raise Refusal(
                Reason.EVENT_STALE,
                f"alarm first presented {age_ms // 1000} s after it was triggered "
                f"(limit {settings.alarm_freshness_s} s)",
            )
        last = conn.execute(
            Q.alarm_last_counter, {"site_id": event.site_id, "panel_id": event.panel_id}
        ).scalar()
        if last is not None and event.counter <= int(last):
            raise Refusal(
                Reason.EVENT_REPLAYED,
                f"panel counter {event.counter} is not above the last seen {last}",
            )
        access_until = event.triggered_at_ms + period_s * 1000
        register = {
            "site_id": event.site_id,
            "panel_id": event.panel_id,
            "event_id": event.event_id,
            "counter": event.counter,
            "triggered_at_ms": event.triggered_at_ms,
            "first_seen_ms": now,
            "access_until_ms": access_until,
            "statement_sha256": digest,
        }
    cancelled = conn.execute(Q.alarm_cancelled, key).first()
    if cancelled is not None:
        raise Refusal(Reason.ALARM_CANCELLED, "the customer cancelled this alarm")
    closed_by = conn.execute(Q.alarm_closed, key).scalar()
    if closed_by is not None:
        raise Refusal(Reason.ALARM_CLOSED, f"the ARC closed this alarm (operator {closed_by})")
    check_alarm_access(access_until, now)
    return register


def consent_state(
    custodian: Custodian, conn: Connection | None, consent: Consent, now: int
) -> None:
    """Validity period and revocation of a consent."""
    if conn is None:
        with custodian.engine.connect() as c:
            return consent_state(custodian, c, consent, now)
    check_consent_in_force(consent, now)
    revoked = conn.execute(
        Q.revoked, {"site_id": consent.site_id, "consent_id": consent.consent_id}
    ).first()
    if revoked is not None:
        raise Refusal(Reason.CONSENT_REVOKED, "the customer revoked this consent")
    return None
