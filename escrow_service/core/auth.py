"""RFC 9421 request signatures (crypto.httpsig) of operators and customers.

``keyid`` is ``operator:<operator_id>`` (key from the ARC-signed OperatorRegistration this
custodian holds) or ``customer:<site_id>`` (the site's pinned customer key). Covered: the
method, authority, path and query, plus ``content-digest`` and ``content-type`` of a body.
The nonce is remembered until the signature expires; for releases it is written in the same
transaction as the log entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import StatementError
from crypto.httpsig import (
    HttpRequest,
    HttpSignatureError,
    check_content_digest,
    check_times,
    parse_signature,
    verify_request,
)
from crypto.metadata import check_id
from escrow_service.core.errors import Reason, Refusal

BASE_COMPONENTS = ("@method", "@authority", "@path", "@query")
BODY_COMPONENTS = ("content-digest", "content-type")


@dataclass(frozen=True, slots=True)
class Caller:
    kind: str  # "operator" | "customer"
    ident: str  # operator id or site id
    keyid: str
    nonce: str
    expires_ms: int


def claimed_keyid(req: HttpRequest) -> tuple[str, str] | None:
    """The (kind, id) a request claims to be from, before anything is verified (for logs)."""
    try:
        parsed = parse_signature(req.headers.get("signature-input"), req.headers.get("signature"))
        kind, _, ident = parsed.params.keyid.partition(":")
        return kind, check_id(ident, "keyid")
    except (HttpSignatureError, StatementError):
        return None


def authenticate(
    req: HttpRequest,
    body: bytes,
    key_for: Callable[[str, str], Ed25519PublicKey | None],
    *,
    now_s: int,
    clock_skew_s: int,
    max_lifetime_s: int,
    authorities: frozenset[str] | None = None,
) -> Caller:
    """Verify the request signature; ``key_for(kind, id)`` returns the registered key.

    ``authorities``: the host:port values this custodian is reached at. The signature covers
    ``@authority`` (the Host header); a signature made for another custodian's address is
    refused (``wrong_authority``), so a request cannot be replayed from one custodian to
    another (nonces are only remembered per custodian).
    """
    try:
        parsed = parse_signature(req.headers.get("signature-input"), req.headers.get("signature"))
        check_times(
            parsed.params, now=now_s, max_skew_s=clock_skew_s, max_lifetime_s=max_lifetime_s
        )
        if body:
            check_content_digest(req.headers.get("content-digest"), body)
    except HttpSignatureError as exc:
        raise Refusal(Reason.BAD_REQUEST_SIGNATURE, f"{exc.reason}: {exc}") from None
    kind, _, ident = parsed.params.keyid.partition(":")
    try:
        check_id(ident, "keyid")
    except StatementError:
        raise Refusal(Reason.BAD_REQUEST_SIGNATURE, "keyid must be <kind>:<id>") from None
    if kind not in ("operator", "customer"):
        raise Refusal(Reason.WRONG_PRINCIPAL, "keyid must be operator:<id> or customer:<site>")
    key = key_for(kind, ident)
    if key is None:
        if kind == "operator":
            raise Refusal(
                Reason.OPERATOR_NOT_REGISTERED, f"operator {ident!r} is not registered here"
            )
        raise Refusal(Reason.UNKNOWN_SITE, f"site {ident!r} is not enrolled here")
    required = BASE_COMPONENTS + (BODY_COMPONENTS if body else ())
    try:
        verify_request(req, parsed, key, required=required)
    except HttpSignatureError as exc:
        raise Refusal(Reason.BAD_REQUEST_SIGNATURE, f"{exc.reason}: {exc}") from None
    if authorities is not None and req.authority.strip().lower() not in authorities:
        raise Refusal(
            Reason.WRONG_AUTHORITY,
            f"the request was signed for {req.authority!r}, not for this custodian "
            f"({', '.join(sorted(authorities))})",
        )
    expires_ms = (parsed.params.expires + clock_skew_s + 1) * 1000
    return Caller(kind, ident, parsed.params.keyid, parsed.params.nonce, expires_ms)
