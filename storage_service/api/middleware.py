"""ASGI middleware: request body limit, metrics and the access log."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage_service.api.errors import error_body
from storage_service.core.errors import STATUS, Reason
from storage_service.core.metrics import LATENCY, REFUSALS, REQUESTS

log = logging.getLogger("camvault.storage.access")
BLOB_PREFIX = "/blobs/"


async def _reply(send: Send, code: Reason, message: str, status: int | None = None) -> None:
    """Answer with the error body of ``code`` (and its status unless ``status`` is given)."""
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": STATUS[code] if status is None else status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse API request bodies larger than ``limit`` with 413 ``body_too_large`` before the
    application reads them (``/blobs/`` uploads have their own limit)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(BLOB_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                # a malformed Content-Length is a 400, not the 422 of a refused body
                await _reply(send, Reason.VALIDATION_ERROR, "bad Content-Length", status=400)
                return
            if int(length) > self.limit:
                await _reply(send, Reason.BODY_TOO_LARGE, f"request body over {self.limit} bytes")
                return
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read up to the limit, then replay.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _reply(send, Reason.BODY_TOO_LARGE, f"request body over {self.limit} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class AccessLog:
    """One JSON log line and the metrics per request (route template, never the raw path's
    query string, never headers or bodies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                LATENCY.labels(scope["method"], _route(scope)).observe(time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            state: dict[str, Any] = scope.get("state", {})
            code = state.get("error_code")
            if code:
                REFUSALS.labels(code).inc()
            principal = state.get("principal")
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": STATUS[code] if status is None else status,
                    "ms": round((time.perf_counter() - start) * 1000, 1),
                    "code": code,
                    "keyid": getattr(principal, "keyid", None),
                },
            )


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "/blobs/{key}" if scope.get("path", "").startswith(BLOB_PREFIX) else "unmatched"
