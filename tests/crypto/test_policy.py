"""crypto.policy: what an alarm or a consent covers, at every boundary of each rule."""

from __future__ import annotations

import pytest

from crypto import policy
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.policy import (
    KIND_SCOPE,
    AlarmWindow,
    NotCoveredError,
    Uncovered,
    Window,
)
from crypto.statements import CameraProfile, Consent, ConsentScope, Purpose

SITE = "site-1"
CAMERA = "cam-1"
T = 1_700_000_000_000  # alarm trigger
PRE_S, POST_S = 10, 20
LO, HI = T - PRE_S * 1000, T + POST_S * 1000
ACCESS_UNTIL = T + 600_000

FULL = CameraProfile(pre_alarm_s=PRE_S, post_alarm_s=POST_S, live_allowed=True, stills_only=False)
NO_LIVE = CameraProfile(
    pre_alarm_s=PRE_S, post_alarm_s=POST_S, live_allowed=False, stills_only=False
)
STILLS = CameraProfile(pre_alarm_s=PRE_S, post_alarm_s=POST_S, live_allowed=False, stills_only=True)
ALARM = AlarmWindow(site_id=SITE, triggered_at_ms=T, access_until_ms=ACCESS_UNTIL)

FROM, TO = T - 3_600_000, T + 3_600_000
NOT_BEFORE, NOT_AFTER = T, T + 86_400_000


def meta(
    start_ms: int,
    end_ms: int,
    kind: RecordingKind = RecordingKind.SEGMENT,
    *,
    site_id: str = SITE,
    camera_id: str = CAMERA,
) -> RecordingMetadata:
    return RecordingMetadata(site_id, camera_id, "rec-1", kind, start_ms, end_ms)


def consent(
    scope: tuple[ConsentScope, ...] = tuple(ConsentScope), cameras: tuple[str, ...] = (CAMERA,)
) -> Consent:
    return Consent(
        consent_id="c-1",
        site_id=SITE,
        grantee_id="tech-1",
        grantee_key=None,
        cameras=cameras,
        scope=scope,
        recordings_from_ms=FROM,
        recordings_to_ms=TO,
        not_before_ms=NOT_BEFORE,
        not_after_ms=NOT_AFTER,
        purpose=Purpose.MAINTENANCE,
        issued_at_ms=T,
    )


def refusal(check: object, *args: object) -> Uncovered | None:
    """The reason ``check(*args)`` refuses with, or None when it covers."""
    assert callable(check)
    try:
        check(*args)
    except NotCoveredError as exc:
        assert str(exc) == exc.message
        return exc.reason
    return None


# --- alarm window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_ms", "end_ms", "expected"),
    [
        (LO - 5_000, LO, None),  # ends exactly at the start of the pre-alarm window
        (LO - 5_000, LO - 1, Uncovered.OUTSIDE_WINDOW_BEFORE),  # ends 1 ms before it
        (HI, HI + 5_000, None),  # starts exactly at the end of the post-alarm window
        (HI + 1, HI + 5_000, Uncovered.OUTSIDE_WINDOW_AFTER),  # starts 1 ms after it
        (LO - 1, HI + 1, None),  # spans the whole window
        (T, T, None),  # the trigger instant
    ],
)
def test_alarm_window_boundaries(start_ms: int, end_ms: int, expected: Uncovered | None) -> None:
    assert refusal(policy.check_alarm_item, meta(start_ms, end_ms), ALARM, FULL) is expected
    window = policy.alarm_window(ALARM, FULL, RecordingKind.SEGMENT)
    assert window == Window(LO, HI)
    assert window.covers(start_ms, end_ms) is (expected is None)


def test_outside_window_messages_say_by_how_much() -> None:
    with pytest.raises(NotCoveredError, match=r"ends 1 ms before the pre-alarm window \(10 s\)"):
        policy.check_alarm_item(meta(LO - 10, LO - 1), ALARM, FULL)
    with pytest.raises(NotCoveredError, match=r"starts 1 ms after the post-alarm window \(20 s\)"):
        policy.check_alarm_item(meta(HI + 1, HI + 10), ALARM, FULL)


