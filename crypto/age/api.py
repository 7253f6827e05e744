"""Public API of camvault's age v1 implementation (C2SP age spec, https://age-encryption.org/v1).

An age file is ``header || payload``. camvault keeps the two apart (DESIGN.md): the header
(stanzas wrapping the 16-byte file key, plus a MAC) lives in the database, the payload
(``nonce || STREAM chunks``) in the object store; exporting a recording joins them again, and
the result decrypts with the standard ``age`` tool.

Typical use::

    identity = generate_identity()
    header, file_key = encrypt_header([identity.recipient()])
    encrypt_payload(file_key, plaintext_stream, payload_stream)
    ...
    header_obj, file_key = decrypt_header([identity], header)
    decrypt_payload(file_key, payload_stream, plaintext_stream)
"""

from __future__ import annotations

import hmac
import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, cast, runtime_checkable

from crypto.age.format import (
    FILE_KEY_SIZE,
    FileKey,
    Header,
    Stanza,
    compute_header_mac,
    encode_header,
    encode_header_without_mac,
    parse_header,
    read_header,
)
from crypto.age.stream import decrypt_payload, encrypt_payload, write_all
from crypto.age.x25519 import (
    X25519Identity,
    X25519Recipient,
    format_identity_file,
    generate_identity,
)
from crypto.errors import (
    AgeError,
    HeaderError,
    IncorrectIdentityError,
    KeyFormatError,
    NoIdentityMatchError,
)

if TYPE_CHECKING:
    from types import ModuleType

    from crypto.age.mlkem import (
        HybridIdentity,
        HybridRecipient,
        format_hybrid_identity_file,
        generate_hybrid_identity,
    )
    from crypto.age.scrypt import ScryptIdentity, ScryptRecipient

# Loaded on first use (PEP 562): the X25519 path of `camvault encrypt` / `decrypt` needs
# neither the post-quantum hybrid (mlkem), nor passphrases (scrypt), nor ASCII armor, and
# importing them is part of every CLI start (docs/PERFORMANCE.md, "CLI start-up").
_LAZY = {
    "HybridIdentity": "crypto.age.mlkem",
    "HybridRecipient": "crypto.age.mlkem",
    "format_hybrid_identity_file": "crypto.age.mlkem",
    "generate_hybrid_identity": "crypto.age.mlkem",
    "ScryptIdentity": "crypto.age.scrypt",
    "ScryptRecipient": "crypto.age.scrypt",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_load(module), name)
    globals()[name] = value
    return value


def _load(module: str) -> ModuleType:
    """Import ``module`` with ``__import__``, as an import statement does, so that it shows in
    ``python -X importtime`` (``importlib.import_module`` bypasses that report)."""
    return __import__(module, fromlist=("__name__",))


def _armor() -> ModuleType:
    return _load("crypto.age.armor")


def _check_scrypt_alone(stanzas: Sequence[Stanza]) -> None:
    """C2SP age: an scrypt stanza must be alone (crypto.age.scrypt, loaded if one is there)."""
    if len(stanzas) > 1 and any(s.type == "scrypt" for s in stanzas):
        _load("crypto.age.scrypt").check_scrypt_alone(stanzas)


__all__ = [
    "AgeError",
    "FileKey",
    "Header",
    "HybridIdentity",
    "HybridRecipient",
    "Identity",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "Stanza",
    "X25519Identity",
    "X25519Recipient",
    "check_labels",
    "decrypt",
    "decrypt_header",
    "decrypt_payload",
    "encrypt",
    "encrypt_header",
    "encrypt_payload",
    "export",
    "format_hybrid_identity_file",
    "format_identity_file",
    "generate_file_key",
    "generate_hybrid_identity",
    "generate_identity",
    "header_mac",
    "parse_header",
    "parse_identity",
    "parse_identity_file",
    "parse_recipient",
    "parse_recipients_file",
    "read_header",
    "seal_header",
    "unwrap_file_key",
    "verify_header_mac",
]

_COPY_SIZE = 64 * 1024
HYBRID_IDENTITY_PREFIX = "AGE-SECRET-KEY-PQ-1"
HYBRID_RECIPIENT_PREFIX = "age1pq1"


@runtime_checkable
class Recipient(Protocol):
    """Wraps a file key into one or more stanzas (C2SP age, "Recipient stanza")."""

    def wrap(self, file_key: FileKey) -> list[Stanza]: ...


@runtime_checkable
class Identity(Protocol):
    """Unwraps the file key from the stanzas addressed to it.

    Raises IncorrectIdentityError when no stanza is for this identity (the caller tries the
    next identity); any other CryptoError is fatal for the file.
    """

    def unwrap(self, stanzas: Sequence[Stanza]) -> FileKey: ...


