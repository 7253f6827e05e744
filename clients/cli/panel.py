"""`camvault panel ...`: raise (and, with the customer's key, cancel) alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from crypto.ed25519 import Ed25519SigningKey

app = typer.Typer(help="The alarm panel.", no_args_is_help=True, add_completion=False)


def _key(path: Path) -> Ed25519SigningKey:
    from crypto.ed25519 import Ed25519SigningKey
    from crypto.errors import KeyFormatError

    try:
        return Ed25519SigningKey.from_text(path.read_text().strip())
    except (OSError, KeyFormatError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from None


@app.command()
def keygen(out: Annotated[Path, typer.Option("--out", "-o")]) -> None:
    """Make the panel's Ed25519 device key; prints the public key to enroll."""
    from crypto.ed25519 import Ed25519SigningKey

    if out.exists():
        raise typer.BadParameter(f"{out} exists; refusing to overwrite a device key")
    key = Ed25519SigningKey.generate()
    out.touch(mode=0o600)
    out.write_text(key.to_text() + "\n")
    typer.echo(key.public_key.to_text())


@app.command()
def trigger(
    url: Annotated[str, typer.Option(help="storage service URL")],
    site: Annotated[str, typer.Option(help="site id")],
    panel: Annotated[str, typer.Option(help="panel (device) id")],
    key: Annotated[Path, typer.Option(help="panel signing key file")],
    state: Annotated[Path, typer.Option(help="counter state file")],
    alarm_type: Annotated[str, typer.Option("--type", help="intrusion, fire, panic, ...")] = (
        "intrusion"
    ),
) -> None:
    """Sign an AlarmEvent and post it; prints the stored alarm as JSON."""
    from clients.panel import PanelError
    from clients.panel import trigger as do_trigger
    from crypto.statements import AlarmType

    try:
        kind = AlarmType(alarm_type)
    except ValueError:
        raise typer.BadParameter(f"--type must be one of {[t.value for t in AlarmType]}") from None
    try:
        alarm = do_trigger(url, site, panel, _key(key), state, kind)
    except PanelError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps({k: alarm[k] for k in ("alarm_id", "event_id", "state", "counter")}))


@app.command()
def cancel(
    url: Annotated[str, typer.Option(help="storage service URL")],
    site: Annotated[str, typer.Option(help="site id")],
    panel: Annotated[str, typer.Option(help="panel that raised the alarm")],
    event_id: Annotated[str, typer.Option(help="the alarm's event id")],
    customer_key: Annotated[Path, typer.Option(help="the customer's site signing key")],
) -> None:
    """Cancel an alarm with a customer-signed AlarmCancel."""
    from clients.panel import PanelError
    from clients.panel import cancel as do_cancel

    try:
        alarm = do_cancel(url, site, panel, event_id, _key(customer_key))
    except PanelError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps({"alarm_id": alarm["alarm_id"], "state": alarm["state"]}))
