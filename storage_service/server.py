"""Run the storage service under uvicorn (``camvault serve storage``)."""

from __future__ import annotations

import dataclasses
import logging

import uvicorn

from common import logs
from storage_service.core.settings import Settings
from storage_service.db.engine import make_engine
from storage_service.db.migrate import ensure_schema

log = logging.getLogger("camvault.storage")


def serve(host: str, port: int, workers: int, settings: Settings | None = None) -> None:
    """Check (or, with ``auto_migrate``, apply) the schema once, then start ``workers``
    uvicorn processes of :func:`storage_service.app.create_app_from_env`."""
    settings = settings or Settings()
    logs.configure(settings.log_level)
    engine = make_engine(settings.effective_database_url)
    try:
        ensure_schema(engine, settings.effective_database_url, auto_migrate=settings.auto_migrate)
    finally:
        engine.dispose()
    log.info("starting", extra={"host": host, "port": port, "workers": workers})
    uvicorn.run(
        "storage_service.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # our AccessLog never writes query strings (presigned signatures)
        log_config=None,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        # Header size, keep-alive, connection count, header and body timeouts:
        # docs/OPERATIONS.md.
        **settings.uvicorn_options(),
    )


def sweep(settings: Settings | None = None) -> dict[str, int]:
    """One sweeper run outside the API (``camvault serve sweep``)."""
    from storage_service.blobstore import open_blobstore
    from storage_service.services.sweeper import sweep_once

    settings = settings or Settings()
    engine = make_engine(settings.effective_database_url)
    try:
        ensure_schema(engine, settings.effective_database_url, auto_migrate=False)
        report = sweep_once(engine, open_blobstore(settings))
    finally:
        engine.dispose()
    return dataclasses.asdict(report)
