"""The storage service's commands: `camvault db ...` (schema migrations),
`camvault serve storage|sweep` (the API, one sweeper pass), `camvault admin fsck` (a
read-only consistency check of the database and the object store) and `camvault admin
s3-setup` (the MinIO bucket and least-privilege user of a deployment).

The `camvault` entry point (camvault/cli.py) mounts ``db_app`` as `db` and adds the serve
and admin commands with :func:`register_serve` and :func:`register_admin`. The service
modules are imported inside the commands: `camvault encrypt` and the other client commands
do not pay for SQLAlchemy and uvicorn.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from storage_service.blobstore import BlobStore
    from storage_service.core.settings import Settings

db_app = typer.Typer(
    help="Storage-service database schema (Alembic migrations).", no_args_is_help=True
)

UrlOption = Annotated[
    str | None, typer.Option("--url", help="SQLAlchemy URL (default: CAMVAULT_DATABASE_URL)")
]


DATABASE_SETTING = "CAMVAULT_DATABASE_URL"


def _settings() -> Settings:
    """The settings, checked, with the embedded data directory made when it is used."""
    from common.config import ensure_dir, load
    from storage_service.core.settings import Settings

    settings = load(Settings)
    if settings.database_url is None or settings.blobstore == "local":
        ensure_dir(settings.data_dir, "CAMVAULT_DATA_DIR")
    return settings


def _target(url: str | None) -> str:
    """``--url`` (checked like the setting), else the configured database."""
    if url is None:
        return _settings().effective_database_url
    from pydantic import TypeAdapter, ValidationError

    from common.config import ConfigError, DatabaseUrl

    try:
        TypeAdapter(DatabaseUrl).validate_python(url)
    except ValidationError as exc:
        why = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"--url: {why}") from None
    return url


@contextlib.contextmanager
def _revision_errors(revision: str) -> Iterator[None]:
    """A revision alembic does not know (or cannot reach from here) is one line, exit 2."""
    from alembic.util.exc import CommandError

    from common.config import ConfigError

    try:
        yield
    except CommandError as exc:
        raise ConfigError(f"revision {revision!r}: {exc}") from None


@db_app.command("upgrade")
def upgrade_cmd(revision: str = "head", url: UrlOption = None) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from common.config import startup_errors
    from storage_service.db import upgrade

    with startup_errors(DATABASE_SETTING), _revision_errors(revision):
        upgrade(_target(url), revision)
    typer.echo(f"database at revision {revision}")


@db_app.command("downgrade")
def downgrade_cmd(revision: str, url: UrlOption = None) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    from common.config import startup_errors
    from storage_service.db import downgrade

    with startup_errors(DATABASE_SETTING), _revision_errors(revision):
        downgrade(_target(url), revision)
    typer.echo(f"database at revision {revision}")


def storage(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the storage service API (settings from CAMVAULT_* variables)."""
    from common.config import startup_errors
    from storage_service.db import SchemaOutdated
    from storage_service.server import serve

    try:
        with startup_errors(DATABASE_SETTING):  # the app's own errors are answered inside it
            serve(host, port, workers, _settings())
    except SchemaOutdated as exc:
        typer.echo(f"camvault: error: {exc}", err=True)
        sys.exit(2)


def sweep() -> None:
    """Run the sweeper once: expire uploads, apply retention, remove queued objects."""
    from common.config import startup_errors
    from storage_service.db import SchemaOutdated
    from storage_service.server import sweep as run

    try:
        with startup_errors(DATABASE_SETTING):
            report = run(_settings())
        typer.echo(json.dumps(report))
    except SchemaOutdated as exc:
        typer.echo(f"camvault: error: {exc}", err=True)
        sys.exit(2)


def register_serve(app: typer.Typer) -> None:
    """Add `storage` and `sweep` to the `camvault serve` group."""
    app.command("storage")(storage)
    app.command("sweep")(sweep)


