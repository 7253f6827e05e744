"""Roles of ARC principals (from their ARC-signed OperatorRegistration)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from crypto.statements import OperatorRole
from storage_service.core.errors import ApiError, Reason
from storage_service.core.principal import Principal
from storage_service.db.models import Operator


def require_role(engine: Engine, principal: Principal, *roles: OperatorRole) -> str:
    """The operator id of ``principal`` if it is an operator with one of ``roles``."""
    if principal.kind != "operator" or principal.operator_id is None:
        raise ApiError(Reason.WRONG_PRINCIPAL, f"only ARC operators may do this ({principal.kind})")
    with Session(engine) as s:
        op = s.get(Operator, principal.operator_id)
    if op is None:  # pragma: no cover - authentication found its key a moment ago
        raise ApiError(Reason.UNKNOWN_KEY, "operator is not registered")
    if op.role not in {r.value for r in roles}:
        raise ApiError(
            Reason.ROLE_NOT_ALLOWED,
            f"role {op.role!r} may not do this (needs {', '.join(r.value for r in roles)})",
        )
    return op.id
