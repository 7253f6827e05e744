"""Operations endpoints: liveness, readiness (database and object store), metrics."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from common.metrics import render
from storage_service.api.deps import EngineDep, StoreDep
from storage_service.blobstore import BlobStoreError
from storage_service.schemas.base import Health

router = APIRouter(tags=["operations"])
log = logging.getLogger("camvault.storage")
PROBE_KEY = "camvault-readyz-probe"


@router.get("/healthz")
def healthz() -> Health:
    """The process is up (no dependency checked)."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Health}})
async def readyz(engine: EngineDep, store: StoreDep) -> JSONResponse:
    """Ready to serve: the database answers and the object store (bucket) is reachable."""
    checks: dict[str, str] = {}

    def db() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    try:
        await run_in_threadpool(db)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await run_in_threadpool(store.exists, PROBE_KEY)
        checks["object_store"] = "ok"
    except (BlobStoreError, OSError) as exc:
        checks["object_store"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    if not ok:
        log.warning("not ready", extra={"checks": checks})
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    data, ctype = render()
    return Response(data, media_type=ctype)
