"""How the services run under uvicorn: limits against slow or oversized requests.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``), and with h11 bounds the
size of a request's headers (``h11_max_incomplete_event_size``), but waits forever for the
headers of a request that trickles in a byte at a time, or for a body that stops arriving
(slowloris). The protocols here add the two timeouts: the headers of a request must be
complete within :data:`HEADER_TIMEOUT_S` of its first byte (of the connection, for the first
request), and while a body is incomplete no more than :data:`BODY_IDLE_TIMEOUT_S` may pass
without any of it arriving; otherwise the connection is closed. docs/OPERATIONS.md lists the
values.

The services run :class:`GuardedHttpToolsProtocol` (uvicorn's httptools protocol: the C
parser llhttp), which also enforces the header size limit itself (uvicorn's httptools
protocol has none: 400 and close once the bytes received before the end of the headers pass
it). :class:`GuardedH11Protocol` is the same on uvicorn's pure-Python h11 protocol.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from pydantic import Field
from pydantic_settings import BaseSettings
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 10.0
#: The header size limit when none is configured (h11's own default).
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
BODY_IDLE_TIMEOUT_S = 30.0
PROTOCOL = "common.serving:GuardedHttpToolsProtocol"
"""The ``http`` option of ``uvicorn.run`` (an import string: it also works with workers)."""


class _SlowRequestGuard:
    """The two timers, for a uvicorn protocol class that says which part of a request it is
    reading (:meth:`_reading`): "head" (from its first byte, or the connection's, until its
    headers are complete), "body" (until it is complete), or None (the request is complete;
    an idle keep-alive connection is uvicorn's ``timeout_keep_alive``)."""

    header_timeout_s = HEADER_TIMEOUT_S
    body_idle_timeout_s = BODY_IDLE_TIMEOUT_S
    _timer: asyncio.TimerHandle | None = None
    # Of the uvicorn protocol this is mixed into.
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    flow: FlowControl
    logger: logging.Logger

    def _reading(self) -> str | None:
        raise NotImplementedError

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _watch(self) -> None:
        """Arm the timer the request's part calls for: headers (a deadline from the first
        byte), body (re-armed at each read), none once the request is complete."""
        if self.transport is None or self.transport.is_closing():
            return
        reading = self._reading()
        if reading == "head":
            if self._timer is None:
                self._timer = self.loop.call_later(self.header_timeout_s, self._expired)
        elif reading == "body":
            self._cancel()
            self._timer = self.loop.call_later(self.body_idle_timeout_s, self._expired)
        else:
            self._cancel()

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        reading = self._reading()
        if reading == "body" and self.flow.read_paused:
            self._watch()  # the application has not taken what arrived yet: not the client
            return
        if reading is not None:
            self.logger.info("closing a connection: request too slow")
            self.transport.close()


class GuardedH11Protocol(_SlowRequestGuard, H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a body idle timeout."""

    def _reading(self) -> str | None:
        state = self.conn.their_state
        return "head" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.trailing_data[0]:  # part of a pipelined request is already here
            self._watch()


class GuardedHttpToolsProtocol(_SlowRequestGuard, HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a body idle timeout and a limit
    on the size of a request's headers (``h11_max_incomplete_event_size``, the same setting
    as with h11)."""

    _phase: str | None = "head"  # what _reading() returns; None: request complete
    _head_bytes = 0

    def _reading(self) -> str | None:
        return self._phase

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._watch()

    def data_received(self, data: bytes) -> None:
        if self._phase is None:  # the next request starts (or is pipelined)
            self._phase, self._head_bytes = "head", 0
        if self._phase == "head":
            self._head_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES
        if self._phase == "head" and self._head_bytes > limit:
            self.send_400_response("Request headers too large.")
            return
        self._watch()

    def on_message_begin(self) -> None:
        self._phase = "head"  # a pipelined request may begin in the data of the one before
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._phase = "body"
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = None
        self._cancel()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)


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
        default=DEFAULT_MAX_HEADER_BYTES, ge=4096, description="largest request line and headers"
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
