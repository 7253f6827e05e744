"""`camvault serve escrow --id N`: run one key custodian; `camvault admin fsck-custodian --id N`:
check its database (read-only).

The `camvault` entry point (camvault/cli.py) adds them to its `serve` and `admin` groups
with :func:`register_serve` and :func:`register_admin`; the service modules are imported
when a command runs. Settings not given as options come from ``CAMVAULT_ESCROW_*``
variables; `serve` creates the keys in the data directory on first start and prints the
public half.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer


def escrow(
    custodian_id: Annotated[str, typer.Option("--id", help="custodian id, as listed in SiteKeys")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8100,
    workers: Annotated[
        int, typer.Option(min=1, help="uvicorn workers (PostgreSQL only; SQLite needs 1)")
    ] = 1,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="keys and SQLite DB (camvault-data/escrow-<id>)"),
    ] = None,
) -> None:
    """Run one key custodian: release API, transparency log, notices."""
    from common.config import check_database, ensure_dir, load, startup_errors
    from crypto.errors import StatementError
    from crypto.metadata import check_id
    from escrow_service.__main__ import serve
    from escrow_service.core.keys import KeysMissingError, load_or_create
    from escrow_service.core.settings import EscrowSettings
    from escrow_service.db import schema_is_current, stored_log_size

    try:
        check_id(custodian_id, "--id")
    except StatementError as exc:
        raise typer.BadParameter(str(exc)) from None
    os.environ["CAMVAULT_ESCROW_CUSTODIAN_ID"] = custodian_id
    directory = data_dir or Path("camvault-data") / f"escrow-{custodian_id}"
    os.environ["CAMVAULT_ESCROW_DATA_DIR"] = str(directory)
    with startup_errors("CAMVAULT_ESCROW_DATABASE_URL"):
        settings = load(EscrowSettings)
        if workers > 1 and settings.effective_database_url.startswith("sqlite"):
            raise typer.BadParameter(
                "several workers need PostgreSQL (CAMVAULT_ESCROW_DATABASE_URL)"
            )
        ensure_dir(settings.data_dir, "--data-dir")
        check_database(settings.effective_database_url)
        if not settings.auto_migrate and not schema_is_current(settings.effective_database_url):
            _fail(
                "CAMVAULT_ESCROW_DATABASE_URL: the custodian's schema is not at the newest "
                "migration and CAMVAULT_ESCROW_AUTO_MIGRATE is false: start it once with "
                "CAMVAULT_ESCROW_AUTO_MIGRATE=true (the default), which applies the migrations"
            )
        try:
            keys = load_or_create(
                settings.data_dir,
                custodian_id,
                log_size=stored_log_size(settings.effective_database_url),
            )
        except KeysMissingError as exc:
            _fail(str(exc))
        for name, value in keys.public_info().items():
            if value is not None:
                typer.echo(f"{name}: {value}", err=True)
        serve(host, port, workers)


def register_serve(app: typer.Typer) -> None:
    """Add `escrow` to the `camvault serve` group."""
    app.command("escrow")(escrow)


def _fail(message: str) -> NoReturn:
    typer.echo(f"camvault: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def _read_checkpoints(paths: list[Path]) -> list[tuple[str, bytes]]:
    try:
        return [(str(p), p.read_bytes()) for p in paths]
    except OSError as exc:
        _fail(f"cannot read checkpoint: {exc}")


def fsck_custodian(
    custodian_id: Annotated[str, typer.Option("--id", help="custodian id, as listed in SiteKeys")],
    data_dir: Annotated[
        Path | None,
        typer.Option(help="keys and SQLite DB (camvault-data/escrow-<id>)"),
    ] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="a signed checkpoint of this log to check (repeatable)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False,
) -> None:
    """Check one custodian's log, notices and outbox (read-only; never repairs).

    One line per problem, then a summary. Exit 0: consistent; 1: problems found; 2: the
    configuration (options and CAMVAULT_ESCROW_* settings, as for `camvault serve
    escrow`) is unusable."""
    from pydantic import ValidationError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from crypto.errors import CryptoError
    from crypto.tlog import NoteSigner
    from escrow_service.core.settings import EscrowSettings
    from escrow_service.db.engine import make_engine
    from escrow_service.services.fsck import check

    directory = data_dir or Path("camvault-data") / f"escrow-{custodian_id}"
    os.environ["CAMVAULT_ESCROW_CUSTODIAN_ID"] = custodian_id
    os.environ["CAMVAULT_ESCROW_DATA_DIR"] = str(directory)
    try:
        settings = EscrowSettings()
    except ValidationError as exc:
        _fail(f"bad configuration: {exc}")
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        _fail(f"no custodian database at {url.database} (--data-dir, --id)")
    notes = _read_checkpoints(checkpoint or [])
    verifiers = []
    for name in ("log.key", "log.next.key") if notes else ():
        path = settings.data_dir / name
        if path.exists():
            try:
                verifiers.append(NoteSigner.from_text(path.read_text().strip()).verifier)
            except (CryptoError, ValueError, OSError) as exc:
                _fail(f"{path}: {exc}")
    if notes and not verifiers:
        _fail(f"no log key in {settings.data_dir} to verify checkpoints with")
    engine = make_engine(settings.effective_database_url)
    try:
        report = check(engine, origin=settings.origin, verifiers=verifiers, checkpoints=notes)
    except SQLAlchemyError as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    finally:
        engine.dispose()
    typer.echo(report.render(as_json))
    sys.exit(1 if report.problems else 0)


def register_admin(app: typer.Typer) -> None:
    """Add `fsck-custodian` to the `camvault admin` group."""
    app.command("fsck-custodian")(fsck_custodian)
