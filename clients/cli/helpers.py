"""What the customer and operator command groups share: the error console, one-line
failures with exit status 1, the time options (parse and print), and the custodians'
acknowledgements of a statement sent to all of them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.table import Table

from clients.api.errors import ClientError
from clients.api.escrow import Ack
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
        fail(network_error(exc))


def network_error(exc: httpx.HTTPError) -> str:
    """Which service could not be reached, and why: ``cannot reach http://host:port (...)``."""
    try:
        url = exc.request.url
    except RuntimeError:  # an error raised before a request existed
        return f"network: {exc}"
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        reason = f"no answer in time ({type(exc).__name__})"
    return f"cannot reach {url.scheme}://{url.netloc.decode()} ({url.path}): {reason}"


#: `--json` of the list commands: the items as the services give them, full ids, on stdout.
JsonOpt = Annotated[
    bool, typer.Option("--json", help="print the items as one JSON document (full ids)")
]


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def new_table(title: str, *columns: str, ids: tuple[str, ...] = ()) -> Table:
    """A table whose ``ids`` columns are never cut: a long id folds onto a second line rather
    than ending in "…" (ids are what the next command takes)."""
    table = Table(title=title)
    for name in columns:
        table.add_column(name, overflow="fold" if name in ids else "ellipsis")
    return table


def cell(value: object) -> str:
    """A table cell: "-" for a value the device or service did not report (not "None")."""
    return "-" if value is None else str(value)


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


def print_acks(console: Console, acks: list[Ack], what: str) -> None:
    """One line per custodian; exit status 1 when any did not acknowledge (sending again is
    safe: the custodians take the same statement once)."""
    for a in acks:
        mark = "[green]acknowledged[/green]" if a.acknowledged else "[red]NOT acknowledged[/red]"
        console.print(f"custodian {a.custodian_id}: {mark} ({a.status})")
    missing = [a.custodian_id for a in acks if not a.acknowledged]
    if missing:
        fail(f"not {what} at custodian(s) {', '.join(missing)}: run the command again")
