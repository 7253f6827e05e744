"""ARC operators and technicians, registered by ARC-signed OperatorRegistration statements."""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy.engine import Engine

from common.time import now_ms
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import KeyFormatError
from crypto.statements import OperatorRegistration, verify
from storage_service.core.errors import ApiError, Reason
from storage_service.core.settings import Settings
from storage_service.core.statements import parse_statement, statement_refusals
from storage_service.db.engine import session_scope
from storage_service.db.models import Operator
from storage_service.schemas.sites import OperatorOut


def arc_key(settings: Settings) -> Ed25519PublicKey:
    if not settings.arc_public_key:
        raise ApiError(Reason.NOT_CONFIGURED, "no ARC key is configured (CAMVAULT_ARC_PUBLIC_KEY)")
    try:
        return Ed25519PublicKey.from_text(settings.arc_public_key, "CAMVAULT_ARC_PUBLIC_KEY")
    except KeyFormatError as exc:
        raise ApiError(Reason.NOT_CONFIGURED, str(exc)) from None


def register(
    engine: Engine, settings: Settings, registration: dict[str, Any]
) -> tuple[OperatorOut, bool]:
    """Register (or re-key, with a later ``issued_at_ms``) an operator. The request itself
    needs no signature of the operator: the ARC's signature on the statement is the authority."""
    signed = parse_statement(registration, "registration")
    with statement_refusals("registration", Reason.OPERATOR_INVALID):
        reg = verify(signed, arc_key(settings), OperatorRegistration)
    data = signed.encode()
    out = OperatorOut(
        operator_id=reg.operator_id, role=reg.role.value, operator_key=reg.operator_key.to_text()
    )
    with session_scope(engine) as s:
        op = s.get(Operator, reg.operator_id)
        if op is not None:
            if hmac.compare_digest(op.registration, data):
                return out, False
            if reg.issued_at_ms <= op.issued_at_ms:
                raise ApiError(Reason.OPERATOR_CONFLICT, "a registration must be issued later")
            op.operator_key, op.role = reg.operator_key.to_text(), reg.role.value
            op.registration, op.issued_at_ms = data, reg.issued_at_ms
            s.add(op)
            return out, False
        s.add(
            Operator(
                id=reg.operator_id,
                operator_key=reg.operator_key.to_text(),
                role=reg.role.value,
                registration=data,
                issued_at_ms=reg.issued_at_ms,
                created_ms=now_ms(),
            )
        )
        return out, True
