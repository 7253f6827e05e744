"""The `camvault` command line. Commands stay thin: parse, call the library, render.

Command groups are imported only when they are used: `camvault encrypt` must not pay for
importing the HTTP clients, OpenCV or SQLAlchemy that other groups need (start-up time is
part of every CLI run; see docs/PERFORMANCE.md). ``build_app()`` with no argument (and the
module attribute ``app``) gives the complete application, for `--help` and for tests.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

#: sub-command name -> module whose ``app`` implements it
GROUPS = {
    "db": "clients.dbcli",
    "serve": "clients.servecli",
    "customer": "clients.customercli",
    "operator": "clients.operatorcli",
    "camera": "clients.cameracli",
    "panel": "clients.panelcli",
}
#: top-level commands that mirror age (clients.agecli)
AGE_COMMANDS = ("keygen", "encrypt", "decrypt")


def build_app(command: str | None = None) -> typer.Typer:
    """The application, with every group, or only what ``command`` needs."""
    root = typer.Typer(
        name="camvault",
        help="End-to-end encrypted storage for security cameras.",
        no_args_is_help=True,
        add_completion=False,
    )
    wanted = [command] if command in GROUPS or command in AGE_COMMANDS else None
    for name, module in GROUPS.items():
        if wanted is None or name in wanted:
            root.add_typer(importlib.import_module(module).app, name=name)
    if wanted is None or command in AGE_COMMANDS:
        importlib.import_module("clients.agecli").register(root)
    return root


def __getattr__(name: str) -> Any:
    if name == "app":
        return build_app()
    raise AttributeError(name)


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else None
    build_app(command)()
