"""`camvault arc`: the alarm-receiving centre's own key. Its public half is configured on the
storage service (CAMVAULT_ARC_PUBLIC_KEY) and the custodians (CAMVAULT_ESCROW_ARC_PUBLIC_KEY);
with the private half the ARC administrator signs operator registrations
(`camvault operator register --arc-key`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clients.cli.keys import write_device_key

app = typer.Typer(help="The alarm-receiving centre's signing key.", no_args_is_help=True)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", "-o", help="key file to create (mode 0600)")],
) -> None:
    """Make the ARC's Ed25519 key; prints the public key for the services' settings."""
    write_device_key(out, "an ARC key")
