"""Which recordings of a site an ARC operator may see on the storage side (defence in depth).

The real rule is enforced by the custodians (a recording opens only with t shares released
under a valid justification, DESIGN "Release protocol"); the storage service still refuses to
hand out headers, manifests and presigned GETs that no justification covers, so an operator
key alone learns nothing of a site. What a justification covers is crypto.policy's definition,
the one the custodians apply per recording; here it becomes SQL conditions built from the
kinds and windows crypto.policy computes:

- alarm: an alarm of the site whose access is open (state open or acknowledged, access
  period not over) and an operator with role ``operator``; per camera, the kinds its profile
  allows, each within its alarm window (:func:`crypto.policy.alarm_window`);
- consent: a stored consent of the site, granted to this operator, not revoked, in force now;
  per listed camera, the kinds the consent releases (:func:`crypto.policy.consent_kinds`),
  wholly inside the consent's recording span.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from crypto import policy
from crypto.metadata import RecordingKind
from crypto.statements import (
    CameraProfile,
    Consent,
    DeviceEnrollment,
    DeviceKind,
    OperatorRole,
    parse_signed,
)
from storage_service.blobstore import BlobStore
from storage_service.core.errors import ApiError, Reason
from storage_service.core.settings import Settings
from storage_service.db.models import Alarm, Device, Operator, Recording, StoredConsent
from storage_service.schemas.recordings import RecordingDetail, RecordingPage
from storage_service.services import recordings
from storage_service.services.sites import get_site

ACTIVE_STATES = ("open", "acknowledged")


def camera_profiles(s: Session, site_id: str) -> dict[str, CameraProfile]:
    """Profiles of the site's cameras, from their customer-signed enrollments."""
    out: dict[str, CameraProfile] = {}
    rows = s.exec(
        select(Device).where(
            col(Device.site_id) == site_id, col(Device.kind) == DeviceKind.CAMERA.value
        )
    ).all()
    for d in rows:
        e = parse_signed(d.enrollment).unverified_statement
        if isinstance(e, DeviceEnrollment) and e.camera_profile is not None:
            out[d.device_id] = e.camera_profile
    return out


def _window(kinds: list[RecordingKind], window: policy.Window) -> Any:
    """SQL: the recording is of one of ``kinds`` and intersects ``window`` (Window.covers)."""
    R = Recording  # noqa: N806
    return sa.and_(
        col(R.kind).in_([k.value for k in kinds]),
        col(R.end_ms) >= window.lo_ms,
        col(R.start_ms) <= window.hi_ms,
    )


def alarm_condition(alarm: Alarm, profiles: dict[str, CameraProfile]) -> Any:
    """SQL condition: the recordings of ``alarm``'s site it covers (see module doc)."""
    R = Recording  # noqa: N806
    justification = policy.AlarmWindow(alarm.site_id, alarm.triggered_at_ms, alarm.access_until_ms)
    parts: list[Any] = []
    for camera_id, p in profiles.items():
        by_window: dict[policy.Window, list[RecordingKind]] = {}
        for kind in sorted(policy.allowed_kinds(p)):
            by_window.setdefault(policy.alarm_window(justification, p, kind), []).append(kind)
        for window, kinds in by_window.items():
            parts.append(sa.and_(col(R.camera_id) == camera_id, _window(kinds, window)))
    return sa.and_(col(R.site_id) == alarm.site_id, sa.or_(sa.false(), *parts))


def consent_condition(consent: Consent, profiles: dict[str, CameraProfile]) -> Any:
    """SQL condition: the recordings ``consent`` covers (see module doc)."""
    R = Recording  # noqa: N806
    parts: list[Any] = []
    for camera_id in consent.cameras:
        p = profiles.get(camera_id)
        if p is None:
            continue
        kinds = [k.value for k in sorted(policy.consent_kinds(consent, p))]
        if kinds:
            parts.append(sa.and_(col(R.camera_id) == camera_id, col(R.kind).in_(kinds)))
    span = policy.consent_span(consent)
    return sa.and_(
        col(R.site_id) == consent.site_id,
        col(R.start_ms) >= span.lo_ms,
        col(R.end_ms) <= span.hi_ms,
        sa.or_(sa.false(), *parts),
    )


