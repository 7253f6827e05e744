"""Releases: the release protocol (docs/ESCROW.md "Release"). Every request is logged, refusals
included: the size check, the signature and the body are checked inside the protocol."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from escrow_service.api.deps import AuthDep, RawBodyDep, ServiceDep, SettingsDep, too_large
from escrow_service.api.errors import refusal_response
from escrow_service.core.auth import Caller
from escrow_service.schemas.release import ReleaseIn
from escrow_service.schemas.requests import ReleaseBody, decode_release, documented

router = APIRouter(prefix="/v1/releases", tags=["releases"])


@router.post("", openapi_extra=documented(ReleaseBody))
def release(
    body: RawBodyDep, auth: AuthDep, service: ServiceDep, settings: SettingsDep
) -> JSONResponse:
    """Release the shares of the listed recordings, sealed to the session key, under the
    alarm or consent given; the outcome is logged before it is answered."""

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
