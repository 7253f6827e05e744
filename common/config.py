"""Start-up configuration, checked before anything starts, and its errors as one line.

A service that starts with a bad setting should stop at once and say which setting and why
(``camvault: error: CAMVAULT_BLOBSTORE: should be 'local' or 's3', not 'nfs'``, exit 2),
not print a traceback, and not say "ready" and fail at the first request that needs the
setting. The checks of settings that both services share are annotated types here
(:data:`LogLevel`, :data:`DatabaseUrl`, :data:`Ed25519PublicText`, :data:`OriginList`);
:func:`startup_errors` turns what can still go wrong while starting (the database unreachable,
a data directory that cannot be made) into the same one line.
"""

from __future__ import annotations

import contextlib
import logging
import re
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


#: Exact web origins (a CSP source list, a CORS allow-list): scheme, host, port only.
_ORIGIN_RE = re.compile(
    r"(?P<scheme>https?)://(?P<host>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?",
    re.IGNORECASE,
)


def origin(item: str) -> str:
    """``item`` as a browser's Origin header spells it (lower case, no default port), or
    ValueError saying why not. Strict: nothing but scheme, host and port can get through
    (the value ends up in a header: a CSP source list, an allow-origin)."""
    m = _ORIGIN_RE.fullmatch(item)
    if m is None:
        if not re.match(r"https?://", item, re.IGNORECASE):
            raise ValueError(f"{item!r} is not an http(s) origin (https://host[:port])")
        raise ValueError(
            f"{item!r} is not an origin (https://host[:port] only: no path, query, user or space)"
        )
    scheme, host = m["scheme"].lower(), m["host"].lower()
    port = int(m["port"]) if m["port"] else None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{item!r} is not an origin: port {port} (1-65535)")
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def origins(value: str) -> str:
    """A comma-separated list of exact origins, normalized (lower case, no default port)."""
    items = [i.strip() for i in value.split(",") if i.strip()]
    if "*" in items:
        raise ValueError("'*' is not allowed: list the exact origins (https://host[:port])")
    return ",".join(dict.fromkeys(origin(i) for i in items))


OriginList = Annotated[str, AfterValidator(origins)]
