"""Start-up configuration, checked before anything starts, and its errors as one line.

A service that starts with a bad setting should stop at once and say which setting and why
(``camvault: error: CAMVAULT_BLOBSTORE: should be 'local' or 's3', not 'nfs'``, exit 2),
not print a traceback, and not say "ready" and fail at the first request that needs the
setting. The checks of settings that both services share are annotated types here
(:data:`LogLevel`, :data:`DatabaseUrl`, :data:`Ed25519PublicText`); :func:`startup_errors`
turns what can still go wrong while starting (the database unreachable, a data directory that
cannot be made) into the same one line.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

from pydantic import AfterValidator, ValidationError
from pydantic_settings import BaseSettings

from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import CryptoError

S = TypeVar("S", bound=BaseSettings)


class ConfigError(Exception):
    """A setting that cannot work; the message names it (``CAMVAULT_...: why``)."""


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in logging.getLevelNamesMapping() or level == "NOTSET":
        raise ValueError("should be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return level


def _database_url(value: str | None) -> str | None:
    if value is None:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(
            "not a database URL (postgresql+psycopg://user@host/db or sqlite:///path)"
        ) from None
    if url.get_backend_name() not in ("postgresql", "sqlite"):
        raise ValueError(f"unsupported database {url.get_backend_name()!r} (PostgreSQL, SQLite)")
    return value


def _ed25519_public(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        Ed25519PublicKey.from_text(value.strip())
    except (CryptoError, ValueError):
        raise ValueError("not an Ed25519 public key (ed25519:...)") from None
    return value.strip()


LogLevel = Annotated[str, AfterValidator(_log_level)]
DatabaseUrl = Annotated[str | None, AfterValidator(_database_url)]
Ed25519PublicText = Annotated[str | None, AfterValidator(_ed25519_public)]


def describe(exc: ValidationError, prefix: str) -> str:
    """The first problem of ``exc`` as ``PREFIX_SETTING: why (got 'value')``. Values of
    secret settings are never shown."""
    first = exc.errors(include_url=False)[0]
    name = f"{prefix}{str(first['loc'][0]).upper()}" if first["loc"] else prefix.rstrip("_")
    why = str(first["msg"]).removeprefix("Value error, ")
    shown = first.get("input")
    secret = any(s in name for s in ("SECRET", "PASSWORD", "KEY")) and "PUBLIC" not in name
    got = f" (got {shown!r})" if isinstance(shown, str | int | float) and not secret else ""
    more = len(exc.errors()) - 1
    return f"{name}: {why}{got}" + (f"; and {more} more" if more else "")


def load(cls: type[S]) -> S:
    """The settings, or :class:`ConfigError` naming the first bad one."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        raise ConfigError(describe(exc, prefix)) from None


def ensure_dir(path: Path, setting: str) -> None:
    """Make the data directory a setting names, or :class:`ConfigError` saying why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot create {path}: {exc.strerror}") from None


def check_database(url: str) -> None:
    """Connect once, so an unreachable database is said before the service starts (the
    error is turned into one line by :func:`startup_errors`)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def fail(message: str) -> NoReturn:
    print(f"camvault: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)


@contextlib.contextmanager
def startup_errors(database_setting: str) -> Iterator[None]:
    """One line and exit status 2 for what stops a service from starting: a bad setting, a
    database it cannot reach (named by ``database_setting``), a directory it cannot make."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except ConfigError as exc:
        fail(str(exc))
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        fail(f"{database_setting}: cannot connect to the database: {reason}")
    except OSError as exc:
        if exc.filename is None:
            raise
        fail(f"{exc.filename}: {exc.strerror}")
