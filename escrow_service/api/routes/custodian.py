"""Liveness and the custodian's public keys."""

from __future__ import annotations

from fastapi import APIRouter

from escrow_service.api.deps import ServiceDep
from escrow_service.schemas.responses import CustodianOut, Health

router = APIRouter(tags=["custodian"])


@router.get("/healthz")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/v1/custodian")
def custodian(service: ServiceDep) -> CustodianOut:
    """Custodian id, escrow key and key id, log key, note verifier, origin, next log key."""
    return CustodianOut(**service.keys.public_info())
