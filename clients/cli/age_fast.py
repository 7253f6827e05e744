"""`camvault keygen / encrypt / decrypt` without Typer: the start-up of the age-compatible
commands (issue 17, goal 1; docs/PERFORMANCE.md, "CLI start-up").

Importing Typer, click and rich costs the `camvault` command ~0.15 s before it reads a byte,
against ~5 ms for the whole of `age`. These three commands parse their arguments here, with
the standard library, and call the same functions as the Typer commands
(clients/cli/age.py ``keygen``, ``encrypt``, ``decrypt``): one implementation of the work.

The parser accepts only what click's parser would accept, and reads it the way click does
(``-o FILE``, ``-oFILE``, ``--output FILE``, ``--output=FILE``, clusters such as ``-ar KEY``,
repeatable ``-r``/``-R``/``-i``, options before or after INPUT, ``--`` ending the options,
the last of a repeated single-valued option winning). Anything else, ``--help`` and every usage
error (an unknown option, a missing value, a value given to a flag, a second INPUT) goes back to
the Typer application (``run`` returns None), so help screens, error messages and exit statuses
stay exactly Typer's. tests/test_cli_startup.py checks the table below against the Typer
commands' parameters and that this path imports none of typer, click, rich, pydantic.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NamedTuple, NoReturn


class _Option(NamedTuple):
    dest: str  # the keyword argument of the command function
    takes_value: bool
    multiple: bool = False


_OUTPUT = _Option("output", True)

#: command -> option string -> option: the flags of clients/cli/age.py's commands
OPTIONS: dict[str, dict[str, _Option]] = {
    "keygen": {
        "-o": _OUTPUT,
        "--output": _OUTPUT,
        "-y": _Option("convert", False),
        "--pq": _Option("pq", False),
        "-pq": _Option("pq", False),
    },
    "encrypt": {
        "-r": _Option("recipient", True, multiple=True),
        "--recipient": _Option("recipient", True, multiple=True),
        "-R": _Option("recipients_file", True, multiple=True),
        "--recipients-file": _Option("recipients_file", True, multiple=True),
        "-p": _Option("passphrase", False),
        "--passphrase": _Option("passphrase", False),
        "-a": _Option("armor", False),
        "--armor": _Option("armor", False),
        "-o": _OUTPUT,
        "--output": _OUTPUT,
    },
    "decrypt": {
        "-i": _Option("identity", True, multiple=True),
        "--identity": _Option("identity", True, multiple=True),
        "-o": _OUTPUT,
        "--output": _OUTPUT,
    },
}


class TyperNeededError(Exception):
    """Not something this parser handles (help, a usage error): the Typer application will."""


def _is_short(name: str) -> bool:
    """click: a one-character option after a one-character prefix (``-o``); ``-pq`` is long."""
    return len(name) == 2 and name[0] == "-" and name[1] != "-"


def parse(command: str, args: Sequence[str]) -> dict[str, object]:
    """The keyword arguments of ``command``'s function for ``args`` (after the command name),
    as click would give them; raises TyperNeededError where click would not run the command."""
    table = OPTIONS[command]
    values: dict[str, object] = {}
    lists: dict[str, list[str]] = {}
    for option in table.values():
        if option.multiple:
            lists[option.dest] = []
        values[option.dest] = None if option.takes_value else False

    def take(option: _Option, value: str) -> None:
        if option.multiple:
            lists[option.dest].append(value)
        else:
            values[option.dest] = value

    rargs = list(args)
    positional: list[str] = []
    while rargs:
        arg = rargs.pop(0)
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, equals, attached = arg.partition("=")
        long = table.get(name) if not _is_short(name) else None
        if long is not None:
            if long.takes_value:
                if equals:
                    take(long, attached)
                elif rargs:
                    take(long, rargs.pop(0))
                else:
                    raise TyperNeededError  # "Option '--output' requires an argument."
            elif equals:
                raise TyperNeededError  # "Option '--armor' does not take a value."
            else:
                values[long.dest] = True
            continue
        if arg.startswith("--"):
            raise TyperNeededError  # "No such option: --...", and --help
        for i, char in enumerate(arg[1:], start=2):
            short = table.get(f"-{char}")
            if short is None:
                raise TyperNeededError  # "No such option: -x"
            if not short.takes_value:
                values[short.dest] = True
                continue
            if i < len(arg):
                take(short, arg[i:])  # -oFILE, -arKEY
            elif rargs:
                take(short, rargs.pop(0))
            else:
                raise TyperNeededError  # "Option '-o' requires an argument."
            break
    positional.extend(rargs)
    if len(positional) > 1:
        raise TyperNeededError  # "Got unexpected extra argument (...)"
    for dest, items in lists.items():
        values[dest] = items or None
    values["input_path"] = positional[0] if positional else None
    return values


def run(command: str, args: Sequence[str], commands: ModuleType) -> int | None:
    """Run ``command`` of ``commands`` (clients/cli/age.py, passed in: this module does not
    import it, see the import contracts) and return its exit status, or None to let Typer
    handle ``args``.

    Expected failures exit inside the command (``camvault: error: ...``, status 1); end of
    input or Ctrl-C at a prompt ends as under click: a new line, ``camvault: error: aborted``.
    """
    try:
        kwargs = parse(command, args)
    except TyperNeededError:
        return None
    try:
        getattr(commands, command)(**kwargs)
    except (EOFError, KeyboardInterrupt):
        sys.stderr.write("\ncamvault: error: aborted\n")
        return 1
    return 0


def exit_now(status: int) -> NoReturn:
    """End the process with ``status`` without tearing the interpreter down.

    After `camvault encrypt` the interpreter's finalization (every module freed, a last
    garbage collection) took ~10 ms of CPU of a ~60 ms run: work for nothing, since the
    process ends (docs/PERFORMANCE.md, "CLI start-up"). What the command wrote is complete by
    then: an output file is closed and renamed into place, stdout flushed. atexit handlers run
    and the standard streams are flushed here, as ``sys.exit`` would; if that fails (a closed
    pipe) or this Python lacks ``atexit._run_exitfuncs``, the ordinary exit takes over and
    reports it as before.
    """
    import atexit
    import os

    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is None:
        sys.exit(status)
    try:
        run_exit_functions()
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # e.g. BrokenPipeError: the interpreter's exit reports it
        sys.exit(status)
    os._exit(status)
