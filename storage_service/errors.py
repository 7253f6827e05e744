"""The storage service's errors: one table from machine-readable reason codes to HTTP status.

Services raise :class:`ApiError` with a code from :data:`STATUS`; the handlers installed by
:func:`install_error_handlers` turn it, FastAPI's request validation errors, Starlette's HTTP
errors and HTTP signature refusals into one JSON shape::

    {"error": {"code": "manifest_chain_broken", "message": "..."}}

Bad input never produces a 500: anything unexpected is logged and answered as
``internal_error`` without details.
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

log = logging.getLogger("camvault.storage")

#: Every reason code the service returns, with its HTTP status.
STATUS: dict[str, int] = {
    # 400: well-formed JSON that is wrong as a request
    "invalid_cursor": 400,
    "invalid_range": 400,
    # 401: who is asking could not be established
    "signature_missing": 401,
    "signature_malformed": 401,
    "signature_params_invalid": 401,
    "signature_alg_unsupported": 401,
    "signature_component_missing": 401,
    "signature_expired": 401,
    "signature_clock_skew": 401,
    "signature_invalid": 401,
    "content_digest_missing": 401,
    "content_digest_malformed": 401,
    "content_digest_mismatch": 401,
    "unknown_key": 401,
    "replayed_request": 401,
    "wrong_authority": 401,
    # 403: known principal, not allowed
    "wrong_site": 403,
    "wrong_principal": 403,
    "device_revoked": 403,
    "presigned_url_refused": 403,
    # 404 / 405 / 410
    "not_found": 404,
    "site_not_found": 404,
    "device_not_found": 404,
    "upload_not_found": 404,
    "recording_not_found": 404,
    "method_not_allowed": 405,
    "recording_deleted": 410,
    "upload_expired": 410,
    # 409: conflicts with what is stored
    "site_exists": 409,
    "site_keys_conflict": 409,
    "device_conflict": 409,
    "upload_conflict": 409,
    "recording_committed": 409,
    "recording_conflict": 409,
    "manifest_chain_broken": 409,
    "operator_conflict": 409,
    # 411 / 413 / 415
    "length_required": 411,
    "body_too_large": 413,
    "recording_too_large": 413,
    "header_too_large": 413,
    "unsupported_media_type": 415,
    # 422: the request is understood but its content is refused
    "validation_error": 422,
    "statement_invalid": 422,
    "statement_signature_invalid": 422,
    "site_keys_invalid": 422,
    "device_invalid": 422,
    "operator_invalid": 422,
    "manifest_mismatch": 422,
    "header_malformed": 422,
    "header_hash_mismatch": 422,
    "object_missing": 422,
    "object_size_mismatch": 422,
    "object_hash_mismatch": 422,
    "multipart_invalid": 422,
    # alarms, consents, telemetry, notifications (issue 4, items 6-9)
    "role_not_allowed": 403,
    "no_justification": 403,
    "alarm_not_found": 404,
    "consent_request_not_found": 404,
    "consent_not_found": 404,
    "alarm_conflict": 409,
    "counter_not_increasing": 409,
    "alarm_state_conflict": 409,
    "consent_conflict": 409,
    "consent_request_decided": 409,
    "inbox_conflict": 409,
    "payload_too_large": 413,
    "alarm_invalid": 422,
    "alarm_not_fresh": 422,
    "consent_invalid": 422,
    "notice_invalid": 422,
    "smart_alert_invalid": 422,
    # 5xx: our side
    "internal_error": 500,
    "not_configured": 503,
    "store_unavailable": 503,
    "database_unavailable": 503,
}


def _doc(description: str) -> dict[str, Any]:
    from storage_service.schemas import ErrorBody

    return {"model": ErrorBody, "description": description}


#: OpenAPI documentation of the error responses every /v1 route may give.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _doc("signature refused (signature_* , content_digest_*, unknown_key, replayed_request)"),
    403: _doc("wrong_site, wrong_principal, device_revoked"),
    404: _doc("not found"),
    409: _doc("conflicts with what is stored"),
    413: _doc("body_too_large, recording_too_large, header_too_large"),
    415: _doc("unsupported_media_type: bodies are application/json"),
    422: _doc("validation_error and refused content (statements, manifest, header, object)"),
    503: _doc("store_unavailable, database_unavailable, not_configured"),
}


class ApiError(Exception):
    """A refusal with a reason code from :data:`STATUS` and a human-readable message."""

    def __init__(self, code: str, message: str, *, details: Any = None) -> None:
        if code not in STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS[self.code]


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    return {"error": err}


def error_response(code: str, message: str, details: Any = None) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Signature realm="camvault"'} if STATUS[code] == 401 else None
    return JSONResponse(error_body(code, message, details), STATUS[code], headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for e in exc.errors()[:20]:
        # "input" may echo whatever the client sent; keep location, type and message only.
        out.append({"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")})
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        request.state.error_code = exc.code
        return error_response(exc.code, exc.message, exc.details)

    @app.exception_handler(HttpSignatureError)
    async def _sig_error(request: Request, exc: HttpSignatureError) -> JSONResponse:
        request.state.error_code = exc.reason
        return error_response(exc.reason, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        request.state.error_code = "validation_error"
        return error_response("validation_error", "request is invalid", _validation_details(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "validation_error" if exc.status_code < 500 else "internal_error"
        )
        request.state.error_code = code
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(BlobStoreError)
    async def _store_error(request: Request, exc: BlobStoreError) -> JSONResponse:
        if isinstance(exc, ObjectNotFound):
            code, message = "not_found", "object not found"
        elif isinstance(exc, StoreUnavailable | AuthenticationError | BucketNotFound):
            log.error("object store unavailable", extra={"error": type(exc).__name__})
            code, message = "store_unavailable", "the object store is unavailable"
        else:
            log.error("object store error", extra={"error": type(exc).__name__})
            code, message = "internal_error", "object store error"
        request.state.error_code = code
        return error_response(code, message)

    @app.exception_handler(OperationalError)
    async def _db_error(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable", extra={"error": type(exc.orig).__name__})
        request.state.error_code = "database_unavailable"
        return error_response("database_unavailable", "the database is unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", extra={"path": request.url.path})
        request.state.error_code = "internal_error"
        return error_response("internal_error", "internal error")
