"""ARC operators and technicians (registered by ARC-signed OperatorRegistration)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from storage_service.api.auth import OperatorRegistrant
from storage_service.api.deps import EngineDep, SettingsDep
from storage_service.api.errors import ERROR_RESPONSES, replayed
from storage_service.schemas.sites import OperatorOut, RegisterOperator
from storage_service.services import operators

router = APIRouter(responses=ERROR_RESPONSES, prefix="/v1/operators", tags=["operators"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=replayed(OperatorOut))
def register(
    body: RegisterOperator,
    principal: OperatorRegistrant,
    engine: EngineDep,
    settings: SettingsDep,
    response: Response,
) -> OperatorOut:
    """Register an operator; the request is signed by the operator key being registered."""
    out, created = operators.register(engine, settings, body.registration)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out
