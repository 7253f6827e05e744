"""ASGI middleware: the request body limit (the access log and metrics are
:class:`common.access.AccessLog`, the rate limit of unauthenticated routes
:class:`common.ratelimit.RateLimit`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.bodies import BodyTooLarge, check_length, nested_too_deeply, read_capped
from storage_service.api.errors import error_body
from storage_service.core.errors import STATUS, Reason

BLOB_PREFIX = "/blobs/"
MAX_JSON_DEPTH = 64
"""Deeper than any body of the API (a signed statement in a request is four levels)."""


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
                # the body may not have been read: do not keep the connection for another
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse API request bodies larger than ``limit`` with 413 ``body_too_large`` before the
    application reads them: by their Content-Length before reading any of it, or (chunked) as
    soon as what arrived passes the limit. A JSON body nested deeper than ``max_depth`` is
    refused as 400 ``validation_error``, the answer the framework gives JSON too deep for its
    parser, so that nothing after it walks such a value. ``/blobs/`` uploads have their own
    limit."""

    def __init__(self, app: ASGIApp, limit: int, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.limit = limit
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(BLOB_PREFIX):
            await self.app(scope, receive, send)
            return
        too_large = f"request body over {self.limit} bytes"
        try:
            check_length(scope["headers"], self.limit)
            body = await read_capped(_chunks(receive), self.limit)
        except ValueError:
            # a malformed Content-Length is a 400, not the 422 of a refused body
            await _reply(send, Reason.VALIDATION_ERROR, "bad Content-Length", status=400)
            return
        except BodyTooLarge:
            await _reply(send, Reason.BODY_TOO_LARGE, too_large)
            return
        except _Disconnected:
            return
        if body and nested_too_deeply(body, self.max_depth):
            message = f"JSON nested deeper than {self.max_depth}"
            await _reply(send, Reason.VALIDATION_ERROR, message, status=400)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class _Disconnected(Exception):  # noqa: N818
    """The client went away before its body was complete."""


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The body chunks of an ASGI request."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
