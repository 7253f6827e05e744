"""Reason codes of the escrow service (docs/ESCROW.md lists them; tests/escrow/test_reason_docs.py
keeps the list and this enum equal).

Every refusal is a :class:`Refusal` carrying a :class:`Reason`. Request-level refusals become
HTTP errors ``{"error": {"code", "message"}, ...}`` with the status of
:data:`escrow_service.api.errors.STATUS`; per-item refusals of a release batch are reported in
the item's result with the same codes.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # request shape
    MALFORMED_REQUEST = "malformed_request"
    BATCH_TOO_LARGE = "batch_too_large"
    RATE_LIMITED = "rate_limited"
    # who is asking
    BAD_REQUEST_SIGNATURE = "bad_request_signature"
    OPERATOR_NOT_REGISTERED = "operator_not_registered"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    REPLAYED_REQUEST = "replayed_request"
    WRONG_PRINCIPAL = "wrong_principal"
    WRONG_AUTHORITY = "wrong_authority"
    # justification
    NO_JUSTIFICATION = "no_justification"
    MALFORMED_JUSTIFICATION = "malformed_justification"
    WRONG_PURPOSE = "wrong_purpose"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_SITE = "unknown_site"
    PANEL_NOT_OF_SITE = "panel_not_of_site"
    DEVICE_REVOKED = "device_revoked"
    EVENT_REPLAYED = "event_replayed"
    EVENT_STALE = "event_stale"
    EVENT_IN_FUTURE = "event_in_future"
    ACCESS_PERIOD_CLOSED = "access_period_closed"
    ALARM_CANCELLED = "alarm_cancelled"
    ALARM_CLOSED = "alarm_closed"
    CONSENT_NOT_YET_VALID = "consent_not_yet_valid"
    CONSENT_EXPIRED = "consent_expired"
    CONSENT_REVOKED = "consent_revoked"
    CONSENT_WRONG_GRANTEE = "consent_wrong_grantee"
    BAD_SESSION_KEY = "bad_session_key"
    # per recording
    WRONG_SITE = "wrong_site"
    CAMERA_NOT_OF_SITE = "camera_not_of_site"
    CONSENT_OUT_OF_SCOPE = "consent_out_of_scope"
    OUTSIDE_WINDOW_BEFORE = "outside_window_before"
    OUTSIDE_WINDOW_AFTER = "outside_window_after"
    STILLS_ONLY = "stills_only"
    LIVE_NOT_ALLOWED = "live_not_allowed"
    DUPLICATE_ITEM = "duplicate_item"
    MALFORMED_STANZA = "malformed_stanza"
    NOT_THIS_CUSTODIAN = "not_this_custodian"
    NO_HYBRID_KEY = "no_hybrid_key"
    STANZA_METADATA_MISMATCH = "stanza_metadata_mismatch"
    RECORDING_DELETED = "recording_deleted"
    RETENTION_EXPIRED = "retention_expired"
    # enrollment and statements
    PIN_MISMATCH = "pin_mismatch"
    SITE_ID_NOT_BOUND = "site_id_not_bound"
    CUSTODIAN_NOT_IN_SET = "custodian_not_in_set"
    STATEMENT_CONFLICT = "statement_conflict"
    ARC_KEY_NOT_CONFIGURED = "arc_key_not_configured"
    # reads
    NOT_FOUND = "not_found"
    INVALID_RANGE = "invalid_range"
    # service
    INTERNAL_ERROR = "internal_error"


class Refusal(Exception):  # noqa: N818 (a refusal is the expected outcome, not a bug)
    """A request or an item is refused for ``reason``; ``message`` explains it to a human."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
