"""Operations endpoints of a custodian, as on the storage service: readiness (its database
answers) and Prometheus metrics (liveness, ``/healthz``, is in routes/custodian.py)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from common.metrics import render
from escrow_service.api.deps import ServiceDep

router = APIRouter(tags=["operations"])
log = logging.getLogger("camvault.escrow")


@router.get("/readyz")
async def readyz(service: ServiceDep) -> JSONResponse:
    """Ready to serve: the database answers (503 ``unavailable`` with the check otherwise)."""

    def db() -> None:
        with service.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    try:
        await run_in_threadpool(db)
        checks = {"database": "ok"}
    except Exception as exc:
        checks = {"database": f"error: {type(exc).__name__}"}
        log.warning("not ready", extra={"checks": checks})
    ok = checks["database"] == "ok"
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    data, ctype = render()
    return Response(data, media_type=ctype)
