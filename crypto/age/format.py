"""age v1 header format (C2SP age spec, "Header" section): stanzas, header encode/parse.

The types ``Stanza`` and ``FileKey`` are the shared contract other crypto modules (escrow
stanzas) build on. Everything else here is the header grammar of the spec::

    header     = v1-line 1*stanza end
    v1-line    = %s"age-encryption.org/v1" LF
    end        = "--- " 43base64char LF
    stanza     = arg-line *full-line final-line
    arg-line   = "-> " argument *(SP argument) LF
    argument   = 1*VCHAR
    full-line  = 64base64char LF
    final-line = *63base64char LF

The grammar leaves no freedom: a header parsed here re-encodes to the very same bytes, which
is what the header MAC is computed over (C2SP age, "Header MAC"). Only LF ends a line; a CR
is neither VCHAR nor a base64 character, so it is rejected wherever it appears (a CRLF header
would otherwise have two encodings and the MAC could not bind a unique one).
"""

from __future__ import annotations

import hmac
import io
import re
from collections.abc import Sequence
from typing import Any, BinaryIO

from crypto.encoding import b64decode, b64encode
from crypto.errors import HeaderError
from crypto.hkdf import hkdf_sha256

FILE_KEY_SIZE = 16

VERSION_PREFIX = b"age-encryption.org/"
VERSION_LINE = b"age-encryption.org/v1\n"
STANZA_PREFIX = b"-> "
MAC_MARK = b"---"
MAC_PREFIX = b"--- "
MAC_SIZE = 32
MAC_B64_LEN = 43  # unpadded base64 of 32 bytes
BODY_COLUMNS = 64  # a body line of 64 columns is full; a shorter one ends the stanza
HEADER_MAC_INFO = b"header"

# Resource limits (not in the spec): a hostile header must not make us read without bound.
MAX_LINE_LENGTH = 64 * 1024
MAX_HEADER_SIZE = 1024 * 1024
# The most stanzas a camvault header can honestly have: 64 customer recipients (SiteKeys,
# crypto.statements.MAX_RECIPIENTS) + 16 escrow stanzas (crypto.escrow.MAX_CUSTODIANS) + 16
# more escrow stanzas so X25519 and post-quantum hybrid ones can sit side by side during a
# migration = 96, rounded up to 128. MAX_HEADER_SIZE alone would let ~170,000 tiny stanzas
# through, each one a unit of work for every reader (docs/FORMAT.md part 1, section 2).
MAX_STANZAS = 128

_ERR = "parsing age header: "
_VCHAR = re.compile(rb"[\x21-\x7e]+")
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/]*")


class _Record:
    """An immutable record with value equality, as ``@dataclass(frozen=True, slots=True)``
    makes one, written out: importing ``dataclasses`` imports ``inspect`` and ``ast``, about
    7 ms of every `camvault encrypt` (docs/PERFORMANCE.md, "CLI start-up")."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__qualname__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), self._values()


class Stanza(_Record):
    """One recipient stanza: ``-> type arg1 arg2 ...`` followed by a base64 body."""

    __slots__ = ("type", "args", "body")  # noqa: RUF023 (field order: repr, pickle)
    __match_args__ = ("type", "args", "body")
    type: str
    args: tuple[str, ...]
    body: bytes

    def __init__(self, type: str, args: tuple[str, ...], body: bytes) -> None:
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "body", body)


class FileKey:
    """The 16-byte age file key. Its repr never shows the key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != FILE_KEY_SIZE:
            raise ValueError("file key must be 16 bytes")
        self._key = key

    @property
    def data(self) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return "FileKey(<redacted>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileKey) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self._key)


