"""The storage service's commands: `camvault db ...` (schema migrations) and
`camvault serve storage|sweep` (the API, one sweeper pass).

The `camvault` entry point (camvault/cli.py) mounts ``db_app`` as `db` and adds the serve
commands with :func:`register_serve`. The service modules are imported inside the commands:
`camvault encrypt` and the other client commands do not pay for SQLAlchemy and uvicorn.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

db_app = typer.Typer(
    help="Storage-service database schema (Alembic migrations).", no_args_is_help=True
)

UrlOption = Annotated[
    str | None, typer.Option("--url", help="SQLAlchemy URL (default: CAMVAULT_DATABASE_URL)")
]


def _default_url() -> str:
    from storage_service.core.settings import get_settings

    return get_settings().effective_database_url


@db_app.command("upgrade")
def upgrade_cmd(revision: str = "head", url: UrlOption = None) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from storage_service.db import upgrade

    target = url or _default_url()
    upgrade(target, revision)
    typer.echo(f"database at revision {revision}")


@db_app.command("downgrade")
def downgrade_cmd(revision: str, url: UrlOption = None) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    from storage_service.db import downgrade

    target = url or _default_url()
    downgrade(target, revision)
    typer.echo(f"database at revision {revision}")


def storage(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the storage service API (settings from CAMVAULT_* variables)."""
    from storage_service.db import SchemaOutdated
    from storage_service.server import serve

    try:
        serve(host, port, workers)
    except SchemaOutdated as exc:
        typer.echo(f"camvault: {exc}", err=True)
        sys.exit(2)


def sweep() -> None:
    """Run the sweeper once: expire uploads, apply retention, remove queued objects."""
    from storage_service.db import SchemaOutdated
    from storage_service.server import sweep as run

    try:
        typer.echo(json.dumps(run()))
    except SchemaOutdated as exc:
        typer.echo(f"camvault: {exc}", err=True)
        sys.exit(2)


def register_serve(app: typer.Typer) -> None:
    """Add `storage` and `sweep` to the `camvault serve` group."""
    app.command("storage")(storage)
    app.command("sweep")(sweep)
