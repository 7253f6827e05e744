"""`camvault keygen / encrypt / decrypt`: age-compatible commands (mirroring age and age-keygen).

The commands are thin: they parse flags, open files, prompt for passphrases and render errors;
every byte of cryptography happens in crypto.age. Files they write interoperate with the
standard ``age`` tool both ways (identity files, binary and armored age files).

Differences from age, on purpose:

* ``-o FILE`` is written to a temporary file next to FILE and renamed into place only after
  success, so a failed decryption never leaves a partial (or truncated previous) FILE behind.
  age writes as it goes and removes the output on failure; the outcome is the same except
  that an existing FILE survives a failure here. Non-regular targets (``/dev/null``, FIFOs)
  are written directly.
* An empty passphrase is refused instead of autogenerating one.
* Plugin, SSH and encrypted identity files are not supported.

Typer is imported only when the commands are registered with a Typer app (``register``): the
`camvault` entry point parses these three commands' arguments itself (clients/cli/age_fast.py)
and calls the functions below directly, without importing Typer, click or rich.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Annotated, BinaryIO, NoReturn

from crypto import age
from crypto.errors import (
    AgeError,
    CryptoError,
    IncorrectIdentityError,
    KeyFormatError,
    NoIdentityMatchError,
)

PROGRESS_THRESHOLD = 16 * 1024 * 1024  # show a progress bar for inputs larger than this
_ENCRYPTED_IDENTITY_PREFIXES = (b"age-encryption.org/", b"-----BEGIN AGE ENCRYPTED FILE")
_MAX_KEY_FILE = 16 * 1024 * 1024


class CliError(Exception):
    """An expected failure: printed as ``camvault: error: <message>``, exit status 1."""


class PassphraseNotAllowedError(AgeError):
    """The file is passphrase-encrypted but identity files were given (fatal, as in age)."""


def _fail(message: str) -> NoReturn:
    raise CliError(message)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn every expected failure into one line on stderr and exit status 1."""
    try:
        yield
    except CliError as exc:
        _die(str(exc))
    except NoIdentityMatchError:
        _die("no identity matched any of the recipients")
    except CryptoError as exc:
        _die(str(exc))
    except BrokenPipeError:
        _die("broken pipe while writing the output")
    except OSError as exc:
        _die(_os_message(exc))


