"""`camvault db ...`: schema migrations of the storage service database."""

from __future__ import annotations

from typing import Annotated

import typer

from storage_service.db import downgrade, upgrade
from storage_service.settings import get_settings

app = typer.Typer(
    help="Storage-service database schema (Alembic migrations).", no_args_is_help=True
)

UrlOption = Annotated[
    str | None, typer.Option("--url", help="SQLAlchemy URL (default: CAMVAULT_DATABASE_URL)")
]


@app.command("upgrade")
def upgrade_cmd(revision: str = "head", url: UrlOption = None) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    target = url or get_settings().effective_database_url
    upgrade(target, revision)
    typer.echo(f"database at revision {revision}")


@app.command("downgrade")
def downgrade_cmd(revision: str, url: UrlOption = None) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    target = url or get_settings().effective_database_url
    downgrade(target, revision)
    typer.echo(f"database at revision {revision}")
