"""The native X25519 recipient type (C2SP age, "The X25519 recipient type").

Keys are Bech32: recipients ``age1...`` (lowercase), identities ``AGE-SECRET-KEY-1...``
(uppercase). A stanza is ``-> X25519 base64(ephemeral share)`` with a 32-byte body::

    shared secret = X25519(ephemeral secret, recipient)
    wrap key      = HKDF-SHA-256(ikm = shared secret, salt = ephemeral share || recipient,
                                 info = "age-encryption.org/v1/X25519")
    body          = ChaCha20-Poly1305(wrap key, nonce = 12 zero bytes, file key)

The file-key sealing helpers below are shared by the native stanza types (X25519, scrypt).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from nacl.bindings import crypto_scalarmult, crypto_scalarmult_base

from crypto.age import bech32
from crypto.age.format import FILE_KEY_SIZE, FileKey, Stanza, decode_argument
from crypto.encoding import b64encode
from crypto.errors import HeaderError, IncorrectIdentityError, KeyFormatError
from crypto.hkdf import hkdf_sha256

if TYPE_CHECKING:
    from datetime import datetime  # an annotation only: not imported by encrypt/decrypt

X25519_LABEL = b"age-encryption.org/v1/X25519"
STANZA_TYPE = "X25519"
RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
KEY_SIZE = 32
WRAPPED_FILE_KEY_SIZE = FILE_KEY_SIZE + 16
_ZERO_NONCE = bytes(12)


# --- file-key sealing shared by native stanzas ------------------------------------------


def seal_file_key(wrap_key: bytes, file_key: FileKey) -> bytes:
    """body = ChaCha20-Poly1305(key = wrap key, nonce = 12 zero bytes, plaintext = file key)."""
    return ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key.data, None)


def open_file_key(wrap_key: bytes, body: bytes, stanza_type: str) -> FileKey | None:
    """Open a 32-byte stanza body; None if the tag does not verify (not for this key).

    The length is checked before decrypting, as the spec requires, to deny partitioning
    oracles a multi-length ciphertext.
    """
    if len(body) != WRAPPED_FILE_KEY_SIZE:
        raise HeaderError(f"invalid {stanza_type} stanza: body must be 32 bytes")
    try:
        return FileKey(ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None))
    except InvalidTag:
        return None


_P25519 = 2**255 - 19
_PROBE_SCALAR = b"\x01" * KEY_SIZE  # clamped by X25519 to a multiple of 8: kills low order


def normalized_public_key(public_key: bytes) -> int:
    """The field element X25519 actually uses for ``public_key``.

    RFC 7748 section 5: the high bit of the last byte is masked and non-canonical values
    (>= 2^255 - 19) are reduced, so several byte strings name the same key. Compare keys by
    this value when two of them must not be "the same key in another spelling".
    """
    return (int.from_bytes(public_key, "little") & ((1 << 255) - 1)) % _P25519


def check_public_key(public_key: bytes, what: str) -> None:
    """Refuse a non-canonical encoding or a low-order point (KeyFormatError).

    Used for keys that must be unique in a key set (custodian escrow keys): a second
    spelling of one custodian's key would hand that custodian two shares.
    """
    if normalized_public_key(public_key) != int.from_bytes(public_key, "little"):
        raise KeyFormatError(
            f"{what}: non-canonical X25519 public key (high bit set or value >= 2^255-19)"
        )
    try:
        probe = crypto_scalarmult(_PROBE_SCALAR, public_key)
    except nacl.exceptions.RuntimeError:
        probe = bytes(KEY_SIZE)
    if hmac.compare_digest(probe, bytes(KEY_SIZE)):
        raise KeyFormatError(f"{what}: X25519 public key is a low-order point")


def _x25519(scalar: bytes, point: bytes) -> bytes:
    """X25519 (RFC 7748); an all-zero result (low-order point) is refused."""
    try:
        shared = crypto_scalarmult(scalar, point)
    except nacl.exceptions.RuntimeError:
        shared = bytes(KEY_SIZE)  # libsodium refuses an all-zero output
    if hmac.compare_digest(shared, bytes(KEY_SIZE)):
        raise HeaderError("invalid X25519 stanza: shared secret is all zeros (low-order point)")
    return shared


def _wrap_key(shared: bytes, share: bytes, recipient: bytes) -> bytes:
    return hkdf_sha256(shared, share + recipient, X25519_LABEL)


# --- recipient --------------------------------------------------------------------------


class X25519Recipient:
    """An ``age1...`` public key."""

    __slots__ = ("_public",)

    def __init__(self, public_key: bytes) -> None:
        if not isinstance(public_key, bytes) or len(public_key) != KEY_SIZE:
            raise KeyFormatError("X25519 recipient must be 32 bytes")
        self._public = public_key

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        """Parse ``age1...``; only the lowercase form is accepted, as age writes it."""
        hrp, data = bech32.decode(text)
        if hrp != RECIPIENT_HRP:
            raise KeyFormatError(f"not an age X25519 recipient (prefix {hrp!r}, want 'age1')")
        if len(data) != KEY_SIZE:
            raise KeyFormatError("age X25519 recipient must encode 32 bytes")
        return cls(data)

    @property
    def public_key(self) -> bytes:
        return self._public

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._public)

    def __repr__(self) -> str:
        return f"X25519Recipient({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other._public == self._public

    def __hash__(self) -> int:
        return hash(self._public)

    def wrap(self, file_key: FileKey) -> list[Stanza]:
        return self._wrap_from_parts(file_key, os.urandom(KEY_SIZE))

    def _wrap_from_parts(self, file_key: FileKey, ephemeral_secret: bytes) -> list[Stanza]:
        share = crypto_scalarmult_base(ephemeral_secret)
        try:
            shared = _x25519(ephemeral_secret, self._public)
        except HeaderError:
            raise KeyFormatError("X25519 recipient is a low-order point") from None
        body = seal_file_key(_wrap_key(shared, share, self._public), file_key)
        return [Stanza(STANZA_TYPE, (b64encode(share),), body)]


# --- identity ---------------------------------------------------------------------------


class X25519Identity:
    """An ``AGE-SECRET-KEY-1...`` secret key. ``str()`` encodes it; ``repr()`` never does."""

    __slots__ = ("_public", "_secret")

    def __init__(self, secret_key: bytes) -> None:
        if not isinstance(secret_key, bytes) or len(secret_key) != KEY_SIZE:
            raise KeyFormatError("X25519 identity must be 32 bytes")
        self._secret = secret_key
        self._public = crypto_scalarmult_base(secret_key)

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(os.urandom(KEY_SIZE))

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        """Parse ``AGE-SECRET-KEY-1...``; only the uppercase form is accepted.

        Error messages never include the input, which is a secret.
        """
        try:
            hrp, data = bech32.decode(text)
        except KeyFormatError as exc:
            raise KeyFormatError(f"malformed age secret key: {exc}") from None
        if hrp != IDENTITY_HRP:
            raise KeyFormatError("not an age X25519 secret key (want 'AGE-SECRET-KEY-1...')")
        if len(data) != KEY_SIZE:
            raise KeyFormatError("age X25519 secret key must encode 32 bytes")
        return cls(data)

    def recipient(self) -> X25519Recipient:
        return X25519Recipient(self._public)

    def to_text(self) -> str:
        """The secret key string ``AGE-SECRET-KEY-1...`` (handle like the key itself).

        Deliberately not ``__str__``: formatting an identity into a log line must not leak it.
        """
        return bech32.encode(IDENTITY_HRP, self._secret)

    def __str__(self) -> str:
        return repr(self)

    def __repr__(self) -> str:
        return f"X25519Identity(<redacted>, recipient={self.recipient()})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> FileKey:
        """Return the file key from the first X25519 stanza that opens with this key.

        Malformed X25519 stanzas are fatal (HeaderError); stanzas of other types are ignored.
        """
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            file_key = self._unwrap_one(stanza)
            if file_key is not None:
                return file_key
        raise IncorrectIdentityError("no X25519 stanza for this identity")

    def _unwrap_one(self, stanza: Stanza) -> FileKey | None:
        if len(stanza.args) != 1:
            raise HeaderError("invalid X25519 stanza: expected exactly one argument")
        share = decode_argument(stanza.args[0], KEY_SIZE, "invalid X25519 stanza: ephemeral share")
        if len(stanza.body) != WRAPPED_FILE_KEY_SIZE:
            raise HeaderError("invalid X25519 stanza: body must be 32 bytes")
        shared = _x25519(self._secret, share)
        return open_file_key(_wrap_key(shared, share, self._public), stanza.body, STANZA_TYPE)


def generate_identity() -> X25519Identity:
    """A fresh X25519 identity from the OS CSPRNG."""
    return X25519Identity.generate()


def format_identity_file(identity: X25519Identity, created: datetime) -> str:
    """The identity file text ``age-keygen`` writes (readable by ``age -d -i``)::

    # created: 2006-01-02T15:04:05Z
    # public key: age1...
    AGE-SECRET-KEY-1...
    """
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    stamp = created.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return f"# created: {stamp}\n# public key: {identity.recipient()}\n{identity.to_text()}\n"
