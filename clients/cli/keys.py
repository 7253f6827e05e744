"""Device keys of the camera and the panel: made by `keygen`, read by the commands."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from clients.cli.helpers import fail
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import KeyFormatError


def write_device_key(out: Path, what: str = "a device key") -> None:
    """Write a new Ed25519 signing key to ``out`` and print its public key, to enroll.
    The file is created 0600 in one step (never readable by others, not even for a moment)
    and never over an existing file."""
    key = Ed25519SigningKey.generate()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{out} exists; refusing to overwrite {what}")
    except OSError as exc:
        fail(f"{out}: {exc.strerror}")
    with os.fdopen(fd, "w") as fh:
        fh.write(key.to_text() + "\n")
    typer.echo(key.public_key.to_text())


def read_key(path: Path) -> Ed25519SigningKey:
    """A signing key file, or a usage error naming it."""
    try:
        return Ed25519SigningKey.from_text(path.read_text().strip())
    except (OSError, KeyFormatError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from None
