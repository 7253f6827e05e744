"""The start-up of `camvault keygen / encrypt / decrypt` (clients/cli/age_fast.py): the installed
console script runs them without importing Typer, click, rich or pydantic, and reads every
argument list the way the Typer commands do (checked against click's own parser here), leaving
help and usage errors to Typer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer._click import exceptions as click_exceptions

from camvault.cli import AGE_COMMANDS, build_app
from clients.cli import age_fast

CAMVAULT = Path(sys.executable).with_name("camvault")
HEAVY = ("typer", "click", "rich", "pydantic")


def imported(*args: str, stdin: bytes = b"") -> tuple[subprocess.CompletedProcess[bytes], set[str]]:
    """Run the console script under ``-X importtime``; the top-level packages it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(CAMVAULT), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    modules = set()
    lines = []
    for line in proc.stderr.decode().splitlines():
        if line.startswith("import time:"):
            modules.add(line.rsplit("|", 1)[1].strip().split(".")[0])
        else:
            lines.append(line)
    proc.stderr = "\n".join(lines).encode()
    assert "camvault" in modules and "crypto" in modules  # the report was read
    return proc, modules


def test_age_commands_import_no_typer_click_rich_or_pydantic(tmp_path: Path) -> None:
    key = tmp_path / "key.txt"
    proc, modules = imported("keygen", "-o", str(key))
    assert proc.returncode == 0, proc.stderr
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    proc, modules = imported("keygen", "-y", str(key))
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    recipient = proc.stdout.decode().strip()
    assert recipient.startswith("age1")

    proc, modules = imported("encrypt", "-a", "-r", recipient, stdin=b"fast path")
    assert proc.returncode == 0, proc.stderr
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    assert proc.stdout.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")

    enc = tmp_path / "x.age"
    enc.write_bytes(proc.stdout)
    proc, modules = imported("decrypt", "-i", str(key), str(enc))
    assert proc.returncode == 0, proc.stderr
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    assert proc.stdout == b"fast path"

    # A refusal of the command itself stays on the fast path: one line, exit status 1.
    proc, modules = imported("decrypt", "-i", str(tmp_path / "missing"), str(enc))
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("camvault: error: failed to open identity file")
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_the_import_check_can_fail() -> None:
    """--help and usage errors go to Typer: the same check sees typer and click there."""
    proc, modules = imported("encrypt", "--help")
    assert proc.returncode == 0, proc.stderr
    assert {"typer"} <= modules
    assert "Usage: camvault encrypt [OPTIONS] [INPUT]" in proc.stdout.decode()
    proc, modules = imported("encrypt", "--recipent", "x")
    assert {"typer"} <= modules
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.startswith("camvault: error: No such option: --recipent (Possible options: "), err
    assert err.endswith(" (see 'camvault encrypt --help')"), err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["encrypt", "-r"], "camvault: error: Option '-r' requires an argument."),
        (["encrypt", "-a", "x", "y"], "Got unexpected extra argument(s) (y)"),
        (["encrypt", "--armor=yes"], "camvault: error: Option '--armor' does not take a value."),
        (["decrypt", "-h"], "camvault: error: No such option: -h"),
        (["keygen", "-py"], "camvault: error: No such option: -p"),
    ],
)
def test_usage_errors_are_typers(args: list[str], message: str) -> None:
    proc = subprocess.run([str(CAMVAULT), *args], capture_output=True, timeout=60, text=True)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def click_command(name: str) -> Any:
    return typer.main.get_command(build_app(name)).commands[name]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", AGE_COMMANDS)
def test_the_option_table_is_the_typer_commands(name: str) -> None:
    """Same option strings, same destinations, same kinds (flag / value / repeatable)."""
    expected: dict[str, tuple[str, bool, bool]] = {}
    arguments = []
    for param in click_command(name).params:
        if param.param_type_name == "argument":
            arguments.append((param.name, param.nargs, param.required))
            continue
        for opt in [*param.opts, *param.secondary_opts]:
            expected[opt] = (param.name, not param.is_flag, param.multiple)
    table = {opt: tuple(option) for opt, option in age_fast.OPTIONS[name].items()}
    assert table == expected
    assert arguments == [("input_path", 1, False)]


CASES = [
    [],
    ["-"],
    ["in.txt"],
    ["--", "-a"],
    ["--", "--help"],
    ["-o", "out", "in"],
    ["in", "-o", "out"],
    ["-oout"],
    ["-o=out"],
    ["--output=out"],
    ["--output="],
    ["--output", "-a"],
    ["-o", "--help"],
    ["-o", "a", "-o", "b"],
    ["-o"],
    ["--output"],
    ["a", "b"],
    ["a", "--", "b"],
    ["--bogus"],
    ["--help"],
    ["-h"],
    ["-"],
    ["-", "-"],
    [""],
    ["-=x"],
    ["--=x"],
    ["---"],
    # encrypt
    ["-r", "age1x", "-r", "age1y", "-R", "f", "--recipients-file=g"],
    ["-rage1x", "-ar", "age1y", "-ra"],
    ["-pa"],
    ["-ap", "-p", "--passphrase"],
    ["--armor", "--passphrase", "--recipient", "k"],
    ["--armor=1"],
    ["-a=1"],
    ["-pq"],
    ["--recip", "k"],
    # keygen
    ["-y", "key.txt"],
    ["--pq"],
    ["-pq", "-o", "k"],
    ["-pq=1"],
    ["-py"],
    ["-yo", "k"],
    ["-q"],
    # decrypt
    ["-i", "k1", "--identity", "k2", "-ik3", "-o-"],
    ["--identity=k", "-"],
    ["-i"],
]


def click_parse(name: str, args: list[str]) -> dict[str, Any] | None:
    """What the Typer command gets for ``args``, or None where click refuses them or prints
    help (a usage error, --help)."""
    command = click_command(name)
    try:
        ctx = command.make_context(name, list(args))
    except (click_exceptions.UsageError, typer.Exit):
        return None
    return {k: (list(v) or None) if isinstance(v, tuple) else v for k, v in ctx.params.items()}


@pytest.mark.parametrize("name", AGE_COMMANDS)
@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) or "none" for c in CASES])
def test_parse_reads_arguments_as_click_does(name: str, args: list[str]) -> None:
    expected = click_parse(name, args)
    if expected is None:
        with pytest.raises(age_fast.TyperNeededError):
            age_fast.parse(name, args)
    else:
        assert age_fast.parse(name, args) == expected


def test_a_refusal_on_the_fast_path_is_one_line_and_status_1() -> None:
    """No terminal for the passphrase prompt: the command's own refusal, as under Typer."""
    proc = subprocess.run(
        [str(CAMVAULT), "encrypt", "-p"],
        input=b"x",
        capture_output=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal: /dev/tty cannot be opened
    )
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.startswith("camvault: error: cannot prompt for a passphrase"), err
    assert len(err.splitlines()) == 1, err
