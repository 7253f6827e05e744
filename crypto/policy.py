"""What a justification covers: the one definition of the per-recording release rules.

The custodians (escrow_service) refuse to release a share, and the storage service refuses to
list or hand out a recording, by these same rules, so the two cannot disagree:

- camera profile (every purpose): the camera must be an enrolled camera of the site; a
  stills-only camera releases ``still`` recordings only; ``live`` segments only where the
  camera model allows live (:func:`allowed_kinds`);
- alarm: the recording's ``[start_ms, end_ms]`` must intersect the alarm's window
  ``[trigger - pre_alarm_s, trigger + post_alarm_s]``; a ``live`` segment's window extends to
  the end of the alarm's access period (:func:`alarm_window`);
- consent: the camera must be listed, the recording kind's scope granted (:data:`KIND_SCOPE`)
  and the whole ``[start_ms, end_ms]`` inside ``[recordings_from_ms, recordings_to_ms]``;
- expiry: an alarm gives access up to and including ``access_until_ms``; a consent may be used
  from ``not_before_ms`` up to and including ``not_after_ms``.

Each ``check_*`` function raises :class:`NotCoveredError` with the :class:`Uncovered` reason of
the first rule broken; the services map the reason to their own refusal codes (the values are
the same strings). Pure: no I/O, no clock (callers pass ``now``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from crypto.errors import CryptoError
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import CameraProfile, Consent, ConsentScope

#: Which consent scope covers each recording kind.
KIND_SCOPE: Mapping[RecordingKind, ConsentScope] = MappingProxyType(
    {
        RecordingKind.SEGMENT: ConsentScope.RECORDINGS,
        RecordingKind.CLIP: ConsentScope.RECORDINGS,
        RecordingKind.EVENT: ConsentScope.RECORDINGS,
        RecordingKind.LIVE: ConsentScope.LIVE,
        RecordingKind.STILL: ConsentScope.STILLS,
    }
)


class Uncovered(StrEnum):
    """Why a justification does not cover a recording (the services' refusal codes)."""

    WRONG_SITE = "wrong_site"
    CAMERA_NOT_OF_SITE = "camera_not_of_site"
    STILLS_ONLY = "stills_only"
    LIVE_NOT_ALLOWED = "live_not_allowed"
    OUTSIDE_WINDOW_BEFORE = "outside_window_before"
    OUTSIDE_WINDOW_AFTER = "outside_window_after"
    CONSENT_OUT_OF_SCOPE = "consent_out_of_scope"
    ACCESS_PERIOD_CLOSED = "access_period_closed"
    CONSENT_NOT_YET_VALID = "consent_not_yet_valid"
    CONSENT_EXPIRED = "consent_expired"


class NotCoveredError(CryptoError):
    """The justification does not cover the recording; ``reason`` says which rule refused."""

    def __init__(self, reason: Uncovered, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class AlarmWindow:
    """The alarm a justification names: its site, trigger time and access period end."""

    site_id: str
    triggered_at_ms: int
    access_until_ms: int


@dataclass(frozen=True, slots=True)
class Window:
    """A closed interval of milliseconds; it covers ``[start_ms, end_ms]`` iff they intersect:
    ``end_ms >= lo_ms`` and ``start_ms <= hi_ms``."""

    lo_ms: int
    hi_ms: int

    def covers(self, start_ms: int, end_ms: int) -> bool:
        return end_ms >= self.lo_ms and start_ms <= self.hi_ms


# --- camera profile ---------------------------------------------------------------------------


def allowed_kinds(profile: CameraProfile) -> frozenset[RecordingKind]:
    """The recording kinds a camera of this profile may release, whatever the purpose."""
    if profile.stills_only:
        return frozenset({RecordingKind.STILL})
    if profile.live_allowed:
        return frozenset(RecordingKind)
    return frozenset(RecordingKind) - {RecordingKind.LIVE}


def check_profile(meta: RecordingMetadata, profile: CameraProfile | None) -> CameraProfile:
    """Rules of the camera model, for every purpose (see :func:`allowed_kinds`)."""
    if profile is None:
        raise NotCoveredError(
            Uncovered.CAMERA_NOT_OF_SITE,
            f"camera {meta.camera_id!r} is not an enrolled camera of site {meta.site_id!r}",
        )
    if meta.kind not in allowed_kinds(profile):
        if profile.stills_only:
            raise NotCoveredError(
                Uncovered.STILLS_ONLY,
                f"camera {meta.camera_id!r} is stills-only; {meta.kind.value} is not releasable",
            )
        raise NotCoveredError(
            Uncovered.LIVE_NOT_ALLOWED, f"camera {meta.camera_id!r} does not allow live access"
        )
    return profile


# --- alarm ------------------------------------------------------------------------------------


def alarm_window(alarm: AlarmWindow, profile: CameraProfile, kind: RecordingKind) -> Window:
    """The times an alarm covers for recordings of ``kind`` by a camera of ``profile``."""
    lo = alarm.triggered_at_ms - profile.pre_alarm_s * 1000
    hi = alarm.triggered_at_ms + profile.post_alarm_s * 1000
    if kind is RecordingKind.LIVE:
        hi = max(hi, alarm.access_until_ms)
    return Window(lo, hi)


def check_alarm_item(
    meta: RecordingMetadata, alarm: AlarmWindow, profile: CameraProfile | None
) -> None:
    """A recording is covered by an alarm iff it is of the alarm's site, its camera's profile
    allows its kind, and ``[start_ms, end_ms]`` intersects :func:`alarm_window`."""
    if meta.site_id != alarm.site_id:
        raise NotCoveredError(
            Uncovered.WRONG_SITE, f"recording of site {meta.site_id!r}, alarm of another"
        )
    p = check_profile(meta, profile)
    window = alarm_window(alarm, p, meta.kind)
    if meta.end_ms < window.lo_ms:
        raise NotCoveredError(
            Uncovered.OUTSIDE_WINDOW_BEFORE,
            f"recording ends {window.lo_ms - meta.end_ms} ms before the pre-alarm window "
            f"({p.pre_alarm_s} s)",
        )
    if meta.start_ms > window.hi_ms:
        raise NotCoveredError(
            Uncovered.OUTSIDE_WINDOW_AFTER,
            f"recording starts {meta.start_ms - window.hi_ms} ms after the post-alarm window "
            f"({p.post_alarm_s} s)",
        )


def alarm_access_open(access_until_ms: int, now: int) -> bool:
    """An alarm gives access up to and including ``access_until_ms``."""
    return now <= access_until_ms


def check_alarm_access(access_until_ms: int, now: int) -> None:
    """Refuse once the alarm's access period is over (:func:`alarm_access_open`)."""
    if not alarm_access_open(access_until_ms, now):
        raise NotCoveredError(
            Uncovered.ACCESS_PERIOD_CLOSED,
            f"the alarm's access period ended {(now - access_until_ms) // 1000} s ago",
        )


# --- consent ----------------------------------------------------------------------------------


def consent_kinds(consent: Consent, profile: CameraProfile) -> frozenset[RecordingKind]:
    """The kinds a consent releases from a camera of ``profile``: the profile allows them and
    the consent grants their scope."""
    return frozenset(k for k in allowed_kinds(profile) if KIND_SCOPE[k] in consent.scope)


def consent_span(consent: Consent) -> Window:
    """The times a consent covers: a recording must lie wholly inside (not just intersect)."""
    return Window(consent.recordings_from_ms, consent.recordings_to_ms)


def check_consent_item(
    meta: RecordingMetadata, consent: Consent, profile: CameraProfile | None
) -> None:
    """A recording is covered by a consent iff its site, camera, kind (as scope) and whole
    time span are inside what the customer signed, and its camera's profile allows its kind."""
    if meta.site_id != consent.site_id:
        raise NotCoveredError(
            Uncovered.WRONG_SITE, f"recording of site {meta.site_id!r}, consent of another"
        )
    check_profile(meta, profile)
    if meta.camera_id not in consent.cameras:
        raise NotCoveredError(
            Uncovered.CONSENT_OUT_OF_SCOPE, f"camera {meta.camera_id!r} is not in the consent"
        )
    scope = KIND_SCOPE[meta.kind]
    if scope not in consent.scope:
        raise NotCoveredError(
            Uncovered.CONSENT_OUT_OF_SCOPE,
            f"{meta.kind.value} needs scope {scope.value!r}, consent grants "
            f"{[s.value for s in consent.scope]}",
        )
    span = consent_span(consent)
    if meta.start_ms < span.lo_ms or meta.end_ms > span.hi_ms:
        raise NotCoveredError(
            Uncovered.CONSENT_OUT_OF_SCOPE, "recording time is outside the consent's time range"
        )


def consent_in_force(consent: Consent, now: int) -> bool:
    """A consent may be used from ``not_before_ms`` up to and including ``not_after_ms``."""
    return consent.not_before_ms <= now <= consent.not_after_ms


def check_consent_in_force(consent: Consent, now: int) -> None:
    """Refuse a consent outside its validity period (:func:`consent_in_force`)."""
    if now < consent.not_before_ms:
        raise NotCoveredError(Uncovered.CONSENT_NOT_YET_VALID, "the consent is not valid yet")
    if now > consent.not_after_ms:
        raise NotCoveredError(Uncovered.CONSENT_EXPIRED, "the consent has expired")