class Header(_Record):
    """A parsed v1 header: its stanzas in order and the 32-byte MAC from the ``---`` line."""

    __slots__ = ("stanzas", "mac")  # noqa: RUF023 (field order: repr, pickle)
    __match_args__ = ("stanzas", "mac")
    stanzas: tuple[Stanza, ...]
    mac: bytes

    def __init__(self, stanzas: tuple[Stanza, ...], mac: bytes) -> None:
        object.__setattr__(self, "stanzas", stanzas)
        object.__setattr__(self, "mac", mac)

    def encode_without_mac(self) -> bytes:
        """The bytes the MAC covers: version line, stanzas, and ``---`` (no space)."""
        return encode_header_without_mac(self.stanzas)

    def encode(self) -> bytes:
        """The full header, ending with ``--- <MAC>`` and LF."""
        return encode_header(self.stanzas, self.mac)


class TooManyStanzasError(HeaderError):
    """The header has more than MAX_STANZAS stanzas (reason code ``header_too_many_stanzas``)."""

    reason = "header_too_many_stanzas"


def decode_argument(text: str, size: int, what: str) -> bytes:
    """A stanza argument holding exactly ``size`` bytes in unpadded base64 (HeaderError naming
    ``what`` otherwise)."""
    try:
        data = b64decode(text)
    except ValueError as exc:
        raise HeaderError(f"{what}: {exc}") from None
    if len(data) != size:
        raise HeaderError(f"{what} must be {size} bytes")
    return data


# --- encoding ---------------------------------------------------------------------------


def _check_argument(arg: str) -> None:
    if not isinstance(arg, str) or _VCHAR.fullmatch(arg.encode("utf-8", "replace")) is None:
        raise HeaderError(f"encoding age header: invalid stanza argument {arg!r}")


def encode_stanza(stanza: Stanza) -> bytes:
    """``-> type args...`` LF, then the body in 64-column lines and a final shorter line."""
    for arg in (stanza.type, *stanza.args):
        _check_argument(arg)
    out = [STANZA_PREFIX + " ".join((stanza.type, *stanza.args)).encode("ascii") + b"\n"]
    body = b64encode(stanza.body).encode("ascii")
    for start in range(0, len(body) + 1, BODY_COLUMNS):
        # range() stops so that the last slice is shorter than 64 (possibly empty).
        out.append(body[start : start + BODY_COLUMNS] + b"\n")
    return b"".join(out)


def encode_header_without_mac(stanzas: Sequence[Stanza]) -> bytes:
    """Version line, every stanza, then the ``---`` mark: the input of the header MAC."""
    if not stanzas:
        raise HeaderError("encoding age header: a header needs at least one stanza")
    if len(stanzas) > MAX_STANZAS:  # never write a header our own readers refuse
        raise TooManyStanzasError(f"encoding age header: more than {MAX_STANZAS} stanzas")
    return VERSION_LINE + b"".join(encode_stanza(s) for s in stanzas) + MAC_MARK


def encode_header(stanzas: Sequence[Stanza], mac: bytes) -> bytes:
    """The complete header: ``encode_header_without_mac`` || ``" " || base64(mac) || LF``."""
    if len(mac) != MAC_SIZE:
        raise HeaderError("encoding age header: the MAC must be 32 bytes")
    return encode_header_without_mac(stanzas) + b" " + b64encode(mac).encode("ascii") + b"\n"


# --- header MAC (C2SP age, "Header MAC") ------------------------------------------------


def header_mac_key(file_key: FileKey) -> bytes:
    """HMAC key = HKDF-SHA-256(ikm = file key, salt = empty, info = "header")."""
    return hkdf_sha256(file_key.data, b"", HEADER_MAC_INFO)


def compute_header_mac(file_key: FileKey, header_without_mac: bytes) -> bytes:
    """HMAC-SHA-256 over the header up to and including ``---``."""
    return hmac.new(header_mac_key(file_key), header_without_mac, "sha256").digest()


# --- parsing ----------------------------------------------------------------------------


