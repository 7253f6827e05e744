"""The `camvault` command line. Commands stay thin: parse, call the library, render."""

from __future__ import annotations

import typer

from clients import agecli, cameracli, customercli, dbcli, operatorcli, panelcli, servecli

app = typer.Typer(
    name="camvault",
    help="End-to-end encrypted storage for security cameras.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(dbcli.app, name="db")
app.add_typer(servecli.app, name="serve")
app.add_typer(customercli.app, name="customer")
app.add_typer(operatorcli.app, name="operator")
app.add_typer(cameracli.app, name="camera")
app.add_typer(panelcli.app, name="panel")
agecli.register(app)


def main() -> None:
    app()
