"""Server-sent event streams of the storage service (an alarm's live feed, the inbox),
parsed with ``httpx-sse``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

# The decoder, not EventSource: the stream is read line by line so that the deadline is
# also checked on the keepalive comments, which dispatch no event.
from httpx_sse._decoders import SSEDecoder

from clients.api.errors import check
from common.bodies import loads
from common.http import SignedClient


def iter_events(
    client: SignedClient, path: str, timeout_s: float, *, service: str = "storage"
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(event name, JSON data)`` of each event of ``GET path`` until the stream ends or
    ``timeout_s`` has passed. A refusal raises :class:`~clients.api.errors.ServiceRefused`;
    events without data (a keepalive after an event id) are skipped."""
    resp = client.send(client.build("GET", path), stream=True)
    try:
        if resp.status_code != 200:
            resp.read()
            check(resp, service)
        decoder = SSEDecoder()
        deadline = time.monotonic() + timeout_s
        for line in resp.iter_lines():
            if time.monotonic() > deadline:
                return
            event = decoder.decode(line)
            if event is not None and event.data:
                yield event.event or "message", loads(event.data)
    finally:
        resp.close()
