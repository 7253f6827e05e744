"""Per-client token buckets, and the ASGI middleware that answers 429 when a bucket is empty.

Each client address has a bucket of ``burst`` tokens refilled at ``rate`` tokens per second;
a request the middleware applies to takes one token, and without one it is answered 429 with
a ``Retry-After`` header (whole seconds until a token is back) and the service's error body.
The buckets live in the process (each uvicorn worker has its own) and at most ``max_clients``
addresses are tracked: beyond that the least recently seen one is forgotten (a forgotten
address starts again with a full bucket).

Which requests it applies to is the service's choice (its unauthenticated routes); the client
address is the peer of the TCP connection as the ASGI server reports it (behind a reverse
proxy, the proxy's address unless the server is told to trust forwarded headers).
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from common.serving import ServingSettings


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """Token buckets keyed by client address (not thread-safe: used from the event loop)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, client: str) -> float:
        """Take a token of ``client``'s bucket: 0.0 if there was one, else the seconds until
        one is back (nothing is taken then)."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


class RateLimit:
    """ASGI middleware: requests for which ``applies(method, path)`` is true take a token of
    their client's bucket; without one they are answered 429 with ``body`` (JSON)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: TokenBuckets,
        applies: Callable[[str, str], bool],
        body: bytes,
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.applies = applies
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client[0] if client else "")
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["error_code"] = "rate_limited"
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self.body)).encode()),
                    (b"retry-after", str(max(1, math.ceil(wait))).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def add_rate_limit(
    app: Starlette,
    settings: ServingSettings,
    applies: Callable[[str, str], bool],
    error: Mapping[str, Any],
) -> None:
    """Rate-limit the requests of ``app`` for which ``applies(method, path)`` is true, as
    ``settings`` say (nothing when ``rate_limit_per_s`` is 0); ``error`` is the body of 429."""
    if settings.rate_limit_per_s > 0:
        app.add_middleware(
            RateLimit,
            buckets=TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst),
            applies=applies,
            body=json.dumps(error).encode(),
        )
