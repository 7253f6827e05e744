"""`camvault serve ...`: run the storage service, or one sweeper pass."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from clients import escrowcli

app = typer.Typer(help="Run camvault services.", no_args_is_help=True)
escrowcli.register(app)


@app.command("storage")
def storage(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the storage service API (settings from CAMVAULT_* variables)."""
    from storage_service.schema import SchemaOutdated
    from storage_service.server import serve

    try:
        serve(host, port, workers)
    except SchemaOutdated as exc:
        typer.echo(f"camvault: {exc}", err=True)
        sys.exit(2)


@app.command("sweep")
def sweep() -> None:
    """Run the sweeper once: expire uploads, apply retention, remove queued objects."""
    from storage_service.schema import SchemaOutdated
    from storage_service.server import sweep as run

    try:
        typer.echo(json.dumps(run()))
    except SchemaOutdated as exc:
        typer.echo(f"camvault: {exc}", err=True)
        sys.exit(2)