# --- header -----------------------------------------------------------------------------


def generate_file_key() -> FileKey:
    """16 bytes of CSPRNG output (C2SP age, "File key"); never reuse one across files."""
    return FileKey(os.urandom(FILE_KEY_SIZE))


def header_mac(file_key: FileKey, header_without_mac: bytes) -> bytes:
    """HMAC-SHA-256 keyed by HKDF-SHA-256(file key, "", "header") over the header up to "---"."""
    return compute_header_mac(file_key, header_without_mac)


def seal_header(stanzas: Sequence[Stanza], file_key: FileKey) -> bytes:
    """Encode ``stanzas`` as a complete header with its MAC under ``file_key``.

    Enforces the spec's rule that an scrypt stanza is alone in its header.
    """
    _check_scrypt_alone(stanzas)
    return encode_header(stanzas, header_mac(file_key, encode_header_without_mac(stanzas)))


def encrypt_header(
    recipients: Sequence[Recipient], file_key: FileKey | None = None
) -> tuple[bytes, FileKey]:
    """Wrap a (fresh, unless given) file key for every recipient; return header and key.

    Passing ``file_key`` re-wraps an existing recording for a new set of recipients.
    """
    if not recipients:
        raise HeaderError("encrypting: at least one recipient is required")
    check_labels(recipients)
    key = file_key if file_key is not None else generate_file_key()
    stanzas = [stanza for recipient in recipients for stanza in recipient.wrap(key)]
    return seal_header(stanzas, key), key


def check_labels(recipients: Sequence[Recipient]) -> None:
    """age v1.3's recipient labels: every recipient must carry the same set.

    A recipient may have a ``labels`` attribute (a frozenset; none means the empty set).
    The hybrid type carries "postquantum", so it cannot be mixed with X25519 (the file would
    be no stronger than its weakest recipient), as in age's ``encryptHdr``. Decryption does
    not check labels: a header mixing both still decrypts with either identity, as in age.
    """
    sets = [frozenset(getattr(r, "labels", frozenset())) for r in recipients]
    for labels in sets[1:]:
        if labels == sets[0]:
            continue
        from crypto.age.mlkem import POSTQUANTUM_LABEL

        if (POSTQUANTUM_LABEL in labels) != (POSTQUANTUM_LABEL in sets[0]):
            raise HeaderError(
                "incompatible recipients: can't mix post-quantum and classic recipients, "
                "or the file would be vulnerable to quantum computers"
            )
        raise HeaderError(f"incompatible recipients: {sorted(sets[0])} and {sorted(labels)}")


def verify_header_mac(header_bytes: bytes, file_key: FileKey) -> Header:
    """Parse a complete header (including its MAC line) and check its MAC under ``file_key``.

    Raises HeaderError if the header is malformed or the MAC does not match.
    """
    header = parse_header(header_bytes)
    _check_mac(header, file_key)
    return header


def _check_mac(header: Header, file_key: FileKey) -> None:
    expected = header_mac(file_key, header.encode_without_mac())
    if not hmac.compare_digest(expected, header.mac):
        raise HeaderError("header MAC mismatch: wrong file key or modified header")


def unwrap_file_key(identities: Sequence[Identity], header: Header) -> FileKey:
    """Try each identity on the header's stanzas; the first that unwraps wins.

    Does not check the MAC (see ``decrypt_header``). Raises NoIdentityMatchError if no
    identity matches, HeaderError for a malformed stanza of a known type.
    """
    _check_scrypt_alone(header.stanzas)
    for identity in identities:
        try:
            return identity.unwrap(header.stanzas)
        except IncorrectIdentityError:
            continue
    raise NoIdentityMatchError("no identity matched any of the file's recipients")


def decrypt_header(identities: Sequence[Identity], header_bytes: bytes) -> tuple[Header, FileKey]:
    """Parse a stored header, unwrap its file key and verify its MAC."""
    header = parse_header(header_bytes)
    file_key = unwrap_file_key(identities, header)
    _check_mac(header, file_key)
    return header, file_key


# --- whole files ------------------------------------------------------------------------


def encrypt(
    recipients: Sequence[Recipient], src: BinaryIO, dst: BinaryIO, *, armor: bool = False
) -> None:
    """Encrypt all of ``src`` into an age file written to ``dst`` (ASCII-armored on request)."""
    header, file_key = encrypt_header(recipients)
    if not armor:
        write_all(dst, header)
        encrypt_payload(file_key, src, dst)
        return
    writer = _armor().ArmorWriter(dst)
    writer.write(header)
    encrypt_payload(file_key, src, cast(BinaryIO, writer))
    writer.finish()


