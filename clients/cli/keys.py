"""Device keys of the camera and the panel: made by `keygen`, read by the commands."""

from __future__ import annotations

from pathlib import Path

import typer

from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import KeyFormatError


def write_device_key(out: Path) -> None:
    """Write a new Ed25519 device key to ``out`` (mode 0600, never over an existing file)
    and print its public key, to enroll."""
    if out.exists():
        raise typer.BadParameter(f"{out} exists; refusing to overwrite a device key")
    key = Ed25519SigningKey.generate()
    out.touch(mode=0o600)
    out.write_text(key.to_text() + "\n")
    typer.echo(key.public_key.to_text())


def read_key(path: Path) -> Ed25519SigningKey:
    """A signing key file, or a usage error naming it."""
    try:
        return Ed25519SigningKey.from_text(path.read_text().strip())
    except (OSError, KeyFormatError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from None