def _die(message: str) -> NoReturn:
    sys.stderr.write(f"camvault: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def _os_message(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename!r}: {reason}" if exc.filename else reason


# --- files ------------------------------------------------------------------------------


def _is_std(path: str | None) -> bool:
    return path is None or path == "-"


@contextlib.contextmanager
def _open_input(path: str | None) -> Iterator[BinaryIO]:
    if path is None or path == "-":
        yield sys.stdin.buffer
        return
    try:
        src = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        _fail(f"failed to open input file {path!r}: {exc.strerror}")
    with src:
        yield src


@contextlib.contextmanager
def _open_output(path: str | None) -> Iterator[BinaryIO]:
    """stdout, or FILE written through a temporary file renamed into place on success.

    On any exception the temporary file is removed and FILE is left as it was.
    """
    if path is None or path == "-":
        out = sys.stdout.buffer
        yield out
        out.flush()
        return
    if _is_special(path):
        with open(path, "wb") as special:  # /dev/null, a FIFO, a terminal: no rename
            yield special
        return
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{name}.camvault-{os.urandom(6).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        _fail(f"failed to create output file {path!r}: {exc.strerror}")
    try:
        with open(fd, "wb") as dst:
            yield dst
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _is_special(path: str) -> bool:
    """An existing target that is not a regular file (written in place, never replaced)."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _read_text_file(path: str, what: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        _fail(f"failed to open {what} {path!r}: {exc.strerror}")
    if len(data) > _MAX_KEY_FILE:
        _fail(f"{what} {path!r} is too large")
    if data.lstrip().startswith(_ENCRYPTED_IDENTITY_PREFIXES):
        _fail(f"{what} {path!r} is an encrypted file; encrypted identity files are not supported")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        _fail(f"{what} {path!r} is not UTF-8 text")


def _is_terminal(stream: IO[bytes] | IO[str]) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False


# --- passphrases ------------------------------------------------------------------------


def read_passphrase(prompt: str) -> str:
    """Read a line from the controlling terminal (``/dev/tty``) with echo off.

    Never falls back to stdin, which carries the data.
    """
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        _fail(f"cannot prompt for a passphrase: no terminal ({exc.strerror})")
    import termios  # here, not at the top: encrypting to a recipient never prompts

    with open(fd, "r+b", buffering=0) as tty:
        old = termios.tcgetattr(fd)
        quiet = termios.tcgetattr(fd)
        quiet[3] &= ~termios.ECHO
        try:
            # Echo off before the prompt: whatever is typed after seeing it stays hidden.
            termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
            tty.write(prompt.encode("utf-8"))
            line = tty.readline()
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
            tty.write(b"\n")
    if not line.endswith(b"\n"):
        _fail("could not read the passphrase: end of input on the terminal")
    try:
        return line.rstrip(b"\r\n").decode("utf-8")
    except UnicodeDecodeError:
        _fail("the passphrase is not valid UTF-8")


def _new_passphrase() -> str:
    first = read_passphrase("Enter passphrase: ")
    if not first:
        _fail("empty passphrase (camvault does not autogenerate passphrases)")
    if read_passphrase("Confirm passphrase: ") != first:
        _fail("passphrases didn't match")
    return first


class _PromptingScryptIdentity:
    """Prompts for the passphrase only when the header holds an scrypt stanza (as age does)."""

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed
        self.tried = False
        self.saw_scrypt = False

    def unwrap(self, stanzas: Sequence[age.Stanza]) -> age.FileKey:
        if not any(s.type == "scrypt" for s in stanzas):
            raise IncorrectIdentityError("no scrypt stanza")
        self.saw_scrypt = True
        if not self.allowed:
            raise PassphraseNotAllowedError(
                "the file is passphrase-encrypted but identities were given with -i/--identity"
            )
        self.tried = True
        return age.ScryptIdentity(read_passphrase("Enter passphrase: ")).unwrap(stanzas)


# --- progress ---------------------------------------------------------------------------


class _ProgressReader(io.RawIOBase):
    """Forwards reads to ``src`` and advances a progress callback by the bytes read."""

    def __init__(self, src: BinaryIO, advance: Callable[[int], None]) -> None:
        super().__init__()
        self._src = src
        self._advance = advance

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._src.read(size)
        self._advance(len(data))
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._src.readinto(b)  # type: ignore[attr-defined]
        self._advance(n or 0)
        return int(n or 0)

    def readline(self, size: int | None = -1) -> bytes:
        data = self._src.readline(-1 if size is None else size)
        self._advance(len(data))
        return data


def _input_size(src: BinaryIO) -> int | None:
    try:
        info = os.fstat(src.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


@contextlib.contextmanager
def _progress(src: BinaryIO, label: str) -> Iterator[BinaryIO]:
    """A rich progress bar on stderr, only for a terminal and a large input of known size."""
    size = _input_size(src)
    if size is None or size <= PROGRESS_THRESHOLD or not _is_terminal(sys.stderr):
        yield src
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=size)
        yield _ProgressReader(src, lambda n: bar.advance(task, n))  # type: ignore[misc]


# --- commands ---------------------------------------------------------------------------

# The commands' annotations are strings (``from __future__ import annotations``) that Typer
# evaluates in this module's namespace when ``register`` adds them to an app; ``_bind_typer``
# puts ``typer`` and these two aliases there first. Nothing else reads them.
if TYPE_CHECKING:
    import typer

    OutputOption = Annotated[str | None, typer.Option()]
    InputArgument = Annotated[str | None, typer.Argument()]


def _bind_typer() -> None:
    import typer

    globals().update(
        typer=typer,
        OutputOption=Annotated[
            str | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")
        ],
        InputArgument=Annotated[
            str | None,
            typer.Argument(metavar="INPUT", help="Input file (default: stdin, or '-')."),
        ],
    )


def _create_exclusive(path: str) -> BinaryIO:
    """A new file with mode 0600, refusing to overwrite anything (age-keygen -o)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _fail(f"output file {path!r} already exists; refusing to overwrite it")
    except OSError as exc:
        _fail(f"failed to create output file {path!r}: {exc.strerror}")
    return open(fd, "wb")


def keygen(
    output: OutputOption = None,
    convert: Annotated[
        bool,
        typer.Option("-y", help="Read an identity file (INPUT or stdin) and print its recipients."),
    ] = False,
    pq: Annotated[
        bool,
        typer.Option(
            "--pq", "-pq", help="Generate a post-quantum hybrid (ML-KEM-768 + X25519) identity."
        ),
    ] = False,
    input_path: InputArgument = None,
) -> None:
    """Generate an age identity (like age-keygen; --pq: hybrid, like age-keygen -pq in age 1.3).

    -y prints the recipients of an identity file instead.
    """
    with _errors():
        if not convert and input_path is not None:
            _fail("an INPUT file is only accepted with -y")
        if convert and pq:
            _fail("-y and --pq can't be used together")
        text = _keygen_convert(input_path) if convert else None
        dst = sys.stdout.buffer if output is None or output == "-" else _create_exclusive(output)
        try:
            if text is not None:
                dst.write(text.encode("ascii"))
                return
            from datetime import datetime  # only keygen needs it (start-up: docs/PERFORMANCE.md)

            created = datetime.now().astimezone()
            if pq:
                hybrid = age.generate_hybrid_identity()
                public = str(hybrid.recipient())
                text = age.format_hybrid_identity_file(hybrid, created)
            else:
                identity = age.generate_identity()
                public = str(identity.recipient())
                text = age.format_identity_file(identity, created)
            if not _is_terminal(dst):
                sys.stderr.write(f"Public key: {public}\n")
            dst.write(text.encode("ascii"))
        finally:
            dst.flush()
            if dst is not sys.stdout.buffer:
                dst.close()


def _keygen_convert(input_path: str | None) -> str:
    if input_path is None or input_path == "-":
        text = sys.stdin.buffer.read(_MAX_KEY_FILE).decode("utf-8", "replace")
        where = "standard input"
    else:
        text = _read_text_file(input_path, "identity file")
        where = repr(input_path)
    try:
        identities = age.parse_identity_file(text)
    except KeyFormatError as exc:
        _fail(f"reading identities from {where}: {exc}")
    lines = []
    for identity in identities:
        if not isinstance(identity, age.X25519Identity | age.HybridIdentity):
            _fail(f"{where}: unsupported identity type")
        lines.append(f"{identity.recipient()}\n")
    return "".join(lines)


def encrypt(
    recipient: Annotated[
        list[str] | None,
        typer.Option(
            "-r", "--recipient", help="Encrypt to RECIPIENT (age1... or age1pq1...); repeatable."
        ),
    ] = None,
    recipients_file: Annotated[
        list[str] | None,
        typer.Option(
            "-R", "--recipients-file", help="Encrypt to the recipients listed in FILE; repeatable."
        ),
    ] = None,
    passphrase: Annotated[
        bool, typer.Option("-p", "--passphrase", help="Encrypt with a passphrase (prompted).")
    ] = False,
    armor: Annotated[
        bool, typer.Option("-a", "--armor", help="Write PEM-armored (ASCII) output.")
    ] = False,
    output: OutputOption = None,
    input_path: InputArgument = None,
) -> None:
    """Encrypt INPUT to an age file, readable by the standard `age` tool."""
    with _errors():
        targets = _recipients(recipient or [], recipients_file or [], passphrase)
        if not armor and _is_std(output) and _is_terminal(sys.stdout):
            _fail("refusing to output binary to the terminal. Did you mean to use -a/--armor?")
        if passphrase:
            targets = [age.ScryptRecipient(_new_passphrase())]
        with (
            _open_input(input_path) as src,
            _progress(src, "encrypting") as tracked,
            _open_output(output) as dst,
        ):
            age.encrypt(targets, tracked, dst, armor=armor)


def _recipients(flags: list[str], files: list[str], passphrase: bool) -> list[age.Recipient]:
    if passphrase:
        if flags or files:
            _fail("-p/--passphrase can't be combined with -r/--recipient or -R/--recipients-file")
        return []
    if not flags and not files:
        _fail(
            "missing recipients. Did you forget to specify -r/--recipient, "
            "-R/--recipients-file or -p/--passphrase?"
        )
    out: list[age.Recipient] = []
    for text in flags:
        try:
            out.append(age.parse_recipient(text))
        except KeyFormatError as exc:
            _fail(f"invalid recipient {text!r}: {exc}")
    for path in files:
        try:
            out.extend(age.parse_recipients_file(_read_text_file(path, "recipients file")))
        except KeyFormatError as exc:
            _fail(f"reading recipients file {path!r}: {exc}")
    return out


def decrypt(
    identity: Annotated[
        list[str] | None,
        typer.Option("-i", "--identity", help="Use the identity file FILE; repeatable."),
    ] = None,
    output: OutputOption = None,
    input_path: InputArgument = None,
) -> None:
    """Decrypt an age file (binary or armored). Prompts for the passphrase if it needs one."""
    with _errors():
        identities: list[age.Identity] = []
        for path in identity or []:
            try:
                identities.extend(age.parse_identity_file(_read_text_file(path, "identity file")))
            except KeyFormatError as exc:
                _fail(f"reading identity file {path!r}: {exc}")
        prompting = _PromptingScryptIdentity(allowed=not identities)
        try:
            with (
                _open_input(input_path) as src,
                _progress(src, "decrypting") as tracked,
                _open_output(output) as dst,
            ):
                age.decrypt([*identities, prompting], tracked, dst)
        except NoIdentityMatchError:
            if prompting.tried:
                _fail("incorrect passphrase")
            if not identities:
                _fail("the file is not passphrase-encrypted: specify -i/--identity")
            raise


def register(app: typer.Typer) -> None:
    """Add ``keygen``, ``encrypt`` and ``decrypt`` to the ``camvault`` command."""
    _bind_typer()
    app.command("keygen")(keygen)
    app.command("encrypt")(encrypt)
    app.command("decrypt")(decrypt)


def main() -> None:
    """``python -m clients.cli.age``: these three commands alone, without the rest of camvault.

    Like the ``camvault`` console script, runs them without Typer (clients/cli/age_fast.py) unless
    asked for help or given a usage error.
    """
    from clients.cli import age_fast

    if len(sys.argv) > 1 and sys.argv[1] in age_fast.OPTIONS:
        status = age_fast.run(sys.argv[1], sys.argv[2:], sys.modules[__name__])
        if status is not None:
            age_fast.exit_now(status)
    import typer

    app = typer.Typer(add_completion=False, no_args_is_help=True)
    register(app)
    app()


if __name__ == "__main__":
    main()