def test_live_window_extends_to_the_access_period_end() -> None:
    live = RecordingKind.LIVE
    assert policy.alarm_window(ALARM, FULL, live) == Window(LO, ACCESS_UNTIL)
    assert (
        refusal(policy.check_alarm_item, meta(ACCESS_UNTIL, ACCESS_UNTIL + 2, live), ALARM, FULL)
        is None
    )
    assert (
        refusal(
            policy.check_alarm_item, meta(ACCESS_UNTIL + 1, ACCESS_UNTIL + 2, live), ALARM, FULL
        )
        is Uncovered.OUTSIDE_WINDOW_AFTER
    )
    # Recorded segments after the post-alarm window stay refused, live or not.
    assert (
        refusal(policy.check_alarm_item, meta(HI + 1, HI + 2), ALARM, FULL)
        is Uncovered.OUTSIDE_WINDOW_AFTER
    )
    # An access period shorter than the post-alarm window never shortens the live window.
    short = AlarmWindow(SITE, T, T + 1_000)
    assert policy.alarm_window(short, FULL, live) == Window(LO, HI)
    # The pre-alarm side is the same for live.
    assert (
        refusal(policy.check_alarm_item, meta(LO - 2, LO - 1, live), ALARM, FULL)
        is Uncovered.OUTSIDE_WINDOW_BEFORE
    )


def test_zero_window_covers_the_trigger_instant_only() -> None:
    zero = CameraProfile(pre_alarm_s=0, post_alarm_s=0, live_allowed=False, stills_only=False)
    assert refusal(policy.check_alarm_item, meta(T, T), ALARM, zero) is None
    assert refusal(policy.check_alarm_item, meta(T - 5, T - 1), ALARM, zero) is not None
    assert refusal(policy.check_alarm_item, meta(T + 1, T + 5), ALARM, zero) is not None


def test_alarm_of_another_site_and_unknown_camera() -> None:
    inside = meta(T, T + 1)
    other = meta(T, T + 1, site_id="site-2")
    assert refusal(policy.check_alarm_item, other, ALARM, FULL) is Uncovered.WRONG_SITE
    assert refusal(policy.check_alarm_item, inside, ALARM, None) is Uncovered.CAMERA_NOT_OF_SITE


# --- camera profile ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(RecordingKind))
def test_stills_only_camera_releases_stills_only(kind: RecordingKind) -> None:
    expected = None if kind is RecordingKind.STILL else Uncovered.STILLS_ONLY
    assert refusal(policy.check_profile, meta(T, T, kind), STILLS) is expected
    assert refusal(policy.check_alarm_item, meta(T, T, kind), ALARM, STILLS) is expected
    assert refusal(policy.check_consent_item, meta(T, T, kind), consent(), STILLS) is expected
    assert policy.allowed_kinds(STILLS) == {RecordingKind.STILL}


@pytest.mark.parametrize("kind", list(RecordingKind))
def test_live_not_allowed(kind: RecordingKind) -> None:
    expected = Uncovered.LIVE_NOT_ALLOWED if kind is RecordingKind.LIVE else None
    assert refusal(policy.check_profile, meta(T, T, kind), NO_LIVE) is expected
    assert refusal(policy.check_alarm_item, meta(T, T, kind), ALARM, NO_LIVE) is expected
    assert refusal(policy.check_consent_item, meta(T, T, kind), consent(), NO_LIVE) is expected
    assert (kind in policy.allowed_kinds(NO_LIVE)) is (expected is None)
    assert kind in policy.allowed_kinds(FULL)
    assert refusal(policy.check_profile, meta(T, T, kind), FULL) is None


def test_profile_refusal_messages() -> None:
    with pytest.raises(NotCoveredError, match="'cam-1' is stills-only; segment is not releasable"):
        policy.check_profile(meta(T, T), STILLS)
    with pytest.raises(NotCoveredError, match="'cam-1' does not allow live access"):
        policy.check_profile(meta(T, T, RecordingKind.LIVE), NO_LIVE)
    with pytest.raises(NotCoveredError, match="not an enrolled camera of site 'site-1'"):
        policy.check_profile(meta(T, T), None)


# --- consent -----------------------------------------------------------------------------------


