"""The `camvault` command line: the client command groups (clients.cli) and the service
commands (storage_service.cli, escrow_service.cli) under one root.

Command groups are imported only when they are used: `camvault encrypt` must not pay for
importing the HTTP clients, OpenCV or SQLAlchemy that other groups need (start-up time is
part of every CLI run; see docs/PERFORMANCE.md). ``build_app()`` with no argument (and the
module attribute ``app``) gives the complete application, for `--help` and for tests.

The age-compatible commands (`keygen`, `encrypt`, `decrypt`) do not import Typer at all:
``main()`` hands them to clients/cli/age_fast.py, which parses their arguments with the standard
library and falls back to the Typer application for `--help` and for every usage error, so
that help screens and error messages stay Typer's. Typer is therefore imported here only when
an application is built (``_typer()``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    import typer
    from typer.core import TyperOption

#: sub-command name -> "module:attribute" of the Typer app that implements it
GROUPS = {
    "db": "storage_service.cli:db_app",
    "serve": None,
    "admin": None,
    "customer": "clients.cli.customer:app",
    "operator": "clients.cli.operator:app",
    "camera": "clients.cli.camera:app",
    "panel": "clients.cli.panel:app",
    "arc": "clients.cli.arc:app",
    "dev": "camvault.dev:app",
    "web": "clients.cli.web:app",
}
#: modules whose ``register_serve(app)`` adds their service to `camvault serve`
SERVE = ("storage_service.cli", "escrow_service.cli", "witness_service.cli")
#: modules whose ``register_admin(app)`` adds their checks to `camvault admin`
ADMIN = ("storage_service.cli", "escrow_service.cli")
#: top-level commands that mirror age (clients.cli.age)
AGE_COMMANDS = ("keygen", "encrypt", "decrypt")


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def serve_app() -> typer.Typer:
    """`camvault serve`: one command per service."""
    _typer()
    import typer

    app = typer.Typer(help="Run camvault services.", no_args_is_help=True)
    for module in SERVE:
        importlib.import_module(module).register_serve(app)
    return app


def admin_app() -> typer.Typer:
    """`camvault admin`: maintenance checks, one or more commands per service."""
    _typer()
    import typer

    app = typer.Typer(
        help="Check camvault services' data (read-only) and set up their object store.",
        no_args_is_help=True,
    )
    for module in ADMIN:
        importlib.import_module(module).register_admin(app)
    return app


#: groups composed from several modules
COMPOSED = {"serve": serve_app, "admin": admin_app}


def _flag_type(option: TyperOption, ctx: Any) -> str | None:
    """Typer 0.29 prints `<bool>` after every flag (`--help <bool>`), as if it took a value.
    A flag takes none, so its type column stays empty; other options keep `<str>` etc."""
    if option.is_flag and option.metavar is None:
        return None
    assert _option_type is not None  # set by _typer(), which installed this function
    return _option_type(option, ctx)


_option_type: Callable[[TyperOption, Any], str | None] | None = None


def _typer() -> None:
    """Set Typer up, once: make it visible to the annotations of ``_root``, which Typer
    evaluates in this module's namespace, and hide `<bool>` after flags (``_flag_type``)."""
    global _option_type
    if _option_type is not None:
        return
    import typer
    from typer.core import TyperOption

    globals()["typer"] = typer
    _option_type = TyperOption.display_type_rich
    TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign, assignment]


def camvault_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("camvault")
    except PackageNotFoundError:  # a source tree without `pip install -e .`
        return "unknown"


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"camvault {camvault_version()}")
        raise typer.Exit()


def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """End-to-end encrypted storage for security cameras."""


def build_app(command: str | None = None) -> typer.Typer:
    """The application, with every group, or only what ``command`` needs."""
    _typer()
    import typer

    root = typer.Typer(
        name="camvault",
        help="End-to-end encrypted storage for security cameras.",
        no_args_is_help=True,
        add_completion=False,
    )
    root.callback()(_root)
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
    """Run the command. Usage mistakes (an unknown option, a value out of range, a missing
    argument) end in one line, ``camvault: error: ...``, and exit status 2, like every other
    error of the CLI; `camvault` or a group with no arguments prints its help."""
    command = sys.argv[1] if len(sys.argv) > 1 else None
    if command in AGE_COMMANDS:
        from clients.cli import age, age_fast

        fast = age_fast.run(command, sys.argv[2:], age)
        if fast is not None:
            age_fast.exit_now(fast)
    _typer()
    import typer
    from typer._click import exceptions as click  # typer >= 0.29 vendors click

    try:
        status = build_app(command)(standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else None
        hint = f" (see '{where} --help')" if where else ""
        print(f"camvault: error: {exc.format_message()}{hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:  # end of input at a prompt
        print("camvault: error: aborted", file=sys.stderr)
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)
