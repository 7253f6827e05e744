"""Maintenance consents: a technician's request, the customer's signed Consent (or refusal),
the customer's signed Revocation. The service stores and relays them; the custodians enforce
them (they also receive revocations from the customer directly).

A Consent is stored only if (each with its reason code): it parses (``statement_invalid``);
it is signed by the site's pinned customer key (``statement_signature_invalid``); it is for
this site (``wrong_site``); and (``consent_invalid``) its grantee is a registered ARC
principal, with the registered key if the consent pins one, and the requesting technician
when it answers a request; each camera is an enrolled camera of the site; its validity is at
most ``consent_max_validity_s`` and not over yet. Answering a request that was already
decided is ``consent_request_decided``; another statement under a stored consent id is
``consent_conflict``.
"""

from __future__ import annotations

import hmac
import json
import uuid
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from common.time import now_ms
from crypto.statements import Consent, DeviceKind, Revocation
from storage_service.core.errors import ApiError, Reason
from storage_service.core.settings import Settings
from storage_service.core.statements import parse_statement, statement_json
from storage_service.db.engine import session_scope
from storage_service.db.models import ConsentRequest, Device, Operator, StoredConsent
from storage_service.schemas.consents import (
    ConsentOut,
    ConsentRefusalIn,
    ConsentRequestIn,
    ConsentRequestOut,
)
from storage_service.services.inbox import add_item
from storage_service.services.sites import get_site, verify_customer_statement

Row = TypeVar("Row", ConsentRequest, StoredConsent)


def request_out(r: ConsentRequest) -> ConsentRequestOut:
    return ConsentRequestOut(
        request_id=r.id,
        site_id=r.site_id,
        operator_id=r.operator_id,
        cameras=json.loads(r.cameras),
        scope=json.loads(r.scope),
        recordings_from_ms=r.recordings_from_ms,
        recordings_to_ms=r.recordings_to_ms,
        duration_s=r.duration_s,
        reason=r.reason,
        created_ms=r.created_ms,
        state=r.state,
        decided_ms=r.decided_ms,
        consent_id=r.consent_id,
        refusal_reason=r.refusal_reason,
    )


def consent_out(c: StoredConsent) -> ConsentOut:
    return ConsentOut(
        site_id=c.site_id,
        consent_id=c.consent_id,
        request_id=c.request_id,
        grantee_id=c.grantee_id,
        not_before_ms=c.not_before_ms,
        not_after_ms=c.not_after_ms,
        created_ms=c.created_ms,
        revoked=c.revoked_ms is not None,
        revoked_ms=c.revoked_ms,
        consent=statement_json(c.statement),
        revocation=statement_json(c.revocation) if c.revocation is not None else None,
    )


def _cameras(s: Session, site_id: str, cameras: list[str] | tuple[str, ...], code: Reason) -> None:
    for camera_id in cameras:
        dev = s.get(Device, (site_id, camera_id))
        if dev is None or dev.kind != DeviceKind.CAMERA.value:
            raise ApiError(code, f"{camera_id!r} is not an enrolled camera of this site")


def create_request(
    engine: Engine, site_id: str, operator_id: str, body: ConsentRequestIn
) -> ConsentRequestOut:
    if body.recordings_to_ms < body.recordings_from_ms:
        raise ApiError(Reason.INVALID_RANGE, "recordings_to_ms is before recordings_from_ms")
    if len(set(body.cameras)) != len(body.cameras) or len(set(body.scope)) != len(body.scope):
        raise ApiError(Reason.CONSENT_INVALID, "cameras and scope must not repeat")
    now = now_ms()
    with session_scope(engine) as s:
        get_site(s, site_id)
        _cameras(s, site_id, body.cameras, Reason.DEVICE_NOT_FOUND)
        req = ConsentRequest(
            id=uuid.uuid4().hex,
            site_id=site_id,
            operator_id=operator_id,
            cameras=json.dumps(body.cameras),
            scope=json.dumps([x.value for x in body.scope]),
            recordings_from_ms=body.recordings_from_ms,
            recordings_to_ms=body.recordings_to_ms,
            duration_s=body.duration_s,
            reason=body.reason,
            created_ms=now,
            state="pending",
        )
        s.add(req)
        s.flush()
        out = request_out(req)
        text = out.model_dump_json().encode()
        add_item(s, site_id, "consent_request", f"operator:{operator_id}", req.id, text, now)
        return out


def list_requests(
    engine: Engine, *, site_id: str | None, operator_id: str | None, state: str | None
) -> list[ConsentRequestOut]:
    R = ConsentRequest  # noqa: N806
    equal = [(R.site_id, site_id), (R.operator_id, operator_id), (R.state, state)]
    rows = _newest(engine, R, R.created_ms, site_id, equal)
    return [request_out(r) for r in rows]


