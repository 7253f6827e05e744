"""The `camvault` command line: the client command groups (clients.cli) and the service
commands (storage_service.cli, escrow_service.cli) under one root.

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

#: sub-command name -> "module:attribute" of the Typer app that implements it
GROUPS = {
    "db": "storage_service.cli:db_app",
    "serve": None,
    "admin": None,
    "customer": "clients.cli.customer:app",
    "operator": "clients.cli.operator:app",
    "camera": "clients.cli.camera:app",
    "panel": "clients.cli.panel:app",
}
#: modules whose ``register_serve(app)`` adds their service to `camvault serve`
SERVE = ("storage_service.cli", "escrow_service.cli")
#: modules whose ``register_admin(app)`` adds their checks to `camvault admin`
ADMIN = SERVE
#: top-level commands that mirror age (clients.cli.age)
AGE_COMMANDS = ("keygen", "encrypt", "decrypt")


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def serve_app() -> typer.Typer:
    """`camvault serve`: one command per service."""
    app = typer.Typer(help="Run camvault services.", no_args_is_help=True)
    for module in SERVE:
        importlib.import_module(module).register_serve(app)
    return app


def admin_app() -> typer.Typer:
    """`camvault admin`: maintenance checks, one or more commands per service."""
    app = typer.Typer(help="Check camvault services' data (read-only).", no_args_is_help=True)
    for module in ADMIN:
        importlib.import_module(module).register_admin(app)
    return app


#: groups composed from several modules
COMPOSED = {"serve": serve_app, "admin": admin_app}


def build_app(command: str | None = None) -> typer.Typer:
    """The application, with every group, or only what ``command`` needs."""
    root = typer.Typer(
        name="camvault",
        help="End-to-end encrypted storage for security cameras.",
        no_args_is_help=True,
        add_completion=False,
    )
    wanted = [command] if command in GROUPS or command in AGE_COMMANDS else None
    for name, target in GROUPS.items():
        if wanted is None or name in wanted:
            group = COMPOSED[name]() if target is None else _load(target)
            root.add_typer(group, name=name)
    if wanted is None or command in AGE_COMMANDS:
        importlib.import_module("clients.cli.age").register(root)
    return root


def __getattr__(name: str) -> Any:
    if name == "app":
        return build_app()
    raise AttributeError(name)


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else None
    build_app(command)()
