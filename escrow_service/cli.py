"""`camvault serve escrow --id N`: run one key custodian.

The `camvault` entry point (camvault/cli.py) adds it to its `serve` group with
:func:`register_serve`; the service modules are imported when the command runs. Settings
not given as options come from ``CAMVAULT_ESCROW_*`` variables; the keys are created in the
data directory on first start and the public half is printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def escrow(
    custodian_id: Annotated[str, typer.Option("--id", help="custodian id, as listed in SiteKeys")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8100,
    workers: Annotated[
        int, typer.Option(min=1, help="uvicorn workers (PostgreSQL only; SQLite needs 1)")
    ] = 1,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="keys and SQLite DB (camvault-data/escrow-<id>)"),
    ] = None,
) -> None:
    """Run one key custodian: release API, transparency log, notices."""
    from crypto.errors import StatementError
    from crypto.metadata import check_id
    from escrow_service.__main__ import serve
    from escrow_service.core.keys import load_or_create
    from escrow_service.core.settings import EscrowSettings

    try:
        check_id(custodian_id, "--id")
    except StatementError as exc:
        raise typer.BadParameter(str(exc)) from None
    os.environ["CAMVAULT_ESCROW_CUSTODIAN_ID"] = custodian_id
    directory = data_dir or Path("camvault-data") / f"escrow-{custodian_id}"
    os.environ["CAMVAULT_ESCROW_DATA_DIR"] = str(directory)
    settings = EscrowSettings()
    if workers > 1 and settings.effective_database_url.startswith("sqlite"):
        raise typer.BadParameter("several workers need PostgreSQL (CAMVAULT_ESCROW_DATABASE_URL)")
    keys = load_or_create(settings.data_dir, custodian_id)
    for name, value in keys.public_info().items():
        if value is not None:
            typer.echo(f"{name}: {value}", err=True)
    serve(host, port, workers)


def register_serve(app: typer.Typer) -> None:
    """Add `escrow` to the `camvault serve` group."""
    app.command("escrow")(escrow)
