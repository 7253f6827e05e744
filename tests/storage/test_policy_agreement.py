"""The custodians' per-recording check and the storage service's SQL condition agree.

Both are built on crypto.policy; this test runs them side by side on a grid of recordings
(every kind, cameras of each profile and one without a profile, two sites, start and end
times at and around every boundary) in an in-memory SQLite table of the storage service's
model: the recordings the SQL condition selects are exactly those the escrow check accepts.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from crypto import policy
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import CameraProfile, Consent, ConsentScope, Purpose
from escrow_service.core.errors import Reason, Refusal
from escrow_service.services.policy import (
    AlarmWindow,
    check_alarm_access,
    check_alarm_item,
    check_consent_in_force,
    check_consent_item,
)
from storage_service.db.models import Alarm, Recording
from storage_service.services.arc_access import (
    alarm_access_open,
    alarm_condition,
    consent_condition,
)

SITE, OTHER_SITE = "site-1", "site-2"
T = 1_700_000_000_000
PRE_S, POST_S = 10, 20
LO, HI = T - PRE_S * 1000, T + POST_S * 1000
ACCESS_UNTIL = T + 120_000
FROM, TO = T - 30_000, T + 60_000

PROFILES = {
    "cam-full": CameraProfile(
        pre_alarm_s=PRE_S, post_alarm_s=POST_S, live_allowed=True, stills_only=False
    ),
    "cam-nolive": CameraProfile(
        pre_alarm_s=PRE_S, post_alarm_s=POST_S, live_allowed=False, stills_only=False
    ),
    "cam-stills": CameraProfile(
        pre_alarm_s=PRE_S, post_alarm_s=POST_S, live_allowed=False, stills_only=True
    ),
    "cam-zero": CameraProfile(pre_alarm_s=0, post_alarm_s=0, live_allowed=True, stills_only=False),
}
CAMERAS = [*PROFILES, "cam-unenrolled"]

# Every boundary of the alarm windows and the consent span, and one millisecond either side.
POINTS = sorted(
    {p + d for p in (LO, T, HI, ACCESS_UNTIL, FROM, TO) for d in (-1, 0, 1)} | {T - 100_000}
)


def _grid() -> Iterator[RecordingMetadata]:
    n = 0
    for site, camera, kind in itertools.product((SITE, OTHER_SITE), CAMERAS, RecordingKind):
        for start, end in itertools.combinations_with_replacement(POINTS, 2):
            n += 1
            yield RecordingMetadata(site, camera, f"r{n}", kind, start, end)


GRID = list(_grid())


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    engine = sa.create_engine("sqlite://")
    Recording.__table__.create(engine)  # type: ignore[attr-defined]
    with Session(engine) as s:
        for seq, m in enumerate(GRID):
            s.add(
                Recording(
                    site_id=m.site_id,
                    camera_id=m.camera_id,
                    recording_id=m.recording_id,
                    kind=m.kind.value,
                    start_ms=m.start_ms,
                    end_ms=m.end_ms,
                    payload_size=0,
                    payload_sha256=bytes(32),
                    sequence=seq,
                    manifest=b"{}",
                    manifest_sha256=bytes(32),
                    object_key=m.recording_id,
                    committed_ms=T,
                )
            )
        s.commit()
    yield engine
    engine.dispose()


def _selected(engine: Engine, condition: Any) -> set[str]:
    with Session(engine) as s:
        rows = s.exec(select(Recording.recording_id).where(condition)).all()
    return set(rows)


def _accepted(check: Callable[[RecordingMetadata], None]) -> set[str]:
    out = set()
    for m in GRID:
        try:
            check(m)
        except Refusal:
            continue
        out.add(m.recording_id)
    return out


def _alarm(access_until_ms: int) -> Alarm:
    return Alarm(
        id="a1",
        site_id=SITE,
        panel_id="p1",
        event_id="e1",
        alarm_type="intrusion",
        triggered_at_ms=T,
        counter=1,
        event=b"{}",
        state="open",
        created_ms=T,
        access_until_ms=access_until_ms,
    )


def test_grid_is_large_and_mixed() -> None:
    assert len(GRID) > 5_000
    assert {m.kind for m in GRID} == set(RecordingKind)


@pytest.mark.parametrize("access_until_ms", [ACCESS_UNTIL, T + 1_000])
def test_alarm_escrow_check_and_storage_sql_agree(engine: Engine, access_until_ms: int) -> None:
    alarm = _alarm(access_until_ms)
    window = AlarmWindow(SITE, T, access_until_ms)
    escrow = _accepted(lambda m: check_alarm_item(m, window, PROFILES.get(m.camera_id)))
    storage = _selected(engine, alarm_condition(alarm, PROFILES))
    assert escrow, "the grid must contain covered recordings"
    assert len(escrow) < len(GRID) // 4, "and refused ones"
    assert storage == escrow


@pytest.mark.parametrize(
    "scope",
    [
        tuple(ConsentScope),
        (ConsentScope.RECORDINGS,),
        (ConsentScope.LIVE,),
        (ConsentScope.STILLS,),
        (ConsentScope.LIVE, ConsentScope.STILLS),
    ],
)
@pytest.mark.parametrize("cameras", [tuple(CAMERAS), ("cam-full", "cam-stills")])
def test_consent_escrow_check_and_storage_sql_agree(
    engine: Engine, scope: tuple[ConsentScope, ...], cameras: tuple[str, ...]
) -> None:
    consent = Consent(
        consent_id="c1",
        site_id=SITE,
        grantee_id="tech-1",
        grantee_key=None,
        cameras=cameras,
        scope=scope,
        recordings_from_ms=FROM,
        recordings_to_ms=TO,
        not_before_ms=T,
        not_after_ms=T + 3_600_000,
        purpose=Purpose.MAINTENANCE,
        issued_at_ms=T,
    )
    escrow = _accepted(lambda m: check_consent_item(m, consent, PROFILES.get(m.camera_id)))
    storage = _selected(engine, consent_condition(consent, PROFILES))
    assert escrow
    assert storage == escrow


def test_every_policy_reason_is_an_escrow_reason() -> None:
    assert {r.value for r in policy.Uncovered} <= {r.value for r in Reason}


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_expiry_agrees(delta: int) -> None:
    """The escrow refusal and the storage predicate decide the same at each boundary."""
    consent = Consent(
        consent_id="c1",
        site_id=SITE,
        grantee_id="tech-1",
        grantee_key=None,
        cameras=("cam-full",),
        scope=tuple(ConsentScope),
        recordings_from_ms=FROM,
        recordings_to_ms=TO,
        not_before_ms=T,
        not_after_ms=T + 3_600_000,
        purpose=Purpose.MAINTENANCE,
        issued_at_ms=T,
    )
    for now in (T + delta, T + 3_600_000 + delta):
        escrow = _accepted_once(functools.partial(check_consent_in_force, consent, now))
        assert escrow is policy.consent_in_force(consent, now)
    now = ACCESS_UNTIL + delta
    escrow = _accepted_once(functools.partial(check_alarm_access, ACCESS_UNTIL, now))
    assert escrow is alarm_access_open(_alarm(ACCESS_UNTIL), now)


def _accepted_once(check: Callable[[], None]) -> bool:
    try:
        check()
    except Refusal:
        return False
    return True


def test_deleted_rows_are_never_listed(engine: Engine) -> None:
    # The grid has no tombstones; the storage condition adds deleted_ms IS NULL on top.
    assert _selected(engine, col(Recording.deleted_ms).is_not(None)) == set()
