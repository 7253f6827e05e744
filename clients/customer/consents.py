"""Maintenance consents: answer a technician's request (approve with a signed Consent, or
refuse), and revoke. A revocation goes to the storage service AND straight to every
custodian, so that no custodian depends on the storage service to learn of it."""

from __future__ import annotations

import secrets
from typing import Any

from clients.api.errors import ClientError
from clients.customer.site import post_custodians
from clients.customer.state import CustomerState
from common.time import now_ms
from crypto.statements import Consent, ConsentScope, Purpose, Revocation, sign_statement


def list_requests(state: CustomerState, pending_only: bool = False) -> list[dict[str, Any]]:
    _, site_id = state.site()
    with state.storage() as storage:
        return storage.consent_requests(site_id, pending_only=pending_only)


def list_consents(state: CustomerState) -> list[dict[str, Any]]:
    _, site_id = state.site()
    with state.storage() as storage:
        return storage.consents(site_id)


def approve(
    state: CustomerState, request_id: str, *, valid_for_s: int | None = None
) -> dict[str, Any]:
    """Sign a Consent for exactly what the request asks (cameras, scope, recording range),
    valid from now for the requested duration (or less), purpose maintenance."""
    _, site_id = state.site()
    reqs = {r["request_id"]: r for r in list_requests(state)}
    req = reqs.get(request_id)
    if req is None:
        raise ClientError(f"no consent request {request_id} at site {site_id}")
    now = now_ms()
    duration = int(req["duration_s"])
    if valid_for_s is not None:
        duration = min(valid_for_s, duration)
    consent = Consent(
        consent_id=f"consent-{secrets.token_hex(8)}",
        site_id=site_id,
        grantee_id=str(req["operator_id"]),
        grantee_key=None,
        cameras=tuple(req["cameras"]),
        scope=tuple(ConsentScope(s) for s in req["scope"]),
        recordings_from_ms=int(req["recordings_from_ms"]),
        recordings_to_ms=int(req["recordings_to_ms"]),
        not_before_ms=now - 5_000,
        not_after_ms=now + duration * 1000,
        purpose=Purpose.MAINTENANCE,
        issued_at_ms=now,
    )
    signed = sign_statement(consent, state.site_key())
    with state.storage() as storage:
        out = storage.grant_consent(site_id, signed, request_id)
    state.remember(signed)
    state.save()
    return out


def refuse(state: CustomerState, request_id: str, reason: str | None = None) -> dict[str, Any]:
    _, site_id = state.site()
    with state.storage() as storage:
        return storage.refuse_consent(site_id, request_id, reason)


def revoke(state: CustomerState, consent_id: str) -> dict[str, str]:
    """Sign a Revocation; post it to the storage service and to every custodian."""
    _, site_id = state.site()
    signed = sign_statement(Revocation(site_id, consent_id, now_ms()), state.site_key())
    with state.storage() as storage:
        storage.revoke(site_id, signed)
    state.remember(signed)
    state.save()
    return post_custodians(state.config.custodians, lambda api: api.revoke(site_id, signed))
