"""What may be released: the per-recording rules of the release protocol.

The rules are crypto.policy's (the storage service lists recordings by the same ones);
docs/ESCROW.md "Release checks" states them. Each function raises
:class:`~escrow_service.core.errors.Refusal` with the reason code of the first rule broken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from crypto import policy
from crypto.metadata import RecordingMetadata
from crypto.policy import KIND_SCOPE, AlarmWindow
from crypto.statements import CameraProfile, Consent
from escrow_service.core.errors import Reason, Refusal

__all__ = [
    "KIND_SCOPE",
    "AlarmWindow",
    "check_alarm_access",
    "check_alarm_item",
    "check_consent_in_force",
    "check_consent_item",
    "check_profile",
]

T = TypeVar("T")


def _refusing(check: Callable[[], T]) -> T:
    """Run a crypto.policy check; its refusal becomes a Refusal with the same reason code."""
    try:
        return check()
    except policy.NotCoveredError as exc:
        raise Refusal(Reason(exc.reason.value), exc.message) from exc


def check_profile(meta: RecordingMetadata, profile: CameraProfile | None) -> CameraProfile:
    """Rules of the camera model, for every purpose: the camera is the site's, stills-only
    cameras release stills only, live segments only where the model allows live."""
    return _refusing(lambda: policy.check_profile(meta, profile))


def check_alarm_item(
    meta: RecordingMetadata, alarm: AlarmWindow, profile: CameraProfile | None
) -> None:
    """A recording is releasable for an alarm iff ``[start_ms, end_ms]`` intersects
    ``[trigger - pre_alarm_s, trigger + post_alarm_s]`` (live: up to the access period end)."""
    _refusing(lambda: policy.check_alarm_item(meta, alarm, profile))


def check_consent_item(
    meta: RecordingMetadata, consent: Consent, profile: CameraProfile | None
) -> None:
    """A recording is releasable under a consent iff its site, camera, kind (as scope) and
    whole time span are inside what the customer signed."""
    _refusing(lambda: policy.check_consent_item(meta, consent, profile))


def check_alarm_access(access_until_ms: int, now: int) -> None:
    """The alarm's access period (up to and including ``access_until_ms``) is not over."""
    _refusing(lambda: policy.check_alarm_access(access_until_ms, now))


def check_consent_in_force(consent: Consent, now: int) -> None:
    """``now`` is within the consent's ``[not_before_ms, not_after_ms]``."""
    _refusing(lambda: policy.check_consent_in_force(consent, now))
