"""What may be released: the per-recording rules of the release protocol (pure functions).

docs/ESCROW.md "Release checks" states the rules; each function raises
:class:`~escrow_service.errors.Refusal` with the reason code of the first rule broken.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import CameraProfile, Consent, ConsentScope
from escrow_service.errors import Reason, Refusal

#: Which consent scope covers each recording kind.
KIND_SCOPE: dict[RecordingKind, ConsentScope] = {
    RecordingKind.SEGMENT: ConsentScope.RECORDINGS,
    RecordingKind.CLIP: ConsentScope.RECORDINGS,
    RecordingKind.EVENT: ConsentScope.RECORDINGS,
    RecordingKind.LIVE: ConsentScope.LIVE,
    RecordingKind.STILL: ConsentScope.STILLS,
}


@dataclass(frozen=True, slots=True)
class AlarmWindow:
    """The alarm as the custodian sees it: its site, trigger time and access period end."""

    site_id: str
    triggered_at_ms: int
    access_until_ms: int


def check_profile(meta: RecordingMetadata, profile: CameraProfile | None) -> CameraProfile:
    """Rules of the camera model, for every purpose: the camera is the site's, stills-only
    cameras release stills only, live segments only where the model allows live."""
    if profile is None:
        raise Refusal(
            Reason.CAMERA_NOT_OF_SITE,
            f"camera {meta.camera_id!r} is not an enrolled camera of site {meta.site_id!r}",
        )
    if profile.stills_only and meta.kind is not RecordingKind.STILL:
        raise Refusal(
            Reason.STILLS_ONLY,
            f"camera {meta.camera_id!r} is stills-only; {meta.kind.value} is not releasable",
        )
    if meta.kind is RecordingKind.LIVE and not profile.live_allowed:
        raise Refusal(
            Reason.LIVE_NOT_ALLOWED, f"camera {meta.camera_id!r} does not allow live access"
        )
    return profile


def check_alarm_item(
    meta: RecordingMetadata, alarm: AlarmWindow, profile: CameraProfile | None
) -> None:
    """A recording is releasable for an alarm iff ``[start_ms, end_ms]`` intersects
    ``[trigger - pre_alarm_s, trigger + post_alarm_s]`` (live: up to the access period end)."""
    if meta.site_id != alarm.site_id:
        raise Refusal(Reason.WRONG_SITE, f"recording of site {meta.site_id!r}, alarm of another")
    p = check_profile(meta, profile)
    lo = alarm.triggered_at_ms - p.pre_alarm_s * 1000
    hi = alarm.triggered_at_ms + p.post_alarm_s * 1000
    if meta.kind is RecordingKind.LIVE:
        hi = max(hi, alarm.access_until_ms)
    if meta.end_ms < lo:
        raise Refusal(
            Reason.OUTSIDE_WINDOW_BEFORE,
            f"recording ends {lo - meta.end_ms} ms before the pre-alarm window ({p.pre_alarm_s} s)",
        )
    if meta.start_ms > hi:
        raise Refusal(
            Reason.OUTSIDE_WINDOW_AFTER,
            f"recording starts {meta.start_ms - hi} ms after the post-alarm window "
            f"({p.post_alarm_s} s)",
        )


def check_consent_item(
    meta: RecordingMetadata, consent: Consent, profile: CameraProfile | None
) -> None:
    """A recording is releasable under a consent iff its site, camera, kind (as scope) and
    whole time span are inside what the customer signed."""
    if meta.site_id != consent.site_id:
        raise Refusal(Reason.WRONG_SITE, f"recording of site {meta.site_id!r}, consent of another")
    check_profile(meta, profile)
    if meta.camera_id not in consent.cameras:
        raise Refusal(
            Reason.CONSENT_OUT_OF_SCOPE, f"camera {meta.camera_id!r} is not in the consent"
        )
    scope = KIND_SCOPE[meta.kind]
    if scope not in consent.scope:
        raise Refusal(
            Reason.CONSENT_OUT_OF_SCOPE,
            f"{meta.kind.value} needs scope {scope.value!r}, consent grants "
            f"{[s.value for s in consent.scope]}",
        )
    if meta.start_ms < consent.recordings_from_ms or meta.end_ms > consent.recordings_to_ms:
        raise Refusal(
            Reason.CONSENT_OUT_OF_SCOPE, "recording time is outside the consent's time range"
        )
