"""How both services run under uvicorn: limits against slow or oversized requests.

uvicorn bounds the size of a request's headers (``h11_max_incomplete_event_size``) and closes
idle keep-alive connections (``timeout_keep_alive``), but waits forever for the headers of a
request that trickles in a byte at a time, or for a body that stops arriving (slowloris).
:class:`GuardedH11Protocol` adds the two timeouts: the headers of a request must be complete
within :data:`HEADER_TIMEOUT_S` of its first byte (of the connection, for the first request),
and while a body is incomplete no more than :data:`BODY_IDLE_TIMEOUT_S` may pass without any
of it arriving; otherwise the connection is closed. docs/OPERATIONS.md lists the values.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from pydantic import Field
from pydantic_settings import BaseSettings
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
BODY_IDLE_TIMEOUT_S = 30.0
PROTOCOL = "common.serving:GuardedH11Protocol"
"""The ``http`` option of ``uvicorn.run`` (an import string: it also works with workers)."""


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a body idle timeout."""

    header_timeout_s = HEADER_TIMEOUT_S
    body_idle_timeout_s = BODY_IDLE_TIMEOUT_S
    _timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _watch(self) -> None:
        """Arm the timer the client's state calls for: headers (a deadline from the first
        byte of the request), body (re-armed at each read), none once the request is complete
        (an idle keep-alive connection is uvicorn's ``timeout_keep_alive``)."""
        if self.transport is None or self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._timer is None:
                self._timer = self.loop.call_later(self.header_timeout_s, self._expired)
        elif state is h11.SEND_BODY:
            self._cancel()
            self._timer = self.loop.call_later(self.body_idle_timeout_s, self._expired)
        else:
            self._cancel()

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY and self.flow.read_paused:
            self._watch()  # the application has not taken what arrived yet: not the client
            return
        if state in (h11.IDLE, h11.SEND_BODY):
            self.logger.info("closing a connection: request too slow")
            self.transport.close()


class ServingSettings(BaseSettings):
    """Settings both services share (each service's subclass gives them its env prefix): the
    rate limit of unauthenticated requests and the limits of the HTTP server."""

    rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        description="unauthenticated requests per second per client address (0: no limit)",
    )
    rate_limit_burst: int = Field(
        default=500, ge=1, description="unauthenticated requests a client address may burst"
    )
    http_max_header_bytes: int = Field(
        default=16 * 1024, ge=4096, description="largest request line and headers (uvicorn h11)"
    )
    http_keep_alive_s: int = Field(
        default=5, ge=1, le=300, description="idle keep-alive connections are closed after this"
    )
    http_max_connections: int | None = Field(
        default=1000, ge=1, description="requests beyond this many connections are answered 503"
    )

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments of ``uvicorn.run`` bounding what a client may hold of the server."""
        return {
            "http": PROTOCOL,
            "h11_max_incomplete_event_size": self.http_max_header_bytes,
            "timeout_keep_alive": self.http_keep_alive_s,
            "limit_concurrency": self.http_max_connections,
        }
