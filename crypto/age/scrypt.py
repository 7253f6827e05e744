"""The native scrypt (passphrase) recipient type (C2SP age, "The scrypt recipient type").

Stanza: ``-> scrypt base64(salt) log2(N)`` with a 32-byte body::

    wrap key = scrypt(N = 2**log2(N), r = 8, p = 1, dkLen = 32,
                      S = "age-encryption.org/v1/scrypt" || salt, P = passphrase)
    body     = ChaCha20-Poly1305(wrap key, nonce = 12 zero bytes, file key)

An scrypt stanza must be the only stanza of its header: a passphrase-encrypted file is
implicitly authenticated by the passphrase, which a second recipient would break.

scrypt itself comes from pyca/cryptography (OpenSSL): ``hashlib.scrypt`` caps ``maxmem`` at
INT_MAX (2 GiB), so it cannot compute work factors 21 and 22 (128 * r * N bytes = 2 and
4 GiB) that age itself accepts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from crypto.age.format import FileKey, Stanza, decode_argument
from crypto.age.x25519 import WRAPPED_FILE_KEY_SIZE, open_file_key, seal_file_key
from crypto.encoding import b64encode
from crypto.errors import HeaderError, IncorrectIdentityError

SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
STANZA_TYPE = "scrypt"
SALT_SIZE = 16
DEFAULT_WORK_FACTOR = 18  # what age uses when encrypting
DEFAULT_MAX_WORK_FACTOR = 22  # what age accepts when decrypting
_MAX_SETTABLE_WORK_FACTOR = 30
_WORK_FACTOR_RE = re.compile(r"[1-9][0-9]*")


def _as_bytes(passphrase: str | bytes) -> bytes:
    data = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if not data:
        raise ValueError("passphrase must not be empty")
    return data


def _wrap_key(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase)


class ScryptRecipient:
    """Encrypts to a passphrase. Its stanza must be alone in the header."""

    __slots__ = ("_passphrase", "_work_factor")

    def __init__(self, passphrase: str | bytes, work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        if not 1 <= work_factor <= _MAX_SETTABLE_WORK_FACTOR:
            raise ValueError(f"scrypt work factor must be in 1..{_MAX_SETTABLE_WORK_FACTOR}")
        self._passphrase = _as_bytes(passphrase)
        self._work_factor = work_factor

    def __repr__(self) -> str:
        return f"ScryptRecipient(<redacted>, work_factor={self._work_factor})"

    def wrap(self, file_key: FileKey) -> list[Stanza]:
        return self._wrap_from_parts(file_key, os.urandom(SALT_SIZE))

    def _wrap_from_parts(self, file_key: FileKey, salt: bytes) -> list[Stanza]:
        wrap_key = _wrap_key(self._passphrase, salt, self._work_factor)
        args = (b64encode(salt), str(self._work_factor))
        return [Stanza(STANZA_TYPE, args, seal_file_key(wrap_key, file_key))]


class ScryptIdentity:
    """Decrypts with a passphrase; refuses work factors above ``max_work_factor``."""

    __slots__ = ("_max_work_factor", "_passphrase")

    def __init__(
        self, passphrase: str | bytes, max_work_factor: int = DEFAULT_MAX_WORK_FACTOR
    ) -> None:
        if not 1 <= max_work_factor <= _MAX_SETTABLE_WORK_FACTOR:
            raise ValueError(f"max work factor must be in 1..{_MAX_SETTABLE_WORK_FACTOR}")
        self._passphrase = _as_bytes(passphrase)
        self._max_work_factor = max_work_factor

    def __repr__(self) -> str:
        return f"ScryptIdentity(<redacted>, max_work_factor={self._max_work_factor})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> FileKey:
        found = [s for s in stanzas if s.type == STANZA_TYPE]
        if not found:
            raise IncorrectIdentityError("no scrypt stanza in the header")
        check_scrypt_alone(stanzas)
        salt, work_factor = self._parse(found[0])
        wrap_key = _wrap_key(self._passphrase, salt, work_factor)
        file_key = open_file_key(wrap_key, found[0].body, STANZA_TYPE)
        if file_key is None:
            raise IncorrectIdentityError("incorrect passphrase")
        return file_key

    def _parse(self, stanza: Stanza) -> tuple[bytes, int]:
        if len(stanza.args) != 2:
            raise HeaderError("invalid scrypt stanza: expected salt and work factor")
        salt = decode_argument(stanza.args[0], SALT_SIZE, "invalid scrypt stanza: salt")
        text = stanza.args[1]
        if _WORK_FACTOR_RE.fullmatch(text) is None:
            raise HeaderError("invalid scrypt stanza: work factor must match ^[1-9][0-9]*$")
        if len(text) > 2 or int(text) > self._max_work_factor:
            raise HeaderError(
                f"invalid scrypt stanza: work factor {text[:8]} exceeds the maximum "
                f"{self._max_work_factor}"
            )
        if len(stanza.body) != WRAPPED_FILE_KEY_SIZE:
            raise HeaderError("invalid scrypt stanza: body must be 32 bytes")
        return salt, int(text)


def check_scrypt_alone(stanzas: Sequence[Stanza]) -> None:
    """C2SP age: an scrypt stanza, if present, MUST be the only stanza in the header."""
    if len(stanzas) > 1 and any(s.type == STANZA_TYPE for s in stanzas):
        raise HeaderError("invalid header: an scrypt stanza must be the only stanza")