def _newest(
    engine: Engine,
    model: type[Row],
    created: Any,
    site_id: str | None,
    equal: list[tuple[Any, str | None]],
) -> list[Row]:
    """Up to 500 rows of ``model``, newest ``created`` first, each column of ``equal`` whose
    value is not None equal to it; ``site_id``, when given, must be an existing site."""
    stmt = select(model)
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(col(column) == value)
    with Session(engine) as s:
        if site_id is not None:
            get_site(s, site_id)
        return list(s.exec(stmt.order_by(col(created).desc()).limit(500)).all())


def approve(
    engine: Engine,
    settings: Settings,
    site_id: str,
    consent_json: dict[str, Any],
    request_id: str | None,
) -> tuple[ConsentOut, bool]:
    signed = parse_statement(consent_json, "consent")
    data = signed.encode()
    now = now_ms()
    with session_scope(engine) as s:
        site = get_site(s, site_id)
        c = verify_customer_statement(site, signed, Consent, "consent")
        existing = s.get(StoredConsent, (site_id, c.consent_id))
        if existing is not None:
            if hmac.compare_digest(existing.statement, data):
                return consent_out(existing), False
            raise ApiError(Reason.CONSENT_CONFLICT, "another consent with this id is stored")
        grantee = s.get(Operator, c.grantee_id)
        if grantee is None:
            raise ApiError(Reason.CONSENT_INVALID, f"grantee {c.grantee_id!r} is not registered")
        if c.grantee_key is not None and c.grantee_key.to_text() != grantee.operator_key:
            raise ApiError(
                Reason.CONSENT_INVALID, "grantee_key is not the grantee's registered key"
            )
        _cameras(s, site_id, c.cameras, Reason.CONSENT_INVALID)
        validity_s = (c.not_after_ms - c.not_before_ms) / 1000
        if validity_s > settings.consent_max_validity_s:
            raise ApiError(
                Reason.CONSENT_INVALID,
                f"validity of {validity_s:.0f} s is over the limit of "
                f"{settings.consent_max_validity_s} s",
            )
        if c.not_after_ms <= now:
            raise ApiError(Reason.CONSENT_INVALID, "the consent's validity is already over")
        req = None
        if request_id is not None:
            req = s.get(ConsentRequest, request_id)
            if req is None or req.site_id != site_id:
                raise ApiError(Reason.CONSENT_REQUEST_NOT_FOUND, "no such consent request")
            if req.state != "pending":
                raise ApiError(Reason.CONSENT_REQUEST_DECIDED, f"the request was {req.state}")
            if req.operator_id != c.grantee_id:
                raise ApiError(
                    Reason.CONSENT_INVALID, "the grantee is not the requesting technician"
                )
            req.state, req.decided_ms, req.consent_id = "approved", now, c.consent_id
            s.add(req)
        row = StoredConsent(
            site_id=site_id,
            consent_id=c.consent_id,
            request_id=request_id,
            grantee_id=c.grantee_id,
            statement=data,
            not_before_ms=c.not_before_ms,
            not_after_ms=c.not_after_ms,
            created_ms=now,
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            raise ApiError(
                Reason.CONSENT_CONFLICT, "this consent was stored concurrently"
            ) from None
        return consent_out(row), True


def refuse(engine: Engine, site_id: str, body: ConsentRefusalIn) -> ConsentRequestOut:
    with session_scope(engine) as s:
        get_site(s, site_id)
        req = s.get(ConsentRequest, body.request_id)
        if req is None or req.site_id != site_id:
            raise ApiError(Reason.CONSENT_REQUEST_NOT_FOUND, "no such consent request")
        if req.state == "refused":
            return request_out(req)
        if req.state != "pending":
            raise ApiError(Reason.CONSENT_REQUEST_DECIDED, f"the request was {req.state}")
        req.state, req.decided_ms, req.refusal_reason = "refused", now_ms(), body.reason
        s.add(req)
        s.flush()
        return request_out(req)


def revoke(engine: Engine, site_id: str, revocation_json: dict[str, Any]) -> ConsentOut:
    signed = parse_statement(revocation_json, "revocation")
    data = signed.encode()
    with session_scope(engine) as s:
        site = get_site(s, site_id)
        r = verify_customer_statement(site, signed, Revocation, "revocation")
        row = s.get(StoredConsent, (site_id, r.consent_id))
        if row is None:
            raise ApiError(Reason.CONSENT_NOT_FOUND, "no consent of this site has that id")
        if row.revocation is None:
            row.revocation, row.revoked_ms = data, now_ms()
            s.add(row)
            s.flush()
        return consent_out(row)


def list_consents(
    engine: Engine, *, site_id: str | None, grantee_id: str | None
) -> list[ConsentOut]:
    C = StoredConsent  # noqa: N806
    rows = _newest(
        engine, C, C.created_ms, site_id, [(C.site_id, site_id), (C.grantee_id, grantee_id)]
    )
    return [consent_out(c) for c in rows]
