"""The storage service's reason codes and their HTTP status: the one table of both.

Services raise :class:`ApiError` with a :class:`Reason`; the handlers of
:mod:`storage_service.api.errors` answer it (and framework, object-store, database and HTTP
signature errors, whose ``reason`` is a member of the same enum) as one JSON shape::

    {"error": {"code": "manifest_chain_broken", "message": "..."}}

docs/API.md lists the codes by status; :func:`reason_table` renders that list from
:data:`STATUS` (tests/storage/test_reason_docs.py checks the two agree).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Every machine-readable reason code the service answers with."""

    INVALID_CURSOR = "invalid_cursor"
    INVALID_RANGE = "invalid_range"
    # HTTP signatures and content digests (the reasons of crypto.httpsig.HttpSignatureError)
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_PARAMS_INVALID = "signature_params_invalid"
    SIGNATURE_ALG_UNSUPPORTED = "signature_alg_unsupported"
    SIGNATURE_COMPONENT_MISSING = "signature_component_missing"
    SIGNATURE_EXPIRED = "signature_expired"
    SIGNATURE_CLOCK_SKEW = "signature_clock_skew"
    SIGNATURE_INVALID = "signature_invalid"
    CONTENT_DIGEST_MISSING = "content_digest_missing"
    CONTENT_DIGEST_MALFORMED = "content_digest_malformed"
    CONTENT_DIGEST_MISMATCH = "content_digest_mismatch"
    UNKNOWN_KEY = "unknown_key"
    REPLAYED_REQUEST = "replayed_request"
    WRONG_AUTHORITY = "wrong_authority"
    # a known principal that may not do this
    WRONG_SITE = "wrong_site"
    WRONG_PRINCIPAL = "wrong_principal"
    DEVICE_REVOKED = "device_revoked"
    PRESIGNED_URL_REFUSED = "presigned_url_refused"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    NO_JUSTIFICATION = "no_justification"
    # not there (any more)
    NOT_FOUND = "not_found"
    SITE_NOT_FOUND = "site_not_found"
    DEVICE_NOT_FOUND = "device_not_found"
    UPLOAD_NOT_FOUND = "upload_not_found"
    RECORDING_NOT_FOUND = "recording_not_found"
    ALARM_NOT_FOUND = "alarm_not_found"
    CONSENT_REQUEST_NOT_FOUND = "consent_request_not_found"
    CONSENT_NOT_FOUND = "consent_not_found"
    CHAIN_HEAD_NOT_FOUND = "chain_head_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    RECORDING_DELETED = "recording_deleted"
    UPLOAD_EXPIRED = "upload_expired"
    # conflicts with what is stored
    SITE_EXISTS = "site_exists"
    SITE_KEYS_CONFLICT = "site_keys_conflict"
    DEVICE_CONFLICT = "device_conflict"
    UPLOAD_CONFLICT = "upload_conflict"
    RECORDING_COMMITTED = "recording_committed"
    RECORDING_CONFLICT = "recording_conflict"
    MANIFEST_CHAIN_BROKEN = "manifest_chain_broken"
    OPERATOR_CONFLICT = "operator_conflict"
    ALARM_CONFLICT = "alarm_conflict"
    COUNTER_NOT_INCREASING = "counter_not_increasing"
    ALARM_STATE_CONFLICT = "alarm_state_conflict"
    CONSENT_CONFLICT = "consent_conflict"
    CONSENT_REQUEST_DECIDED = "consent_request_decided"
    INBOX_CONFLICT = "inbox_conflict"
    CHAIN_HEAD_NOT_NEWER = "chain_head_not_newer"  # a ChainHead going backwards
    # size and media type
    LENGTH_REQUIRED = "length_required"
    BODY_TOO_LARGE = "body_too_large"
    RECORDING_TOO_LARGE = "recording_too_large"
    HEADER_TOO_LARGE = "header_too_large"
    HEADER_TOO_MANY_STANZAS = "header_too_many_stanzas"  # crypto.age.format.MAX_STANZAS
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    # understood, but the content is refused
    VALIDATION_ERROR = "validation_error"
    STATEMENT_INVALID = "statement_invalid"
    STATEMENT_SIGNATURE_INVALID = "statement_signature_invalid"
    SITE_KEYS_INVALID = "site_keys_invalid"
    SITE_ID_NOT_BOUND = "site_id_not_bound"
    DEVICE_INVALID = "device_invalid"
    OPERATOR_INVALID = "operator_invalid"
    MANIFEST_MISMATCH = "manifest_mismatch"
    HEADER_MALFORMED = "header_malformed"
    HEADER_HASH_MISMATCH = "header_hash_mismatch"
    OBJECT_MISSING = "object_missing"
    OBJECT_SIZE_MISMATCH = "object_size_mismatch"
    OBJECT_HASH_MISMATCH = "object_hash_mismatch"
    MULTIPART_INVALID = "multipart_invalid"
    ALARM_INVALID = "alarm_invalid"
    ALARM_NOT_FRESH = "alarm_not_fresh"
    CONSENT_INVALID = "consent_invalid"
    NOTICE_INVALID = "notice_invalid"
    SMART_ALERT_INVALID = "smart_alert_invalid"
    CHAIN_HEAD_INVALID = "chain_head_invalid"
    # too many unauthenticated requests from one address
    RATE_LIMITED = "rate_limited"
    # our side
    INTERNAL_ERROR = "internal_error"
    NOT_CONFIGURED = "not_configured"
    STORE_UNAVAILABLE = "store_unavailable"
    DATABASE_UNAVAILABLE = "database_unavailable"


_R = Reason

