"""Server-sent events (HTML Living Standard, "Server-sent events"): the wire encoding.

Streams poll the database (the API is stateless and may run as several workers or
replicas), so an event reaches a subscriber within ``sse_poll_interval_s``.
"""

from __future__ import annotations

EVENT_STREAM = "text/event-stream"
#: Response headers of every stream: no caching, no proxy buffering.
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def sse_event(event: str, data: str, event_id: str | None) -> bytes:
    """One event; ``data`` is one line of JSON (no CR or LF inside)."""
    if "\n" in data or "\r" in data or "\n" in event or "\r" in event:
        raise ValueError("SSE fields must be single lines")
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


def sse_comment(text: str) -> bytes:
    return f": {text}\n\n".encode()
