"""The API's error responses: every refusal, whatever raised it, as one JSON shape::

    {"error": {"code": "manifest_chain_broken", "message": "..."}}

with the status of its reason code (:data:`storage_service.core.errors.STATUS`). Handled here:
:class:`ApiError` from the services, HTTP signature refusals (``crypto.httpsig``, whose
reasons are codes of the same enum), FastAPI's request validation errors, Starlette's HTTP
errors, object-store and database failures. Bad input never produces a 500: anything
unexpected is logged and answered as ``internal_error`` without details.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crypto.httpsig import HttpSignatureError
from storage_service.blobstore import (
    AuthenticationError,
    BlobStoreError,
    BucketNotFound,
    ObjectNotFound,
    StoreUnavailable,
)
from storage_service.core.errors import STATUS, ApiError, Reason
from storage_service.schemas.base import ErrorBody

log = logging.getLogger("camvault.storage")


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: What Starlette and FastAPI answer themselves (a body that is not JSON is 400
#: ``validation_error``; see ``_http`` below), beside the statuses of the reason codes.
_FRAMEWORK_REFUSALS: dict[int, tuple[Reason, ...]] = {400: (Reason.VALIDATION_ERROR,)}


def _error_responses() -> dict[int | str, dict[str, Any]]:
    """Every refusal status with its reason codes, from :data:`STATUS` itself (500 is not
    documented: it is a defect, never an answer to bad input)."""
    by_status: dict[int, list[Reason]] = {}
    for reason, status in [
        *STATUS.items(),
        *((r, s) for s, reasons in _FRAMEWORK_REFUSALS.items() for r in reasons),
    ]:
        if status != 500 and reason not in by_status.get(status, []):
            by_status.setdefault(status, []).append(reason)
    return {
        status: _doc(", ".join(str(r) for r in reasons))
        for status, reasons in sorted(by_status.items())
    }


#: OpenAPI documentation of the error responses every /v1 route may give: each status with
#: its reason codes, the body ``{"error": {"code", "message", "details"?}}``.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = _error_responses()


def replayed(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    """The 200 of a creating route whose request came again (same statement, same upload):
    nothing new is created and the answer is what the first request created."""
    return {200: {"model": model, "description": "the same request again: what it created"}}


#: The reason code of a Starlette HTTP error raised by the framework itself.
_HTTP_REASONS = {
    404: Reason.NOT_FOUND,
    405: Reason.METHOD_NOT_ALLOWED,
    413: Reason.BODY_TOO_LARGE,
}


def error_body(code: Reason, message: str, details: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": str(code), "message": message}
    if details is not None:
        err["details"] = details
    return {"error": err}


def error_response(code: Reason, message: str, details: Any = None) -> JSONResponse:
    status = STATUS[code]
    headers = {"WWW-Authenticate": 'Signature realm="camvault"'} if status == 401 else None
    return JSONResponse(error_body(code, message, details), status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for e in exc.errors()[:20]:
        # "input" may echo whatever the client sent; keep location, type and message only.
        out.append({"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")})
    return out


def _first_problem(details: list[dict[str, Any]]) -> str:
    """The message of a refused request: which field, which rule (``path alarm_id: String
    should have at least 16 characters``); the others are in ``details``."""
    if not details:
        return "request is invalid"
    loc = [str(part) for part in details[0]["loc"]]
    where = " ".join([loc[0], ".".join(loc[1:])] if len(loc) > 1 else loc)
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{where}: {details[0]['msg']}{more}"


def _store_reason(exc: BlobStoreError) -> tuple[Reason, str]:
    if isinstance(exc, ObjectNotFound):
        return Reason.NOT_FOUND, "object not found"
    if isinstance(exc, StoreUnavailable | AuthenticationError | BucketNotFound):
        log.error("object store unavailable", extra={"error": type(exc).__name__})
        return Reason.STORE_UNAVAILABLE, "the object store is unavailable"
    log.error("object store error", extra={"error": type(exc).__name__})
    return Reason.INTERNAL_ERROR, "object store error"


def _refuse(request: Request, code: Reason, message: str, details: Any = None) -> JSONResponse:
    request.state.error_code = code
    return error_response(code, message, details)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _refuse(request, exc.code, exc.message, exc.details)

    @app.exception_handler(HttpSignatureError)
    async def _sig_error(request: Request, exc: HttpSignatureError) -> JSONResponse:
        return _refuse(request, Reason(exc.reason), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        return _refuse(request, Reason.VALIDATION_ERROR, _first_problem(details), details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_REASONS.get(
            exc.status_code,
            Reason.VALIDATION_ERROR if exc.status_code < 500 else Reason.INTERNAL_ERROR,
        )
        request.state.error_code = code
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(BlobStoreError)
    async def _store_error(request: Request, exc: BlobStoreError) -> JSONResponse:
        return _refuse(request, *_store_reason(exc))

    @app.exception_handler(OperationalError)
    async def _db_error(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable", extra={"error": type(exc.orig).__name__})
        return _refuse(request, Reason.DATABASE_UNAVAILABLE, "the database is unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", extra={"path": request.url.path})
        return _refuse(request, Reason.INTERNAL_ERROR, "internal error")
