"""`camvault panel ...`: raise (and, with the customer's key, cancel) alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from clients.cli.keys import read_key, write_device_key

app = typer.Typer(help="The alarm panel.", no_args_is_help=True, add_completion=False)


@app.command()
def keygen(out: Annotated[Path, typer.Option("--out", "-o")]) -> None:
    """Make the panel's Ed25519 device key; prints the public key to enroll."""
    write_device_key(out)


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
        alarm = do_trigger(url, site, panel, read_key(key), state, kind)
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
        alarm = do_cancel(url, site, panel, event_id, read_key(customer_key))
    except PanelError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps({"alarm_id": alarm["alarm_id"], "state": alarm["state"]}))
