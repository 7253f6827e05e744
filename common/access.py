"""The access log and HTTP metrics of both services, as ASGI middleware.

One JSON log line per request (common/logs.py) with a request id, and the Prometheus
counters of common/metrics.py. The request id is the client's ``X-Request-Id`` when it is a
short token (a proxy's or a client's, so one request can be followed through several
services' logs), else a new random one; it is returned in the response's ``X-Request-Id``.
Logged: method, route template (never the path: it holds site and recording ids; never the
query string: presigned URLs carry signatures), status, duration, reason code, the signer's
keyid (a public identifier). Never headers, bodies, or anything secret.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.metrics import LATENCY, REFUSALS, REQUESTS

REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
#: The status logged for a request whose connection closed before any response (nginx's
#: convention): not a 500, which would count a client's disconnect as a server error.
CLIENT_CLOSED = 499


class AccessLog:
    """Log and count every HTTP request of ``app`` under the logger ``name``. Paths that no
    route matched are labelled by ``unrouted`` (prefix -> label), else ``unmatched``."""

    def __init__(self, app: ASGIApp, name: str, unrouted: dict[str, str] | None = None) -> None:
        self.app = app
        self.log = logging.getLogger(name)
        self.unrouted = unrouted or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = CLIENT_CLOSED  # until a response starts: the client may go away before
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
                LATENCY.labels(scope["method"], self._route(scope)).observe(
                    time.perf_counter() - start
                )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = self._route(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            state: dict[str, Any] = scope.get("state", {})
            code = state.get("error_code")
            if code:
                REFUSALS.labels(code).inc()
            principal = state.get("principal")
            self.log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "ms": round((time.perf_counter() - start) * 1000, 1),
                    "code": code,
                    "keyid": getattr(principal, "keyid", None),
                },
            )

    def _route(self, scope: Scope) -> str:
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            return path
        raw = str(scope.get("path", ""))
        return next((v for k, v in self.unrouted.items() if raw.startswith(k)), "unmatched")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id" and REQUEST_ID.fullmatch(value):
            return str(value.decode())
    return secrets.token_hex(8)
