"""Which recordings of a site an ARC operator may see on the storage side (defence in depth).

The real rule is enforced by the custodians (a recording opens only with t shares released
under a valid justification, DESIGN "Release protocol"); the storage service still refuses to
hand out headers, manifests and presigned GETs that no justification covers, so an operator
key alone learns nothing of a site. The storage-side rule mirrors the custodians' per-recording
checks (escrow_service/policy.py):

- alarm: an alarm of the site whose access is open (state open or acknowledged, now before
  ``access_until_ms``) and an operator with role ``operator``; a recording of camera c is
  covered iff ``[start_ms, end_ms]`` intersects ``[trigger - pre_alarm_s(c), trigger +
  post_alarm_s(c)]`` (for ``live`` segments up to the access period end); stills-only cameras
  only ``still``, ``live`` only where the camera model allows live;
- consent: a stored consent of the site, granted to this operator, not revoked, now within
  ``[not_before_ms, not_after_ms)``; covered iff the camera is in the consent, the kind's scope
  (recordings: segment, clip, event; live; stills) is granted and ``[start_ms, end_ms]`` lies
  inside ``[recordings_from_ms, recordings_to_ms]``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from crypto.metadata import RecordingKind
from crypto.statements import (
    CameraProfile,
    Consent,
    ConsentScope,
    DeviceEnrollment,
    DeviceKind,
    OperatorRole,
    parse_signed,
)
from storage_service.blobstore import BlobStore
from storage_service.db.models import Alarm, Device, Operator, Recording, StoredConsent
from storage_service.errors import ApiError
from storage_service.schemas import RecordingDetail, RecordingPage
from storage_service.services import recordings
from storage_service.services.recordings import decode_cursor, encode_cursor, recording_out
from storage_service.services.sites import get_site
from storage_service.settings import Settings

ACTIVE_STATES = ("open", "acknowledged")

KIND_SCOPE: dict[RecordingKind, ConsentScope] = {
    RecordingKind.SEGMENT: ConsentScope.RECORDINGS,
    RecordingKind.CLIP: ConsentScope.RECORDINGS,
    RecordingKind.EVENT: ConsentScope.RECORDINGS,
    RecordingKind.LIVE: ConsentScope.LIVE,
    RecordingKind.STILL: ConsentScope.STILLS,
}


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


def _kinds(profile: CameraProfile) -> set[RecordingKind]:
    if profile.stills_only:
        return {RecordingKind.STILL}
    kinds = set(RecordingKind)
    if not profile.live_allowed:
        kinds.discard(RecordingKind.LIVE)
    return kinds


def alarm_condition(alarm: Alarm, profiles: dict[str, CameraProfile]) -> Any:
    """SQL condition: the recordings of ``alarm``'s site inside its window (see module doc)."""
    R = Recording  # noqa: N806
    parts: list[Any] = []
    for camera_id, p in profiles.items():
        lo = alarm.triggered_at_ms - p.pre_alarm_s * 1000
        hi = alarm.triggered_at_ms + p.post_alarm_s * 1000
        kinds = _kinds(p)
        plain = [k.value for k in kinds if k is not RecordingKind.LIVE]
        cam = col(R.camera_id) == camera_id
        if plain:
            parts.append(
                sa.and_(cam, col(R.kind).in_(plain), col(R.end_ms) >= lo, col(R.start_ms) <= hi)
            )
        if RecordingKind.LIVE in kinds:
            hi_live = max(hi, alarm.access_until_ms)
            parts.append(
                sa.and_(
                    cam,
                    col(R.kind) == RecordingKind.LIVE.value,
                    col(R.end_ms) >= lo,
                    col(R.start_ms) <= hi_live,
                )
            )
    return sa.and_(col(R.site_id) == alarm.site_id, sa.or_(sa.false(), *parts))


def consent_condition(consent: Consent, profiles: dict[str, CameraProfile]) -> Any:
    R = Recording  # noqa: N806
    parts: list[Any] = []
    for camera_id in consent.cameras:
        p = profiles.get(camera_id)
        if p is None:
            continue
        kinds = [k.value for k in _kinds(p) if KIND_SCOPE[k] in consent.scope]
        if kinds:
            parts.append(sa.and_(col(R.camera_id) == camera_id, col(R.kind).in_(kinds)))
    return sa.and_(
        col(R.site_id) == consent.site_id,
        col(R.start_ms) >= consent.recordings_from_ms,
        col(R.end_ms) <= consent.recordings_to_ms,
        sa.or_(sa.false(), *parts),
    )


def alarm_access_open(alarm: Alarm, now: int) -> bool:
    return alarm.state in ACTIVE_STATES and now < alarm.access_until_ms


def active_alarms(s: Session, site_id: str, now: int) -> list[Alarm]:
    return list(
        s.exec(
            select(Alarm).where(
                col(Alarm.site_id) == site_id,
                col(Alarm.state).in_(ACTIVE_STATES),
                col(Alarm.access_until_ms) > now,
            )
        ).all()
    )


def active_consents(s: Session, site_id: str, grantee_id: str, now: int) -> list[Consent]:
    rows = s.exec(
        select(StoredConsent).where(
            col(StoredConsent.site_id) == site_id,
            col(StoredConsent.grantee_id) == grantee_id,
            col(StoredConsent.revoked_ms).is_(None),
            col(StoredConsent.not_before_ms) <= now,
            col(StoredConsent.not_after_ms) > now,
        )
    ).all()
    out = []
    for row in rows:
        c = parse_signed(row.statement).unverified_statement
        if isinstance(c, Consent):
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
            "no_justification",
            "no open alarm of this site (operators) and no active consent for you covers it",
        )
    return sa.and_(col(Recording.deleted_ms).is_(None), sa.or_(*conds))


def _operator(s: Session, operator_id: str) -> Operator:
    op = s.get(Operator, operator_id)
    if op is None:  # pragma: no cover - authenticated a moment ago
        raise ApiError("unknown_key", "operator is not registered")
    return op


def list_for_operator(
    engine: Engine,
    operator_id: str,
    q: recordings.Query,
    now: int,
    limit: int,
    cursor: str | None,
) -> RecordingPage:
    if q.from_ms is not None and q.to_ms is not None and q.to_ms < q.from_ms:
        raise ApiError("invalid_range", "to_ms is before from_ms")
    after = decode_cursor(cursor) if cursor else None
    with Session(engine) as s:
        get_site(s, q.site_id)
        cond = sa.and_(recordings.where(q), justified(s, q.site_id, _operator(s, operator_id), now))
        stmt = select(Recording).where(cond)
        if after is not None:
            start, rid = after
            stmt = stmt.where(
                sa.or_(
                    col(Recording.start_ms) < start,
                    sa.and_(col(Recording.start_ms) == start, col(Recording.id) < rid),
                )
            )
        stmt = stmt.order_by(col(Recording.start_ms).desc(), col(Recording.id).desc())
        rows = list(s.exec(stmt.limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return RecordingPage(
        items=[recording_out(r) for r in rows],
        next_cursor=encode_cursor(rows[-1]) if more and rows else None,
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
        raise ApiError("no_justification", "no open alarm or active consent covers this recording")
    return recordings.detail(engine, store, settings, site_id, camera_id, recording_id)
