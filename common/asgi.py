"""What RFC 9421 components see of a request that reached a FastAPI/Starlette service."""

from __future__ import annotations

from starlette.requests import Request

from crypto.httpsig import HttpRequest, request_from_asgi


def http_request(request: Request) -> HttpRequest:
    """The request as signed: raw path and query bytes as they came over the wire."""
    return request_from_asgi(
        request.method,
        request.headers.raw,
        request.scope.get("raw_path") or request.url.path.encode(),
        request.scope.get("query_string", b""),
    )
