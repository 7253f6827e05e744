"""`camvault db ...`: schema migrations of the storage service database."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="Storage-service database schema (Alembic migrations).", no_args_is_help=True
)

UrlOption = Annotated[
    str | None, typer.Option("--url", help="SQLAlchemy URL (default: CAMVAULT_DATABASE_URL)")
]


def _default_url() -> str:
    from storage_service.settings import get_settings

    return get_settings().effective_database_url


@app.command("upgrade")
def upgrade_cmd(revision: str = "head", url: UrlOption = None) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from storage_service.db import upgrade  # lazy: keeps `camvault encrypt` start-up fast

    target = url or _default_url()
    upgrade(target, revision)
    typer.echo(f"database at revision {revision}")


@app.command("downgrade")
def downgrade_cmd(revision: str, url: UrlOption = None) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    from storage_service.db import downgrade

    target = url or _default_url()
    downgrade(target, revision)
    typer.echo(f"database at revision {revision}")