def alarm_access_open(alarm: Alarm, now: int) -> bool:
    return alarm.state in ACTIVE_STATES and policy.alarm_access_open(alarm.access_until_ms, now)


def active_alarms(s: Session, site_id: str, now: int) -> list[Alarm]:
    """The site's alarms whose access is open now (the SQL bound only narrows the rows read)."""
    rows = s.exec(
        select(Alarm).where(
            col(Alarm.site_id) == site_id,
            col(Alarm.state).in_(ACTIVE_STATES),
            col(Alarm.access_until_ms) >= now,
        )
    ).all()
    return [a for a in rows if alarm_access_open(a, now)]


def active_consents(s: Session, site_id: str, grantee_id: str, now: int) -> list[Consent]:
    """The grantee's unrevoked consents of the site in force now (crypto.policy decides; the
    SQL bounds only narrow the rows read)."""
    rows = s.exec(
        select(StoredConsent).where(
            col(StoredConsent.site_id) == site_id,
            col(StoredConsent.grantee_id) == grantee_id,
            col(StoredConsent.revoked_ms).is_(None),
            col(StoredConsent.not_before_ms) <= now,
            col(StoredConsent.not_after_ms) >= now,
        )
    ).all()
    out = []
    for row in rows:
        c = parse_signed(row.statement).unverified_statement
        if isinstance(c, Consent) and policy.consent_in_force(c, now):
            out.append(c)
    return out


def justified(s: Session, site_id: str, operator: Operator, now: int) -> Any:
    """The SQL condition of every recording of the site this operator may see now, or
    ``no_justification`` when nothing (no open alarm, no active consent) covers any."""
    profiles = camera_profiles(s, site_id)
    conds: list[Any] = []
    if operator.role == OperatorRole.OPERATOR.value:
        conds += [alarm_condition(a, profiles) for a in active_alarms(s, site_id, now)]
    conds += [consent_condition(c, profiles) for c in active_consents(s, site_id, operator.id, now)]
    if not conds:
        raise ApiError(
            Reason.NO_JUSTIFICATION,
            "no open alarm of this site (operators) and no active consent for you covers it",
        )
    return sa.and_(col(Recording.deleted_ms).is_(None), sa.or_(*conds))


def _operator(s: Session, operator_id: str) -> Operator:
    op = s.get(Operator, operator_id)
    if op is None:  # pragma: no cover - authenticated a moment ago
        raise ApiError(Reason.UNKNOWN_KEY, "operator is not registered")
    return op


def list_for_operator(
    engine: Engine,
    operator_id: str,
    q: recordings.Query,
    now: int,
    limit: int,
    cursor: str | None,
) -> RecordingPage:
    """The recordings of ``q`` that an open alarm or an active consent lets this operator see."""
    return recordings.list_recordings(
        engine,
        q,
        limit,
        cursor,
        narrow=lambda s: justified(s, q.site_id, _operator(s, operator_id), now),
    )


def detail_for_operator(
    engine: Engine,
    store: BlobStore,
    settings: Settings,
    operator_id: str,
    site_id: str,
    camera_id: str,
    recording_id: str,
    now: int,
) -> RecordingDetail:
    with Session(engine) as s:
        get_site(s, site_id)
        r = recordings.get_recording(s, site_id, camera_id, recording_id)
        cond = justified(s, site_id, _operator(s, operator_id), now)
        hit = s.exec(select(Recording.id).where(col(Recording.id) == r.id, cond)).first()
    if hit is None:
        raise ApiError(
            Reason.NO_JUSTIFICATION, "no open alarm or active consent covers this recording"
        )
    return recordings.detail(engine, store, settings, site_id, camera_id, recording_id)