class _Lines:
    """Reads LF-terminated lines from a stream without reading past the header."""

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self.consumed = 0

    def next(self, what: str) -> bytes:
        """The next line without its LF; HeaderError on EOF, overlong line or CR ending."""
        line = self._src.readline(MAX_LINE_LENGTH + 1)
        self.consumed += len(line)
        if self.consumed > MAX_HEADER_SIZE:
            raise HeaderError(_ERR + f"header longer than {MAX_HEADER_SIZE} bytes")
        if not line.endswith(b"\n"):
            if len(line) > MAX_LINE_LENGTH:
                raise HeaderError(_ERR + f"{what} longer than {MAX_LINE_LENGTH} bytes")
            raise HeaderError(_ERR + f"unexpected end of header, expected {what}")
        line = line[:-1]
        if line.endswith(b"\r"):
            raise HeaderError(_ERR + f"{what} ends with CR; lines must end with LF only")
        return line


def _parse_version(line: bytes) -> None:
    if line + b"\n" == VERSION_LINE:
        return
    if line.startswith(VERSION_PREFIX):
        raise HeaderError(_ERR + f"unsupported version {line[len(VERSION_PREFIX) :]!r}")
    raise HeaderError(_ERR + "missing version line 'age-encryption.org/v1'")


def _parse_arguments(line: bytes) -> tuple[str, tuple[str, ...]]:
    args = line[len(STANZA_PREFIX) :].split(b" ")
    for arg in args:
        if not arg:
            raise HeaderError(_ERR + "empty stanza argument (missing or doubled space)")
        if _VCHAR.fullmatch(arg) is None:
            raise HeaderError(_ERR + f"invalid character in stanza argument {arg!r}")
    decoded = [a.decode("ascii") for a in args]
    return decoded[0], tuple(decoded[1:])


def _parse_body(lines: _Lines) -> bytes:
    chunks: list[bytes] = []
    while True:
        line = lines.next("stanza body line")
        if len(line) > BODY_COLUMNS:
            raise HeaderError(_ERR + f"stanza body line longer than {BODY_COLUMNS} columns")
        if _B64_CHARS.fullmatch(line) is None:
            raise HeaderError(_ERR + "invalid character in stanza body (padding or non-base64)")
        chunks.append(line)
        if len(line) < BODY_COLUMNS:
            break
    try:
        return b64decode(b"".join(chunks))
    except ValueError as exc:
        raise HeaderError(_ERR + f"stanza body: {exc}") from exc


def _parse_mac(line: bytes) -> bytes:
    if not line.startswith(MAC_PREFIX):
        raise HeaderError(_ERR + "malformed MAC line: expected '--- ' followed by the MAC")
    encoded = line[len(MAC_PREFIX) :]
    if len(encoded) != MAC_B64_LEN:
        raise HeaderError(_ERR + f"MAC must be {MAC_B64_LEN} base64 characters")
    try:
        return b64decode(encoded)
    except ValueError as exc:
        raise HeaderError(_ERR + f"MAC: {exc}") from exc


def read_header(src: BinaryIO) -> Header:
    """Parse a header from ``src``, leaving the stream at the first payload byte.

    Reads line by line with ``readline`` so nothing beyond the MAC line is consumed.
    """
    lines = _Lines(src)
    _parse_version(lines.next("version line"))
    stanzas: list[Stanza] = []
    while True:
        line = lines.next("stanza or MAC line")
        if line.startswith(STANZA_PREFIX):
            if len(stanzas) == MAX_STANZAS:
                # Refused at the arg line of stanza MAX_STANZAS + 1, before its arguments or
                # body are parsed and before anything after it is read.
                raise TooManyStanzasError(_ERR + f"more than {MAX_STANZAS} stanzas")
            stanza_type, args = _parse_arguments(line)
            stanzas.append(Stanza(stanza_type, args, _parse_body(lines)))
        elif line.startswith(MAC_MARK):
            if not stanzas:
                raise HeaderError(_ERR + "header has no recipient stanza")
            return Header(tuple(stanzas), _parse_mac(line))
        else:
            raise HeaderError(_ERR + "line is neither a stanza ('-> ') nor the MAC ('---')")


def parse_header(data: bytes) -> Header:
    """Parse exactly one complete header; any byte after the MAC line is an error."""
    stream = io.BytesIO(data)
    header = read_header(stream)
    if stream.tell() != len(data):
        raise HeaderError(_ERR + "unexpected data after the header MAC line")
    return header
