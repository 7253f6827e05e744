"""What the customer and operator command groups share: the error console, one-line
failures with exit status 1, and the time options (parse and print)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import NoReturn

import httpx
import typer
from rich.console import Console

from clients.api.errors import ClientError
from crypto.errors import CryptoError

err_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]camvault: error:[/bold red] {message}")
    raise typer.Exit(1)


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """One line and exit status 1 for every expected failure (refusals keep their code)."""
    try:
        yield
    except (ClientError, CryptoError) as exc:
        fail(str(exc))
    except httpx.HTTPError as exc:
        fail(f"network: {exc}")


def parse_time(value: str | None) -> int | None:
    if value is None:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        fail(f"not a time: {value!r} (ms since epoch or ISO 8601)")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def fmt_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