def decrypt(
    identities: Sequence[Identity],
    src: BinaryIO,
    dst: BinaryIO,
    *,
    armored: bool | None = None,
) -> None:
    """Decrypt the age file in ``src`` into ``dst``.

    ``armored=None`` detects ASCII armor from the first byte (a binary age file starts with
    "age-encryption.org/"); True or False forces the choice. Plaintext is written chunk by
    chunk, each only after it authenticated; on error an exception is raised and ``dst``
    holds the authenticated prefix only.
    """
    stream = _open_input(src, armored)
    header = read_header(stream)
    file_key = unwrap_file_key(identities, header)
    _check_mac(header, file_key)
    decrypt_payload(file_key, stream, dst)


class _Prefixed(io.RawIOBase):
    """``prefix`` followed by the rest of ``src`` (to put back peeked bytes)."""

    def __init__(self, prefix: bytes, src: BinaryIO) -> None:
        super().__init__()
        self._prefix = prefix
        self._src = src

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            data, self._prefix = self._prefix[: len(b)], self._prefix[len(b) :]
        else:
            try:  # straight into the caller's buffer: no copy
                n = self._src.readinto(b)  # type: ignore[attr-defined]
            except (AttributeError, NotImplementedError):  # a stream with read() only
                data = self._src.read(len(b))
            else:
                if n is None:  # non-blocking, nothing yet: not the end of the file
                    raise BlockingIOError("the source is non-blocking and has no data yet")
                return int(n)
        b[: len(data)] = data
        return len(data)


def _open_input(src: BinaryIO, armored: bool | None) -> BinaryIO:
    if armored is None:
        first = src.read(1)
        # A binary age file starts with "a" (age-encryption.org/): no need for the armor module.
        armored = first != b"a" and _armor().is_armored(first)
        src = io.BufferedReader(_Prefixed(first, src))
    return _armor().reader(src) if armored else src


def export(header_bytes: bytes, payload: BinaryIO, dst: BinaryIO, *, armor: bool = False) -> None:
    """Write the age file ``header || payload`` (e.g. a stored recording) to ``dst``.

    The header's grammar is checked (its MAC needs the file key and is not); the payload is
    copied as is, in constant memory.
    """
    parse_header(header_bytes)
    if armor:
        writer = _armor().ArmorWriter(dst)
        _copy(header_bytes, payload, cast(BinaryIO, writer))
        writer.finish()
    else:
        _copy(header_bytes, payload, dst)


def _copy(header_bytes: bytes, payload: BinaryIO, dst: BinaryIO) -> None:
    write_all(dst, header_bytes)
    while chunk := payload.read(_COPY_SIZE):
        write_all(dst, chunk)


# --- key files --------------------------------------------------------------------------


def _key_lines(text: str) -> list[tuple[int, str]]:
    """Non-empty, non-comment lines with their 1-based numbers (LF or CRLF endings)."""
    lines = [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1)]
    return [(n, line) for n, line in lines if line and not line.startswith("#")]


def parse_identity(text: str) -> X25519Identity | HybridIdentity:
    """One secret key: ``AGE-SECRET-KEY-PQ-1...`` (hybrid) or ``AGE-SECRET-KEY-1...``.

    Dispatch is on the prefix only; the chosen type's parser checks the Bech32 checksum.
    """
    if text.upper().startswith(HYBRID_IDENTITY_PREFIX):
        from crypto.age.mlkem import HybridIdentity

        return HybridIdentity.parse(text)
    return X25519Identity.parse(text)


def parse_recipient(text: str) -> X25519Recipient | HybridRecipient:
    """One public key: ``age1pq1...`` (hybrid) or ``age1...`` (X25519)."""
    if text.lower().startswith(HYBRID_RECIPIENT_PREFIX):
        from crypto.age.mlkem import HybridRecipient

        return HybridRecipient.parse(text)
    return X25519Recipient.parse(text)


def parse_identity_file(text: str) -> list[Identity]:
    """Identities of an ``age-keygen``-style file: ``#`` comments, then one key per line.

    Messages name the line number only: a malformed line may be a secret.
    """
    identities: list[Identity] = []
    for number, line in _key_lines(text):
        try:
            identities.append(parse_identity(line))
        except KeyFormatError as exc:
            raise KeyFormatError(f"identity file line {number}: {exc}") from None
    if not identities:
        raise KeyFormatError("identity file contains no identity")
    return identities


def parse_recipients_file(text: str) -> list[Recipient]:
    """Recipients of a recipients file: ``#`` comments and one ``age1...`` per line."""
    recipients: list[Recipient] = []
    for number, line in _key_lines(text):
        try:
            recipients.append(parse_recipient(line.strip()))
        except KeyFormatError as exc:
            raise KeyFormatError(f"recipients file line {number}: {exc}") from None
    if not recipients:
        raise KeyFormatError("recipients file contains no recipient")
    return recipients
