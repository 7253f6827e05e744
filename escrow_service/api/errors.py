"""Reason codes to HTTP, in one place: the status of each code and the handlers that turn every
error into ``{"error": {"code": <reason>, "message": ...}}`` (docs/ESCROW.md "Reason codes").

Bad input never gives a 500: anything unexpected is logged and answered as ``internal_error``
without details.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from escrow_service.core.errors import Reason, Refusal
from escrow_service.schemas.requests import validation_message

log = logging.getLogger("camvault.escrow")

#: HTTP status of each request-level reason; every other code is 403 (refused).
STATUS: dict[Reason, int] = {
    Reason.MALFORMED_REQUEST: 400,
    Reason.MALFORMED_JUSTIFICATION: 400,
    Reason.BAD_SESSION_KEY: 400,
    Reason.INVALID_RANGE: 400,
    Reason.BAD_REQUEST_SIGNATURE: 401,
    Reason.OPERATOR_NOT_REGISTERED: 401,
    Reason.REPLAYED_REQUEST: 401,
    Reason.WRONG_AUTHORITY: 401,
    Reason.NOT_FOUND: 404,
    Reason.STATEMENT_CONFLICT: 409,
    Reason.PIN_MISMATCH: 409,
    Reason.BATCH_TOO_LARGE: 413,
    Reason.RATE_LIMITED: 429,
    Reason.INTERNAL_ERROR: 500,
    Reason.ARC_KEY_NOT_CONFIGURED: 503,
}
REFUSED = 403


def http_status(reason: Reason) -> int:
    return STATUS.get(reason, REFUSED)


def error_body(reason: Reason, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": reason.value, "message": message}, **extra}


def refusal_response(r: Refusal, **extra: Any) -> JSONResponse:
    """The error response of a refusal; ``extra`` members are added (a release's outcome).
    A body refused for its size may not have been read: the connection is closed after the
    answer rather than kept for a next request."""
    headers = {"Connection": "close"} if r.reason is Reason.BATCH_TOO_LARGE else None
    return JSONResponse(
        error_body(r.reason, r.message, **extra),
        status_code=http_status(r.reason),
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def _refusal(_: Request, exc: Refusal) -> JSONResponse:
        return refusal_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message = validation_message(list(exc.errors())) or "invalid request"
        return refusal_response(Refusal(Reason.MALFORMED_REQUEST, message))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = Reason.NOT_FOUND if exc.status_code == 404 else Reason.MALFORMED_REQUEST
        return JSONResponse(error_body(reason, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return JSONResponse(error_body(Reason.INTERNAL_ERROR, "internal error"), status_code=500)
