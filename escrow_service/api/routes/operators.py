"""Operators: register an ARC operator or technician."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from escrow_service.api.deps import ServiceDep, json_body
from escrow_service.schemas.requests import OperatorRegistrationIn, documented
from escrow_service.schemas.responses import ReceiptOut

router = APIRouter(prefix="/v1/operators", tags=["operators"])


@router.post("", response_model_exclude_none=True, openapi_extra=documented(OperatorRegistrationIn))
def register_operator(
    body: Annotated[OperatorRegistrationIn, json_body(OperatorRegistrationIn)],
    service: ServiceDep,
) -> ReceiptOut:
    """OperatorRegistration signed by the ARC key configured at this custodian."""
    return ReceiptOut.of(service.intake.operators.take(body.registration))
