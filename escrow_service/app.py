"""The custodian's application: ``create_app`` wires settings, database, keys, log, opener,
services, routes and error handlers, and runs the notice deliverer while it serves.

docs/ESCROW.md "HTTP API" documents every route. Errors are always
``{"error": {"code": <reason>, "message": ...}}`` with the status of
:func:`escrow_service.api.errors.http_status`; bad input never gives a 500.
"""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from common import logs
from common.access import AccessLog
from common.apidocs import serve_api_docs
from common.ratelimit import add_rate_limit
from common.time import now_ms
from escrow_service.api.errors import error_body, install_error_handlers
from escrow_service.api.routes import (
    custodian,
    devices,
    log,
    notices,
    operators,
    ops,
    releases,
    sites,
)
from escrow_service.core.errors import Reason
from escrow_service.core.keys import load_or_create
from escrow_service.core.settings import CORS_MAX_AGE_S, CORS_REQUEST_HEADERS, EscrowSettings
from escrow_service.db import make_engine, stored_log_size, upgrade
from escrow_service.db.migrate import is_current
from escrow_service.services.escrow import EscrowService
from escrow_service.services.notify import Notifier
from escrow_service.services.opener import Opener
from escrow_service.services.tlog_store import LogStore

logger = logging.getLogger("camvault.escrow")

ROUTERS: tuple[APIRouter, ...] = (
    custodian.router,
    ops.router,
    sites.router,
    devices.router,
    operators.router,
    releases.router,
    log.router,
    notices.router,
)

#: Routes whose requests are signed by a registered key and checked by the route (a release is
#: logged even when refused): not rate limited. Every other route is, per client address.
SIGNED_ROUTES = re.compile(
    r"/v1/releases|/v1/sites/[^/]+/(?:settings|notices|log-entries|alarm-closes)"
)


#: Probed by load balancers and scraped by Prometheus: never rate limited.
OPERATIONS = frozenset({"/healthz", "/readyz", "/metrics"})


def rate_limited(method: str, path: str) -> bool:
    """Whether a request takes a token of its client's bucket (unauthenticated routes)."""
    return path not in OPERATIONS and SIGNED_ROUTES.fullmatch(path) is None


def create_app(settings: EscrowSettings | None = None) -> FastAPI:
    settings = settings or EscrowSettings()
    logs.configure(settings.log_level)
    url = settings.effective_database_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            upgrade(url)
        engine = make_engine(url)
        if not is_current(engine, url):
            raise RuntimeError("escrow database schema is not current: run the migrations")
        keys = load_or_create(
            settings.data_dir, settings.custodian_id, log_size=stored_log_size(url)
        )
        logstore = LogStore(engine, keys)
        logstore.refresh()
        opener = Opener(
            keys.escrow_key,
            workers=settings.crypto_workers,
            parallel_threshold=settings.parallel_threshold,
            hybrid_key=keys.hybrid_key,
        )
        service = EscrowService(engine, keys, settings, logstore, opener, now_ms)
        app.state.service = service
        if settings.authorities is None:
            logger.warning(
                "CAMVAULT_ESCROW_PUBLIC_AUTHORITY is not set: request signatures made for "
                "another custodian's address are not refused"
            )
        notifier = Notifier(engine, service, settings)
        notifier.start()
        # Everything allocated so far (modules, app, engine, keys) lives as long as the
        # process: move it out of the collector's sight, so that a full collection triggered
        # by a big request scans only what requests allocated (it was a 40-60 ms pause, the
        # tail of single-release latency).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            notifier.stop()
            opener.close()
            engine.dispose()

    app = FastAPI(title="camvault key custodian", lifespan=lifespan, docs_url=None, redoc_url=None)
    serve_api_docs(app)
    app.state.settings = settings
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    add_rate_limit(
        app, settings, rate_limited, error_body(Reason.RATE_LIMITED, "too many requests")
    )
    if settings.cors_origin_list:
        # The web app (served by the storage service, another origin) calls the custodian
        # from the browser. CORS only lets the browser show it the answers: every request is
        # still signed and checked as from the CLI (@authority stays this custodian's own),
        # no cookie or credential is involved. Outside the rate limit, so that its refusal
        # (429) reaches the page too; inside the access log, which sees the preflights.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=list(CORS_REQUEST_HEADERS),
            allow_credentials=False,
            max_age=CORS_MAX_AGE_S,
        )
    app.add_middleware(AccessLog, name="camvault.escrow.access")
    return app


def create_app_from_env() -> FastAPI:
    """The uvicorn factory (``escrow_service.app:create_app_from_env``)."""
    return create_app(EscrowSettings())
