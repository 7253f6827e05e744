"""`camvault serve witness`: run one witness (C2SP tlog-witness) for the custodians' logs.

The `camvault` entry point adds it to its `serve` group with :func:`register_serve`. Options
not given come from ``CAMVAULT_WITNESS_*`` variables; the key is created in the data
directory on first start and its verifier key printed (what custodians and clients configure).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer


def _fail(message: str) -> NoReturn:
    typer.echo(f"camvault: error: {message}", err=True)
    sys.exit(2)


def witness(
    name: Annotated[str | None, typer.Option(help="the witness's key name")] = None,
    log: Annotated[
        list[str] | None,
        typer.Option("--log", help="verifier key of a log to follow (repeat for several)"),
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8300,
    data_dir: Annotated[
        Path | None, typer.Option(help="key and SQLite DB (camvault-data/witness)")
    ] = None,
) -> None:
    """Run a witness: cosigns custodians' checkpoints after checking they extend what it saw."""
    from common.config import ConfigError, ensure_dir, load
    from witness_service.__main__ import serve
    from witness_service.keys import WitnessKeyError, load_or_create
    from witness_service.settings import WitnessSettings

    if name is not None:
        os.environ["CAMVAULT_WITNESS_NAME"] = name
    if log:
        os.environ["CAMVAULT_WITNESS_LOGS"] = ",".join(log)
    if data_dir is not None:
        os.environ["CAMVAULT_WITNESS_DATA_DIR"] = str(data_dir)
    try:
        settings = load(WitnessSettings)
        ensure_dir(settings.data_dir, "--data-dir")
        signer = load_or_create(settings.data_dir, settings.name)
    except (ConfigError, WitnessKeyError) as exc:
        _fail(str(exc))
    typer.echo(f"witness_key: {signer.verifier.to_text()}", err=True)
    if not settings.logs:
        typer.echo("warning: no log configured (--log): every checkpoint is refused", err=True)
    serve(host, port)


def register_serve(app: typer.Typer) -> None:
    """Add `witness` to the `camvault serve` group."""
    app.command("witness")(witness)
