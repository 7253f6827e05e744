"""ASCII armor for age files (C2SP age, "ASCII armor"; RFC 7468 Section 3, strict form).

Layout::

    armored = *WSP-or-EOL "-----BEGIN AGE ENCRYPTED FILE-----" EOL
              *(64 base64 chars EOL) [1*64 base64 chars with "=" padding EOL]
              "-----END AGE ENCRYPTED FILE-----" [EOL] *WSP-or-EOL
    EOL     = LF / CRLF

Unlike the rest of the format, the armor uses padded base64. Decoding is strict (the spec:
"SHOULD reject non-canonical ASCII armor encodings except for whitespace before and after the
PEM block, and MAY choose to accept both LF and CRLF"): no PEM headers, no empty or
whitespace-only lines, every line but the last exactly 64 columns, padding only at the very
end, canonical base64, and nothing but whitespace (at most 1024 bytes, as age) around it.
Encoding writes LF line endings only.
"""

from __future__ import annotations

import base64
import io
import re
from typing import BinaryIO

from crypto.encoding import Base64Error, NonCanonicalBase64Error, b64decode_padded
from crypto.errors import ArmorError

LABEL = b"AGE ENCRYPTED FILE"
BEGIN = b"-----BEGIN " + LABEL + b"-----"
END = b"-----END " + LABEL + b"-----"
COLUMNS = 64
BYTES_PER_LINE = COLUMNS // 4 * 3  # 48
MAX_WHITESPACE = 1024
_WHITESPACE = b" \t\r\n"
_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def is_armored(prefix: bytes) -> bool:
    """Whether a file starting with ``prefix`` (one byte is enough) looks armored.

    True if, after leading whitespace, ``prefix`` agrees with the BEGIN line (a binary age
    file starts with "age-encryption.org/"). Only a guess: the armor reader decides.
    """
    stripped = prefix.lstrip(_WHITESPACE)
    if not stripped:
        return bool(prefix)
    head = stripped[: len(BEGIN)]
    return BEGIN.startswith(head)


# --- encoding ---------------------------------------------------------------------------


class ArmorWriter(io.RawIOBase):
    """Armors everything written to it into ``dst``; ``finish()`` writes the END line.

    ``close()`` alone (also run by garbage collection) writes nothing more, so an aborted
    encryption never looks complete. Neither closes ``dst``.
    """

    def __init__(self, dst: BinaryIO) -> None:
        super().__init__()
        self._dst = dst
        self._pending = b""
        dst.write(BEGIN + b"\n")

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("write to closed ArmorWriter")
        buf = self._pending + bytes(data)
        full = len(buf) - len(buf) % BYTES_PER_LINE
        self._emit(buf[:full])
        self._pending = buf[full:]
        return len(data)

    def _emit(self, data: bytes) -> None:
        encoded = base64.b64encode(data)  # whole lines at once, as bytes: the stdlib call
        lines = [encoded[i : i + COLUMNS] + b"\n" for i in range(0, len(encoded), COLUMNS)]
        self._dst.write(b"".join(lines))

    def finish(self) -> None:
        """Write the last (short or padded) line and the END line, then close."""
        if self.closed:
            raise ValueError("ArmorWriter already closed")
        self._emit(self._pending)
        self._pending = b""
        self._dst.write(END + b"\n")
        self.close()


def armor(data: bytes) -> bytes:
    """Armor a whole age file held in memory."""
    out = io.BytesIO()
    writer = ArmorWriter(out)
    writer.write(data)
    writer.finish()
    return out.getvalue()


# --- decoding ---------------------------------------------------------------------------


class ArmorReader(io.RawIOBase):
    """Streams the binary age file out of an armored ``src``, line by line.

    Raises ArmorError as soon as the armor breaks a rule. The END line and the trailing
    whitespace are checked before end of stream is reported, so a reader that consumes the
    stream to EOF (as STREAM decryption does) sees every armor error.
    """

    def __init__(self, src: BinaryIO) -> None:
        super().__init__()
        self._src = src
        self._buf = b""
        self._started = False
        self._done = False
        self._last_line_seen = False
        self._eof_line = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._started:
            self._read_begin()
        while len(self._buf) < len(b) and not self._done:
            self._buf += self._next_line()
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def _read_begin(self) -> None:
        self._started = True
        skipped = 0
        first = self._src.read(1)
        while first and first in _WHITESPACE:
            skipped += 1
            if skipped > MAX_WHITESPACE:
                raise ArmorError("armor: too much whitespace before the BEGIN line")
            first = self._src.read(1)
        line = self._readline()
        if line is None or first + line != BEGIN:
            raise ArmorError("armor: missing or malformed '-----BEGIN AGE ENCRYPTED FILE-----'")

    def _readline(self) -> bytes | None:
        """The next line without LF or CRLF; None if the stream ended without an EOL."""
        raw = self._src.readline(COLUMNS + 3)
        if raw.endswith(b"\r\n"):
            return raw[:-2]
        if raw.endswith(b"\n"):
            return raw[:-1]
        if len(raw) > COLUMNS + 1:
            raise ArmorError(f"armor: line longer than {COLUMNS} columns")
        self._eof_line = raw
        return None

    def _next_line(self) -> bytes:
        line = self._readline()
        if line is None:
            if self._eof_line == END:
                return self._finish()
            raise ArmorError("armor: missing '-----END AGE ENCRYPTED FILE-----' line")
        if line == END:
            return self._finish()
        if not line:
            raise ArmorError("armor: empty line inside the armor")
        if self._last_line_seen:
            raise ArmorError("armor: expected the END line after a short or padded line")
        return self._decode_line(line)

    def _decode_line(self, line: bytes) -> bytes:
        if len(line) > COLUMNS:
            raise ArmorError(f"armor: line longer than {COLUMNS} columns")
        if _LINE.fullmatch(line) is None or len(line) % 4:
            raise ArmorError("armor: invalid base64 line (character, padding or length)")
        if len(line) < COLUMNS or line.endswith(b"="):
            self._last_line_seen = True
        try:
            return b64decode_padded(line)
        except NonCanonicalBase64Error:
            raise ArmorError("armor: non-canonical base64") from None
        except Base64Error:
            raise ArmorError("armor: invalid base64") from None

    def _finish(self) -> bytes:
        self._done = True
        rest = self._src.read(MAX_WHITESPACE + 1)
        if len(rest) > MAX_WHITESPACE or rest.strip(_WHITESPACE):
            raise ArmorError("armor: data after the END line")
        return b""


def reader(src: BinaryIO) -> BinaryIO:
    """A buffered binary stream of the age file armored in ``src``."""
    return io.BufferedReader(ArmorReader(src))


def dearmor(data: bytes) -> bytes:
    """Decode a whole armored age file held in memory."""
    return reader(io.BytesIO(data)).read()
