"""The witness's HTTP application: ``POST /add-checkpoint`` (C2SP tlog-witness), ``GET
/witness`` (its name, verifier key and the logs it follows), ``GET /healthz``."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from common import logs
from common.access import AccessLog
from witness_service.keys import load_or_create
from witness_service.settings import WitnessSettings
from witness_service.store import Store, make_engine
from witness_service.witness import Witness


def create_app(settings: WitnessSettings | None = None) -> FastAPI:
    settings = settings or WitnessSettings()
    logs.configure(settings.log_level)
    signer = load_or_create(settings.data_dir, settings.name)
    store = Store(make_engine(settings.effective_database_url))
    witness = Witness(signer, settings.log_verifiers(), store, lambda: int(time.time()))
    app = FastAPI(title="camvault witness", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.witness = witness

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_body_bytes:
                return Response(
                    "bad_request: request body too large\n", 413, media_type="text/plain"
                )
        answer = await run_in_threadpool(witness.add_checkpoint, body)
        return Response(answer.body, answer.status, media_type=answer.content_type)

    @app.get("/witness")
    def info() -> JSONResponse:
        return JSONResponse(
            {
                "name": signer.name,
                "verifier_key": signer.verifier.to_text(),
                "logs": sorted(witness.logs),
            }
        )

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app.add_middleware(AccessLog, name="camvault.witness")
    return app


def create_app_from_env() -> FastAPI:
    return create_app(WitnessSettings())
