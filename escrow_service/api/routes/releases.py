"""Releases: the release protocol (docs/ESCROW.md "Release"). Every request is logged, refusals
included: the size check, the signature and the body are checked inside the protocol."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from escrow_service.api.deps import RequestAuth, bounded_body, too_large
from escrow_service.api.errors import refusal_response
from escrow_service.core.auth import Caller
from escrow_service.core.settings import EscrowSettings
from escrow_service.schemas.release import ReleaseIn
from escrow_service.schemas.requests import ReleaseBody, decode_release, documented
from escrow_service.services.escrow import EscrowService

router = APIRouter(prefix="/v1/releases", tags=["releases"])


@router.post("", openapi_extra=documented(ReleaseBody))
async def release(request: Request) -> JSONResponse:
    """Release the shares of the listed recordings, sealed to the session key, under the
    alarm or consent given; the outcome is logged before it is answered."""
    # The request's parts are taken here rather than as FastAPI dependencies: resolving four
    # dependencies per request was an eighth of the custodian's CPU at 50 releases/s.
    service: EscrowService = request.app.state.service
    settings: EscrowSettings = request.app.state.settings
    body = await bounded_body(request, settings)
    auth = RequestAuth(request, service, settings)
    return await run_in_threadpool(_release, body, auth, service, settings)


def _release(
    body: bytes | None, auth: RequestAuth, service: EscrowService, settings: EscrowSettings
) -> JSONResponse:
    """The release protocol, in a worker thread (it does database and crypto work)."""

    def within_limit() -> bytes:
        if body is None:  # not read: refused before the signature is looked at
            raise too_large(settings)
        return body

    def authenticated() -> Caller:
        return auth.caller(within_limit())

    def decoded() -> ReleaseIn:
        return decode_release(within_limit())

    outcome = service.releases.release(auth.claimed_operator(), authenticated, decoded)
    # Encoded here, in the worker thread: a 1,800-item response takes ~5 ms.
    payload = outcome.to_json(service.keys.custodian_id)
    if outcome.refusal is not None:
        return refusal_response(outcome.refusal, **payload)
    return JSONResponse(payload)