def test_kind_scope_covers_every_kind() -> None:
    assert set(KIND_SCOPE) == set(RecordingKind)
    assert KIND_SCOPE[RecordingKind.LIVE] is ConsentScope.LIVE
    assert KIND_SCOPE[RecordingKind.STILL] is ConsentScope.STILLS
    for kind in (RecordingKind.SEGMENT, RecordingKind.CLIP, RecordingKind.EVENT):
        assert KIND_SCOPE[kind] is ConsentScope.RECORDINGS


@pytest.mark.parametrize("scope", list(ConsentScope))
@pytest.mark.parametrize("kind", list(RecordingKind))
def test_each_kind_against_each_scope(kind: RecordingKind, scope: ConsentScope) -> None:
    c = consent(scope=(scope,))
    covered = KIND_SCOPE[kind] is scope
    expected = None if covered else Uncovered.CONSENT_OUT_OF_SCOPE
    assert refusal(policy.check_consent_item, meta(T, T, kind), c, FULL) is expected
    assert (kind in policy.consent_kinds(c, FULL)) is covered
    if not covered:
        with pytest.raises(NotCoveredError, match=f"needs scope '{KIND_SCOPE[kind].value}'"):
            policy.check_consent_item(meta(T, T, kind), c, FULL)


def test_consent_kinds_are_the_profile_and_the_scope() -> None:
    all_scopes = consent()
    assert policy.consent_kinds(all_scopes, FULL) == set(RecordingKind)
    assert policy.consent_kinds(all_scopes, NO_LIVE) == set(RecordingKind) - {RecordingKind.LIVE}
    assert policy.consent_kinds(all_scopes, STILLS) == {RecordingKind.STILL}
    assert policy.consent_kinds(consent(scope=(ConsentScope.LIVE,)), STILLS) == set()


@pytest.mark.parametrize(
    ("start_ms", "end_ms", "covered"),
    [
        (FROM, TO, True),  # exactly the consent's span
        (FROM - 1, FROM + 5, False),  # starts 1 ms before it
        (TO - 5, TO + 1, False),  # ends 1 ms after it
        (FROM - 10, TO + 10, False),  # spans it: must lie wholly inside
        (T, T, True),
    ],
)
def test_consent_time_range_boundaries(start_ms: int, end_ms: int, covered: bool) -> None:
    expected = None if covered else Uncovered.CONSENT_OUT_OF_SCOPE
    assert refusal(policy.check_consent_item, meta(start_ms, end_ms), consent(), FULL) is expected
    span = policy.consent_span(consent())
    assert (span.lo_ms <= start_ms and end_ms <= span.hi_ms) is covered


def test_consent_camera_and_site() -> None:
    c = consent(cameras=("cam-2",))
    assert refusal(policy.check_consent_item, meta(T, T), c, FULL) is Uncovered.CONSENT_OUT_OF_SCOPE
    other = meta(T, T, site_id="site-2")
    assert refusal(policy.check_consent_item, other, consent(), FULL) is Uncovered.WRONG_SITE
    assert (
        refusal(policy.check_consent_item, meta(T, T), consent(), None)
        is Uncovered.CAMERA_NOT_OF_SITE
    )


# --- expiry ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "open_"),
    [(T, True), (ACCESS_UNTIL - 1, True), (ACCESS_UNTIL, True), (ACCESS_UNTIL + 1, False)],
)
def test_alarm_access_period(now: int, open_: bool) -> None:
    assert policy.alarm_access_open(ACCESS_UNTIL, now) is open_
    expected = None if open_ else Uncovered.ACCESS_PERIOD_CLOSED
    assert refusal(policy.check_alarm_access, ACCESS_UNTIL, now) is expected


def test_alarm_access_closed_message() -> None:
    with pytest.raises(NotCoveredError, match="access period ended 5 s ago"):
        policy.check_alarm_access(ACCESS_UNTIL, ACCESS_UNTIL + 5_000)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (NOT_BEFORE - 1, Uncovered.CONSENT_NOT_YET_VALID),
        (NOT_BEFORE, None),
        (NOT_AFTER, None),
        (NOT_AFTER + 1, Uncovered.CONSENT_EXPIRED),
    ],
)
def test_consent_validity_period(now: int, expected: Uncovered | None) -> None:
    assert refusal(policy.check_consent_in_force, consent(), now) is expected
    assert policy.consent_in_force(consent(), now) is (expected is None)
