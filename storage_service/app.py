"""The storage service application: ``create_app`` wires settings, database, object store,
routes, error handlers, middleware and the background sweeper.

Layout: a router per area in ``api/routes/`` (listed in :data:`ROUTERS`) over its service in
``services/`` and its bodies in ``schemas/``; tables in ``db/models.py``, each change with an
Alembic revision. Shared by every route: authentication (``api.auth.SignedPrincipal``),
refusals (``core.errors.ApiError`` with a ``Reason``) and tenant checks
(``principal.require_*``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from common import logs
from common.access import AccessLog
from common.apidocs import serve_api_docs
from common.ratelimit import add_rate_limit
from storage_service.api import webapp
from storage_service.api.errors import error_body, install_error_handlers
from storage_service.api.middleware import BLOB_PREFIX, BodyLimit
from storage_service.api.routes import (
    alarms,
    arc_recordings,
    blobs,
    chain_heads,
    consents,
    devices,
    inbox,
    operators,
    ops,
    recordings,
    sites,
    telemetry,
    uploads,
)
from storage_service.blobstore import BlobStore, S3BlobStore, open_blobstore
from storage_service.core.errors import Reason
from storage_service.core.metrics import SWEEPS
from storage_service.core.settings import Settings
from storage_service.core.signals import CommitSignal
from storage_service.db.engine import make_engine
from storage_service.db.migrate import ensure_schema
from storage_service.db.sqlite import enable_secure_delete
from storage_service.services.sweeper import sweep_once

log = logging.getLogger("camvault.storage")

ROUTERS: tuple[APIRouter, ...] = (
    ops.router,
    sites.router,
    devices.router,
    chain_heads.router,
    operators.router,
    uploads.router,
    recordings.router,
    blobs.router,
    alarms.site_router,
    alarms.arc_router,
    arc_recordings.router,
    consents.site_router,
    consents.arc_router,
    telemetry.router,
    inbox.site_router,
    inbox.notice_router,
    webapp.router,
)

API_VERSION = "1"

#: Routes anyone can call without a registered key (site creation is signed by a key in its
#: own body, an operator registration by the operator's new key; readiness touches the
#: database and the store): rate limited per client address. Every other /v1 request is
#: signed by a registered key, presigned blob URLs carry their own signature.
UNAUTHENTICATED = frozenset(
    {("POST", "/v1/sites"), ("POST", "/v1/operators"), ("GET", "/readyz"), ("GET", "/metrics")}
)


def rate_limited(method: str, path: str) -> bool:
    """Whether a request takes a token of its client's bucket."""
    return (method, path.rstrip("/") or "/") in UNAUTHENTICATED


async def _sweeper(engine: Engine, store: BlobStore, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            report = await run_in_threadpool(sweep_once, engine, store)
            SWEEPS.labels("ok").inc()
            if any(
                vars_
                for vars_ in (
                    report.uploads_expired,
                    report.recordings_expired,
                    report.objects_deleted,
                )
            ):
                log.info("sweep", extra={"report": report.__repr__()})
        except Exception as exc:
            SWEEPS.labels("error").inc()
            log.warning("sweep failed", extra={"error": type(exc).__name__})


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    store: BlobStore | None = None,
    check_schema: bool = True,
) -> FastAPI:
    logs.configure(settings.log_level)
    engine = engine or make_engine(settings.effective_database_url)
    enable_secure_delete(engine)
    if check_schema:
        ensure_schema(engine, settings.effective_database_url, auto_migrate=settings.auto_migrate)
    if store is None:
        store = open_blobstore(
            settings, presign_base_url=settings.public_url.rstrip("/") + "/blobs"
        )
        if settings.auto_migrate and isinstance(store, S3BlobStore):
            store.ensure_bucket()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = None
        if settings.sweeper_enabled:
            task = asyncio.create_task(_sweeper(engine, store, settings.sweeper_interval_s))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="camvault storage service",
        version=API_VERSION,
        description="Ciphertext store of camvault: sites, devices, recordings. "
        "Every /v1 request is signed (RFC 9421 HTTP Message Signatures, Ed25519); "
        "see docs/API.md.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    serve_api_docs(app)
    app.state.settings = settings
    app.state.engine = engine
    app.state.store = store
    app.state.commits = CommitSignal()
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    add_rate_limit(
        app, settings, rate_limited, error_body(Reason.RATE_LIMITED, "too many requests")
    )
    app.add_middleware(
        AccessLog, name="camvault.storage.access", unrouted={BLOB_PREFIX: "/blobs/{key}"}
    )
    return app


def create_app_from_env() -> FastAPI:
    """The uvicorn factory (``storage_service.app:create_app_from_env``)."""
    return create_app(Settings())
