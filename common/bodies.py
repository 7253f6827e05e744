"""Request bodies within a size limit, and JSON that cannot exhaust the stack.

A body whose ``Content-Length`` is over the limit is refused before any of it is read; a body
without one (chunked) is read with a running count and refused as soon as the count passes
the limit, so no more than ``limit`` bytes (plus one chunk) are ever held.

:func:`loads` is :func:`json.loads` for untrusted input: nesting deep enough to exhaust the
interpreter's recursion limit (``[`` two thousand times) is a :class:`JsonError` like any
other malformed JSON, never a ``RecursionError``; with ``max_depth`` it also refuses JSON
nested deeper than that, so code walking the value recursively later cannot fail.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Iterable
from typing import Any


class BodyTooLarge(Exception):  # noqa: N818 (a refusal, not a bug)
    """The request body is larger than the limit."""


class JsonError(ValueError):
    """Not JSON, or nested too deeply."""


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The request's ``Content-Length``, or None when it has none (chunked).

    Raises ValueError when it is not a decimal number (HTTP servers refuse that already)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            if not value.isdigit():
                raise ValueError("Content-Length is not a number")
            return int(value)
    return None


def check_length(headers: Iterable[tuple[bytes, bytes]], limit: int) -> None:
    """Raise :class:`BodyTooLarge` when the declared length is over ``limit``."""
    length = declared_length(headers)
    if length is not None and length > limit:
        raise BodyTooLarge(f"request body over {limit} bytes")


async def read_capped(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """The whole body of ``chunks``; raises :class:`BodyTooLarge` as soon as it passes
    ``limit`` (the rest is not read)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body over {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def nesting_exceeds(value: object, max_depth: int) -> bool:
    """Whether arrays and objects in ``value`` nest deeper than ``max_depth`` (iterative)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children: Iterable[object]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return True
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def nested_too_deeply(data: bytes, max_depth: int) -> bool:
    """Whether ``data`` is JSON nested deeper than ``max_depth`` (or too deeply to parse);
    False for anything else, JSON or not."""
    try:
        return nesting_exceeds(json.loads(data), max_depth)
    except RecursionError:
        return True
    except ValueError:
        return False


def loads(data: bytes | str, *, max_depth: int | None = None) -> Any:
    """``json.loads(data)``; raises :class:`JsonError` for anything that is not JSON, JSON
    nested too deeply to parse, or (with ``max_depth``) nested deeper than ``max_depth``."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonError("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonError(f"not JSON: {exc}") from None
    if max_depth is not None and nesting_exceeds(value, max_depth):
        raise JsonError(f"JSON nested deeper than {max_depth}")
    return value