def _fail(message: str) -> NoReturn:
    typer.echo(f"camvault: error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def _open_site() -> tuple[Engine, BlobStore]:
    """The configured database and object store, refusing to create either (read-only)."""
    from pydantic import ValidationError
    from sqlalchemy.engine import make_url

    from storage_service.blobstore import open_blobstore
    from storage_service.core.settings import Settings
    from storage_service.db.engine import make_engine
    from storage_service.db.migrate import ensure_schema

    try:
        settings = Settings()
    except ValidationError as exc:
        _fail(f"bad configuration: {exc}")
    url = settings.effective_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        _fail(f"no database at {parsed.database} (CAMVAULT_DATABASE_URL, CAMVAULT_DATA_DIR)")
    if settings.blobstore == "local" and not settings.effective_blob_dir.is_dir():
        _fail(f"no object store at {settings.effective_blob_dir} (CAMVAULT_BLOB_DIR)")
    engine = make_engine(url)
    ensure_schema(engine, url, auto_migrate=False)
    return engine, open_blobstore(settings)


def fsck(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False,
) -> None:
    """Check the storage database against the object store (read-only; never repairs).

    One line per problem, then a summary. Exit 0: consistent; 1: problems found; 2: the
    configuration (CAMVAULT_* settings, as for `camvault serve storage`) is unusable."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage_service.blobstore import BlobStoreError
    from storage_service.db import SchemaOutdated
    from storage_service.services.fsck import check

    try:
        engine, store = _open_site()
        try:
            report = check(engine, store)
        finally:
            engine.dispose()
    except (SchemaOutdated, BlobStoreError, SQLAlchemyError, OSError) as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    typer.echo(report.render(as_json))
    sys.exit(1 if report.problems else 0)


def s3_setup(
    noncurrent_days: Annotated[
        int,
        typer.Option(
            "--noncurrent-days",
            min=1,
            max=3650,
            help="days an overwritten or deleted payload's old version is kept",
        ),
    ] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False,
) -> None:
    """Set up MinIO for the storage service: bucket, versioning, lifecycle, its user.

    Idempotent: each step changes only what differs (a second run changes nothing). Makes the
    bucket CAMVAULT_S3_BUCKET with versioning; a lifecycle rule expiring noncurrent versions
    after --noncurrent-days and lone delete markers; MinIO's api stale_uploads_expiry at most
    24h (MinIO does not implement AbortIncompleteMultipartUpload); the policy
    <bucket>-storage (objects and multipart uploads of that bucket only: old versions can be
    neither deleted nor read, no bucket administration); and the user CAMVAULT_S3_ACCESS_KEY (secret
    CAMVAULT_S3_SECRET_KEY) with that policy only. Connects to CAMVAULT_S3_ENDPOINT as
    CAMVAULT_S3_ADMIN_ACCESS_KEY / CAMVAULT_S3_ADMIN_SECRET_KEY (MinIO's root user). Secrets
    come only from the environment or .env (in the image: Docker secret files), never options.

    Object lock is not enabled, and a bucket with it is refused: a locked version cannot be
    deleted by anyone until its retention ends, and customers' deletions and retention must
    remove payloads. Versioning with a user that cannot delete versions protects recordings
    from stolen storage credentials without that conflict.

    Exit 0: set up; 2: a setting is missing or wrong, or the store refused or is unreachable."""
    from common.config import ConfigError, load
    from storage_service.blobstore.provision import S3SetupSettings, SetupError, setup

    try:
        report = setup(load(S3SetupSettings), noncurrent_days=noncurrent_days)
    except (ConfigError, SetupError) as exc:
        _fail(str(exc))
    typer.echo(report.render(as_json))


def s3_heal(
    timeout: Annotated[
        float, typer.Option(min=1, max=86400, help="seconds to wait for MinIO to finish")
    ] = 600,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False,
) -> None:
    """Ask MinIO to heal the bucket after a node or drive came back, and wait until it is done.

    A node that was down misses the writes made meanwhile (MinIO acknowledges a write once a
    quorum of drives has it); MinIO's own healing of them can take a long while. Run this
    once the node is back: it heals every object of CAMVAULT_S3_BUCKET (missing or outdated
    shards rebuilt, nothing removed) through MinIO's admin API on CAMVAULT_S3_ENDPOINT, as
    CAMVAULT_S3_ADMIN_ACCESS_KEY / CAMVAULT_S3_ADMIN_SECRET_KEY. If it heals nothing right
    after a restart (the other nodes have not seen the drive again yet), run it again.

    Exit 0: healed (prints objects scanned and healed); 1: MinIO reported the heal failed;
    2: a setting is missing or wrong, or MinIO refused or is unreachable."""
    from rich.console import Console

    from common.config import ConfigError, load
    from storage_service.blobstore.heal import HealReport, HealSettings, heal_bucket
    from storage_service.blobstore.provision import SetupError

    console = Console(stderr=True)
    try:
        settings = load(HealSettings)
        with console.status("healing", spinner="dots") as status:

            def progress(report: HealReport) -> None:
                status.update(f"healing: {report.scanned} scanned, {report.healed} healed")

            report = heal_bucket(settings, timeout_s=timeout, on_progress=progress)
    except (ConfigError, SetupError) as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        typer.echo(
            f"heal {report.summary}: {report.scanned} scanned, {report.healed} healed"
            + (f" ({report.detail})" if report.detail else "")
        )
    if report.summary != "finished":
        sys.exit(1)


def register_admin(app: typer.Typer) -> None:
    """Add `fsck`, `s3-setup` and `s3-heal` to the `camvault admin` group."""
    app.command("fsck")(fsck)
    app.command("s3-setup", help=_paragraphs(s3_setup.__doc__ or ""))(s3_setup)
    app.command("s3-heal", help=_paragraphs(s3_heal.__doc__ or ""))(s3_heal)


def _paragraphs(doc: str) -> str:
    """A docstring as --help shows it best: each paragraph one line, which the terminal wraps
    (Typer's rich help keeps the docstring's own line breaks)."""
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n"))
