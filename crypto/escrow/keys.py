"""Custodian and session keys of the escrow scheme (X25519, RFC 7748).

A custodian's key pair receives shares in escrow stanzas; an operator's per-request session
key pair receives the shares custodians release. Text forms follow age's key encoding
(Bech32, BIP 173): ``camvault-custodian1...`` for a custodian public key and uppercase
``CAMVAULT-CUSTODIAN-SECRET-KEY-1...`` for the secret key.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Self

import nacl.bindings

from crypto.age import bech32
from crypto.age.x25519 import check_public_key
from crypto.encoding import b64encode
from crypto.errors import KeyFormatError

#: Domain prefix of the custodian key id hash.
KEY_ID_LABEL = b"camvault.io/v1/escrow-key-id\n"
#: Bech32 human-readable parts of custodian keys (like age's "age" and "AGE-SECRET-KEY-").
PUBLIC_KEY_HRP = "camvault-custodian"
SECRET_KEY_HRP = "CAMVAULT-CUSTODIAN-SECRET-KEY-"  # noqa: S105 (a prefix, not a key)

KEY_SIZE = 32
KEY_ID_SIZE = 4


def check_secret_key(secret: object, what: str) -> bytes:
    if not isinstance(secret, bytes) or len(secret) != KEY_SIZE:
        raise KeyFormatError(f"{what}: an X25519 secret key is {KEY_SIZE} bytes")
    return secret


# --- keys -------------------------------------------------------------------------------------


def _bech32_key(text: object, hrp: str, what: str) -> bytes:
    """The bytes of a Bech32 key text with human-readable part ``hrp``."""
    if not isinstance(text, str):
        raise KeyFormatError(f"{what} must be a string")
    found, data = bech32.decode(text)
    if found != hrp:
        raise KeyFormatError(f"not a {what} (want prefix {hrp}1)")
    return data


class CustodianPublicKey:
    """A custodian's X25519 public key.

    Text form: Bech32 (BIP 173, as age encodes its keys) with human-readable part
    ``camvault-custodian``, lowercase: ``camvault-custodian1`` + 52 + 6 checksum characters.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise KeyFormatError(f"custodian public key must be {KEY_SIZE} bytes")
        check_public_key(key, "custodian public key")
        self._key = key

    @property
    def data(self) -> bytes:
        return self._key

    def key_id(self) -> str:
        """Short, public hint naming this key in stanzas: base64(SHA-256(label || pk)[:4])."""
        return b64encode(hashlib.sha256(KEY_ID_LABEL + self._key).digest()[:KEY_ID_SIZE])

    def to_text(self) -> str:
        return bech32.encode(PUBLIC_KEY_HRP, self._key)

    @classmethod
    def from_text(cls, text: str) -> CustodianPublicKey:
        """Parse ``camvault-custodian1...`` (lowercase Bech32, as :meth:`to_text` writes)."""
        return cls(_bech32_key(text, PUBLIC_KEY_HRP, "custodian public key"))

    def __repr__(self) -> str:
        return f"CustodianPublicKey({self.to_text()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CustodianPublicKey) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)


class _X25519SecretKey:
    __slots__ = ("_public", "_secret")
    _what = "X25519 secret key"

    def __init__(self, secret: bytes) -> None:
        self._secret = check_secret_key(secret, self._what)
        # Computed once: a custodian opens thousands of stanzas per request.
        self._public: bytes = nacl.bindings.crypto_scalarmult_base(self._secret)

    @classmethod
    def generate(cls) -> Self:
        return cls(secrets.token_bytes(KEY_SIZE))

    def _public_bytes(self) -> bytes:
        return self._public

    def secret_bytes(self) -> bytes:
        """The raw secret key, for the owner's key storage only."""
        return self._secret

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"


class CustodianKey(_X25519SecretKey):
    """A custodian's X25519 escrow key (secret). Text form: uppercase Bech32 with
    human-readable part ``CAMVAULT-CUSTODIAN-SECRET-KEY-``, like age's identities."""

    __slots__ = ("_key_id", "_public_key")
    _what = "custodian key"

    def __init__(self, secret: bytes) -> None:
        super().__init__(secret)
        self._public_key = CustodianPublicKey(self._public)
        self._key_id = self._public_key.key_id()

    def public_key(self) -> CustodianPublicKey:
        return self._public_key

    def key_id(self) -> str:
        """The key id of :meth:`public_key` (cached)."""
        return self._key_id

    def to_text(self) -> str:
        return bech32.encode(SECRET_KEY_HRP, self._secret)

    @classmethod
    def from_text(cls, text: str) -> CustodianKey:
        """Parse ``CAMVAULT-CUSTODIAN-SECRET-KEY-1...`` (uppercase Bech32)."""
        return cls(_bech32_key(text, SECRET_KEY_HRP, "custodian key"))


class SessionKey(_X25519SecretKey):
    """An operator's per-request X25519 session key (secret); released shares are sealed to
    its public key (32 raw bytes, :meth:`public_key`)."""

    __slots__ = ()
    _what = "session key"

    def public_key(self) -> bytes:
        return self._public_bytes()
