"""The start-up of `camvault keygen / encrypt / decrypt` (clients/cli/age_fast.py): the installed
console script runs them without importing Typer, click, rich or pydantic, and reads every
argument list the way the Typer commands do (checked against click's own parser here), leaving
help and usage errors to Typer."""

from __future__ import annotations

import os
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
    proc, modules = imported_modules(*args, stdin=stdin)
    return proc, {name.split(".")[0] for name in modules}


def imported_modules(
    *args: str, stdin: bytes = b""
) -> tuple[subprocess.CompletedProcess[bytes], set[str]]:
    """Run the console script under ``-X importtime``; the modules it imported (full names)."""
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
            modules.add(line.rsplit("|", 1)[1].strip())
        else:
            lines.append(line)
    proc.stderr = "\n".join(lines).encode()
    assert "camvault" in modules and "crypto.age" in modules  # the report was read
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


#: what the X25519 path of encrypt / decrypt must not load (crypto/age/api.py, ``_LAZY``)
LAZY = ("crypto.age.mlkem", "crypto.age.scrypt", "crypto.age.armor", "dataclasses", "datetime")


def test_x25519_path_loads_no_pq_scrypt_armor_or_dataclasses(tmp_path: Path) -> None:
    """Each optional part of crypto.age is imported only by the files that use it."""
    key, pq_key = tmp_path / "key.txt", tmp_path / "pq.txt"
    assert imported_modules("keygen", "-o", str(key))[0].returncode == 0
    assert imported_modules("keygen", "--pq", "-o", str(pq_key))[0].returncode == 0
    recipient = imported_modules("keygen", "-y", str(key))[0].stdout.decode().strip()
    pq_recipient = imported_modules("keygen", "-y", str(pq_key))[0].stdout.decode().strip()
    binary, armored, hybrid = tmp_path / "b.age", tmp_path / "a.age", tmp_path / "pq.age"

    proc, modules = imported_modules("encrypt", "-r", recipient, "-o", str(binary), stdin=b"x")
    assert proc.returncode == 0, proc.stderr
    assert not modules & set(LAZY), sorted(modules & set(LAZY))
    proc, modules = imported_modules("decrypt", "-i", str(key), str(binary))
    assert (proc.returncode, proc.stdout) == (0, b"x"), proc.stderr
    assert not modules & set(LAZY), sorted(modules & set(LAZY))

    # Controls: the same check sees each part where it is used.
    proc, modules = imported_modules("encrypt", "-a", "-r", recipient, "-o", str(armored))
    assert proc.returncode == 0 and "crypto.age.armor" in modules, proc.stderr
    proc, modules = imported_modules("decrypt", "-i", str(key), str(armored))
    assert proc.returncode == 0 and "crypto.age.armor" in modules, proc.stderr
    proc, modules = imported_modules("encrypt", "-r", pq_recipient, "-o", str(hybrid))
    assert proc.returncode == 0 and "crypto.age.mlkem" in modules, proc.stderr
    proc, modules = imported_modules("decrypt", "-i", str(pq_key), str(hybrid))
    assert proc.returncode == 0 and "crypto.age.mlkem" in modules, proc.stderr
    # An scrypt stanza next to another one is refused by crypto.age.scrypt's rule.
    proc, modules = imported_modules("decrypt", "-i", str(key), str(_scrypt_and_x25519(key)))
    assert proc.returncode == 1 and "crypto.age.scrypt" in modules, proc.stderr
    assert b"an scrypt stanza must be the only stanza" in proc.stderr


def _scrypt_and_x25519(key: Path) -> Path:
    """An age file whose header has an X25519 stanza and an scrypt stanza (invalid), with a
    valid MAC, sealed without crypto.age's check."""
    from crypto import age
    from crypto.age.format import (
        Stanza,
        compute_header_mac,
        encode_header,
        encode_header_without_mac,
    )

    identity = age.parse_identity_file(key.read_text())[0]
    assert isinstance(identity, age.X25519Identity)
    file_key = age.generate_file_key()
    stanzas = [
        *identity.recipient().wrap(file_key),
        Stanza("scrypt", ("c2FsdHNhbHRzYWx0c2FsdA", "10"), bytes(32)),
    ]
    mac = compute_header_mac(file_key, encode_header_without_mac(stanzas))
    out = key.with_name("mixed.age")
    out.write_bytes(encode_header(stanzas, mac) + bytes(32))
    return out


def test_lazy_exports_are_the_public_api() -> None:
    """crypto.age exports the same names as crypto.age.api, the lazy ones included."""
    import crypto.age
    import crypto.age.api
    from crypto.age import mlkem, scrypt

    assert crypto.age.__all__ == crypto.age.api.__all__
    for name in crypto.age.__all__:
        assert getattr(crypto.age, name) is getattr(crypto.age.api, name), name
    assert crypto.age.HybridIdentity is mlkem.HybridIdentity
    assert crypto.age.ScryptRecipient is scrypt.ScryptRecipient
    with pytest.raises(AttributeError):
        crypto.age.NoSuchName  # noqa: B018


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


def test_fast_exit_keeps_every_byte_and_runs_atexit(tmp_path: Path) -> None:
    """The age commands end with os._exit (age_fast.exit_now): output written to a pipe and
    to a file is complete, atexit handlers run, and the exit status is the command's."""
    key = tmp_path / "key.txt"
    plain = os.urandom(3 * 1024 * 1024 + 17)  # several STREAM blocks, more than a pipe holds
    (tmp_path / "plain.bin").write_bytes(plain)
    run = (
        "import atexit, sys; atexit.register(lambda: sys.stderr.write('atexit ran'));"
        "sys.argv = ['camvault', *sys.argv[1:]]; from camvault.cli import main; main()"
    )

    def camvault(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-c", run, *args], capture_output=True, timeout=60, cwd=tmp_path
        )

    assert camvault("keygen", "-o", str(key)).returncode == 0
    recipient = camvault("keygen", "-y", str(key)).stdout.decode().strip()
    proc = camvault("encrypt", "-r", recipient, str(tmp_path / "plain.bin"))  # to stdout
    assert (proc.returncode, proc.stderr) == (0, b"atexit ran")
    (tmp_path / "x.age").write_bytes(proc.stdout)
    proc = camvault("decrypt", "-i", str(key), str(tmp_path / "x.age"))
    assert (proc.returncode, proc.stderr) == (0, b"atexit ran")
    assert proc.stdout == plain
    proc = camvault("decrypt", "-i", str(key), "-o", str(tmp_path / "out"), str(tmp_path / "x.age"))
    assert (proc.returncode, proc.stderr) == (0, b"atexit ran")
    assert (tmp_path / "out").read_bytes() == plain
    # A failure keeps its status and message (the truncated file is refused).
    bad, out = tmp_path / "cut.age", tmp_path / "o2"
    bad.write_bytes((tmp_path / "x.age").read_bytes()[:-1])
    proc = camvault("decrypt", "-i", str(key), "-o", str(out), str(bad))
    assert proc.returncode == 1
    assert proc.stderr.startswith(b"camvault: error: ") and b"atexit ran" in proc.stderr
    assert not out.exists()
