"""Hybrid (post-quantum) custodian escrow keys: ML-KEM-768 + X25519, as age's mlkem768x25519.

A hybrid custodian key is the key of age 1.3's ``mlkem768x25519`` recipient type (C2SP age,
"The mlkem768x25519 recipient type"; the KEM MLKEM768-X25519 of draft-ietf-hpke-pq): a
32-byte seed from which SHAKE256 expands the ML-KEM-768 seed and the X25519 secret; its public
key is the ML-KEM-768 encapsulation key (1184 bytes) || the X25519 public key (32 bytes).
Everything cryptographic is :mod:`crypto.age.mlkem`'s (the HPKE suite of pyca/cryptography,
RFC 9180 base mode, HKDF-SHA256, ChaCha20-Poly1305); this module only gives the keys their own
text forms and key ids, so that an escrow key is never mistaken for a customer's age recipient:

* public: Bech32 (no length limit, as age) with HRP ``camvault-custodian-pq``;
* secret: uppercase Bech32 of the seed with HRP ``CAMVAULT-CUSTODIAN-PQ-SECRET-KEY-``;
* key id (names the key in stanzas): base64(SHA-256(``camvault.io/v1/escrow-pq-key-id`` LF
  || public key)[:4]).
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem as _mlkem
from cryptography.hazmat.primitives.asymmetric import x25519

from crypto.age import bech32
from crypto.age.mlkem import (
    _SUITE,
    ENC_SIZE,
    MLKEM_PUBLIC_SIZE,
    PUBLIC_KEY_SIZE,
    SEED_SIZE,
    _expand_seed,
)
from crypto.age.x25519 import check_public_key
from crypto.encoding import b64encode
from crypto.errors import EscrowError, KeyFormatError
from crypto.escrow.keys import KEY_ID_SIZE, _bech32_key

#: Domain prefix of the hybrid key id hash (differs from the X25519 key id's).
HYBRID_KEY_ID_LABEL = b"camvault.io/v1/escrow-pq-key-id\n"
HYBRID_PUBLIC_KEY_HRP = "camvault-custodian-pq"
HYBRID_SECRET_KEY_HRP = "CAMVAULT-CUSTODIAN-PQ-SECRET-KEY-"  # noqa: S105 (a prefix, not a key)


class HybridCustodianPublicKey:
    """A custodian's ML-KEM-768 + X25519 escrow public key (1216 bytes)."""

    __slots__ = ("_hpke", "_key", "_key_id")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != PUBLIC_KEY_SIZE:
            raise KeyFormatError(f"hybrid custodian public key must be {PUBLIC_KEY_SIZE} bytes")
        try:  # FIPS 203 encapsulation-key check, as age does for age1pq1 recipients
            mlkem_key = _mlkem.MLKEM768PublicKey.from_public_bytes(key[:MLKEM_PUBLIC_SIZE])
        except ValueError:
            raise KeyFormatError("invalid ML-KEM-768 half of a hybrid custodian key") from None
        check_public_key(key[MLKEM_PUBLIC_SIZE:], "X25519 half of a hybrid custodian key")
        x_key = x25519.X25519PublicKey.from_public_bytes(key[MLKEM_PUBLIC_SIZE:])
        self._key = key
        self._hpke = hpke.MLKEM768X25519PublicKey(mlkem_key, x_key)
        digest = hashlib.sha256(HYBRID_KEY_ID_LABEL + key).digest()
        self._key_id = b64encode(digest[:KEY_ID_SIZE])

    @property
    def data(self) -> bytes:
        return self._key

    @property
    def x25519_half(self) -> bytes:
        return self._key[MLKEM_PUBLIC_SIZE:]

    def key_id(self) -> str:
        """Short public hint naming this key in hybrid stanzas (4 bytes, base64)."""
        return self._key_id

    def seal(self, plaintext: bytes, info: bytes) -> tuple[bytes, bytes]:
        """HPKE SealBase (RFC 9180 section 6.1) to this key: ``(enc, ciphertext)``.

        The KEM's encapsulation randomness comes from OpenSSL (pyca/cryptography exposes no
        way to fix it), so a hybrid stanza is never reproducible byte for byte.
        """
        try:
            sealed = _SUITE.encrypt(plaintext, self._hpke, info=info)
        except ValueError:  # pragma: no cover - the X25519 half is checked in __init__
            raise EscrowError("invalid hybrid custodian key") from None
        return sealed[:ENC_SIZE], sealed[ENC_SIZE:]

    def to_text(self) -> str:
        return bech32.encode(HYBRID_PUBLIC_KEY_HRP, self._key)

    @classmethod
    def from_text(cls, text: str) -> HybridCustodianPublicKey:
        """Parse ``camvault-custodian-pq1...`` (lowercase Bech32, as :meth:`to_text` writes)."""
        return cls(_bech32_key(text, HYBRID_PUBLIC_KEY_HRP, "hybrid custodian public key"))

    def __repr__(self) -> str:
        return f"HybridCustodianPublicKey({self.to_text()[:32]}...)"

    def __str__(self) -> str:
        return self.to_text()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridCustodianPublicKey) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)


class HybridCustodianKey:
    """A custodian's hybrid escrow key (secret): the 32-byte seed of an mlkem768x25519 key."""

    __slots__ = ("_hpke", "_public_key", "_seed")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise KeyFormatError(f"hybrid custodian key: the seed is {SEED_SIZE} bytes")
        mlkem_key, x_key = _expand_seed(seed)
        self._seed = seed
        self._hpke = hpke.MLKEM768X25519PrivateKey(mlkem_key, x_key)
        self._public_key = HybridCustodianPublicKey(
            mlkem_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> HybridCustodianKey:
        return cls(os.urandom(SEED_SIZE))

    def public_key(self) -> HybridCustodianPublicKey:
        return self._public_key

    def key_id(self) -> str:
        return self._public_key.key_id()

    def secret_bytes(self) -> bytes:
        """The seed, for the owner's key storage only."""
        return self._seed

    def open(self, enc: bytes, ciphertext: bytes, info: bytes) -> bytes | None:
        """HPKE OpenBase (RFC 9180 section 6.1); None if the tag does not verify.

        ML-KEM decapsulation rejects implicitly: a wrong key or a tampered ML-KEM ciphertext
        gives another shared secret, i.e. a failed tag, like tampered X25519 bytes or info.
        """
        try:
            return _SUITE.decrypt(enc + ciphertext, self._hpke, info=info)
        except InvalidTag:
            return None

    def to_text(self) -> str:
        return bech32.encode(HYBRID_SECRET_KEY_HRP, self._seed)

    @classmethod
    def from_text(cls, text: str) -> HybridCustodianKey:
        """Parse ``CAMVAULT-CUSTODIAN-PQ-SECRET-KEY-1...`` (uppercase Bech32)."""
        return cls(_bech32_key(text, HYBRID_SECRET_KEY_HRP, "hybrid custodian key"))

    def __repr__(self) -> str:
        return "HybridCustodianKey(<redacted>)"