#: The HTTP status of every reason code.
STATUS: dict[Reason, int] = {
    # 400: well-formed JSON that is wrong as a request
    **dict.fromkeys((_R.INVALID_CURSOR, _R.INVALID_RANGE), 400),
    # 401: who is asking could not be established
    **dict.fromkeys(
        (
            _R.SIGNATURE_MISSING,
            _R.SIGNATURE_MALFORMED,
            _R.SIGNATURE_PARAMS_INVALID,
            _R.SIGNATURE_ALG_UNSUPPORTED,
            _R.SIGNATURE_COMPONENT_MISSING,
            _R.SIGNATURE_EXPIRED,
            _R.SIGNATURE_CLOCK_SKEW,
            _R.SIGNATURE_INVALID,
            _R.CONTENT_DIGEST_MISSING,
            _R.CONTENT_DIGEST_MALFORMED,
            _R.CONTENT_DIGEST_MISMATCH,
            _R.UNKNOWN_KEY,
            _R.REPLAYED_REQUEST,
            _R.WRONG_AUTHORITY,
        ),
        401,
    ),
    # 403: known principal, not allowed
    **dict.fromkeys(
        (
            _R.WRONG_SITE,
            _R.WRONG_PRINCIPAL,
            _R.DEVICE_REVOKED,
            _R.PRESIGNED_URL_REFUSED,
            _R.ROLE_NOT_ALLOWED,
            _R.NO_JUSTIFICATION,
        ),
        403,
    ),
    **dict.fromkeys(
        (
            _R.NOT_FOUND,
            _R.SITE_NOT_FOUND,
            _R.DEVICE_NOT_FOUND,
            _R.UPLOAD_NOT_FOUND,
            _R.RECORDING_NOT_FOUND,
            _R.ALARM_NOT_FOUND,
            _R.CONSENT_REQUEST_NOT_FOUND,
            _R.CONSENT_NOT_FOUND,
            _R.CHAIN_HEAD_NOT_FOUND,
        ),
        404,
    ),
    _R.METHOD_NOT_ALLOWED: 405,
    **dict.fromkeys((_R.RECORDING_DELETED, _R.UPLOAD_EXPIRED), 410),
    # 409: conflicts with what is stored
    **dict.fromkeys(
        (
            _R.SITE_EXISTS,
            _R.SITE_KEYS_CONFLICT,
            _R.DEVICE_CONFLICT,
            _R.UPLOAD_CONFLICT,
            _R.RECORDING_COMMITTED,
            _R.RECORDING_CONFLICT,
            _R.MANIFEST_CHAIN_BROKEN,
            _R.OPERATOR_CONFLICT,
            _R.ALARM_CONFLICT,
            _R.COUNTER_NOT_INCREASING,
            _R.ALARM_STATE_CONFLICT,
            _R.CONSENT_CONFLICT,
            _R.CONSENT_REQUEST_DECIDED,
            _R.INBOX_CONFLICT,
            _R.CHAIN_HEAD_NOT_NEWER,
        ),
        409,
    ),
    _R.LENGTH_REQUIRED: 411,
    **dict.fromkeys(
        (
            _R.BODY_TOO_LARGE,
            _R.RECORDING_TOO_LARGE,
            _R.HEADER_TOO_LARGE,
            _R.HEADER_TOO_MANY_STANZAS,
            _R.PAYLOAD_TOO_LARGE,
        ),
        413,
    ),
    _R.UNSUPPORTED_MEDIA_TYPE: 415,
    _R.RATE_LIMITED: 429,
    # 422: the request is understood but its content is refused
    **dict.fromkeys(
        (
            _R.VALIDATION_ERROR,
            _R.STATEMENT_INVALID,
            _R.STATEMENT_SIGNATURE_INVALID,
            _R.SITE_KEYS_INVALID,
            _R.SITE_ID_NOT_BOUND,
            _R.DEVICE_INVALID,
            _R.OPERATOR_INVALID,
            _R.MANIFEST_MISMATCH,
            _R.HEADER_MALFORMED,
            _R.HEADER_HASH_MISMATCH,
            _R.OBJECT_MISSING,
            _R.OBJECT_SIZE_MISMATCH,
            _R.OBJECT_HASH_MISMATCH,
            _R.MULTIPART_INVALID,
            _R.ALARM_INVALID,
            _R.ALARM_NOT_FRESH,
            _R.CONSENT_INVALID,
            _R.NOTICE_INVALID,
            _R.SMART_ALERT_INVALID,
            _R.CHAIN_HEAD_INVALID,
        ),
        422,
    ),
    # 5xx: our side
    _R.INTERNAL_ERROR: 500,
    **dict.fromkeys((_R.NOT_CONFIGURED, _R.STORE_UNAVAILABLE, _R.DATABASE_UNAVAILABLE), 503),
}

if set(STATUS) != set(Reason):  # pragma: no cover - caught at import by any test
    raise RuntimeError(f"reason codes without a status: {sorted(set(Reason) - set(STATUS))}")


class ApiError(Exception):
    """A refusal: a :class:`Reason` (its status is ``STATUS[code]``) and a message for humans."""

    def __init__(self, code: Reason, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.code = Reason(code)
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS[self.code]


def reason_table() -> str:
    """The Markdown table of docs/API.md section 2: the codes of each status, in enum order."""
    by_status: dict[int, list[Reason]] = {}
    for reason in Reason:
        by_status.setdefault(STATUS[reason], []).append(reason)
    lines = ["| status | codes |", "|---|---|"]
    for status in sorted(by_status):
        lines.append(f"| {status} | " + ", ".join(f"`{r}`" for r in by_status[status]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reason_table(), end="")
