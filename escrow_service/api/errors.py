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


#: Statuses the framework answers itself (``_http`` below): unknown route, wrong method.
_FRAMEWORK_STATUSES = {404: (Reason.NOT_FOUND,), 405: (Reason.MALFORMED_REQUEST,)}

#: The error body, as documented in the OpenAPI document; a refused release adds its outcome
#: members next to ``error`` (docs/ESCROW.md).
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "enum": [r.value for r in Reason]},
                "message": {"type": "string"},
            },
        }
    },
}


def error_statuses() -> dict[int, list[Reason]]:
    """Each refusal status with its reason codes (500 is a defect, never documented)."""
    by_status: dict[int, list[Reason]] = {}
    pairs = [(r, http_status(r)) for r in Reason]
    pairs += [(r, s) for s, reasons in _FRAMEWORK_STATUSES.items() for r in reasons]
    for reason, status in pairs:
        if status != 500 and reason not in by_status.get(status, []):
            by_status.setdefault(status, []).append(reason)
    return dict(sorted(by_status.items()))


def _document_errors(app: FastAPI) -> None:
    """Every operation of the OpenAPI document gets the error responses with their reason
    codes; FastAPI's own 422 goes (validation errors are answered 400 malformed_request)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        ref = {"$ref": "#/components/schemas/Error"}
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, reasons in error_statuses().items():
                    responses.setdefault(
                        str(status),
                        {
                            "description": ", ".join(r.value for r in reasons),
                            "content": {"application/json": {"schema": ref}},
                        },
                    )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    _document_errors(app)

    @app.exception_handler(Refusal)
    async def _refusal(request: Request, exc: Refusal) -> JSONResponse:
        request.state.error_code = exc.reason.value  # for the access log and metrics
        return refusal_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = validation_message(list(exc.errors())) or "invalid request"
        request.state.error_code = Reason.MALFORMED_REQUEST.value
        return refusal_response(Refusal(Reason.MALFORMED_REQUEST, message))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = Reason.NOT_FOUND if exc.status_code == 404 else Reason.MALFORMED_REQUEST
        return JSONResponse(error_body(reason, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return JSONResponse(error_body(Reason.INTERNAL_ERROR, "internal error"), status_code=500)
