"""The hybrid post-quantum recipient type ``mlkem768x25519`` (C2SP age, age v1.3).

Spec: c2sp.org/age, "The mlkem768x25519 recipient type"; reference implementation
filippo.io/age v1.3 ``pq.go``. Nothing here is a new primitive, only the spec's composition:

* The KEM is MLKEM768-X25519 (draft-ietf-hpke-pq, HPKE KEM id 0x647A, the X-Wing combiner):
  a 32-byte seed is the private key; SHAKE256(seed, 96 bytes) gives the ML-KEM-768 seed
  (d || z, 64 bytes) and the X25519 secret (32 bytes). The public key is the ML-KEM-768
  encapsulation key (1184 bytes) || the X25519 public key (32 bytes); ``enc`` is the ML-KEM
  ciphertext (1088 bytes) || the ephemeral X25519 share (32 bytes).
* The file key is sealed with HPKE (RFC 9180) base mode, KDF HKDF-SHA256, AEAD
  ChaCha20-Poly1305, info ``"age-encryption.org/mlkem768x25519"``, empty AAD, one Seal.
  ``cryptography``'s HPKE Suite does the KEM combiner and the key schedule.
* Keys are Bech32 (no length limit): recipients ``age1pq1...`` (HRP ``age1pq``), identities
  ``AGE-SECRET-KEY-PQ-1...`` (the 32-byte seed).
* A stanza is ``-> mlkem768x25519 base64(enc)`` with a 32-byte body (file key + tag).

age refuses to encrypt to a hybrid recipient together with classic ones (the file would be
no stronger than X25519): :data:`POSTQUANTUM_LABEL` carries that rule to ``encrypt_header``.
Decryption does not care what else is in the header, as in age.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from crypto.age import bech32
from crypto.age.format import FILE_KEY_SIZE, FileKey, Stanza, decode_argument
from crypto.encoding import b64encode
from crypto.errors import HeaderError, IncorrectIdentityError, KeyFormatError

STANZA_TYPE = "mlkem768x25519"
HPKE_INFO = b"age-encryption.org/mlkem768x25519"
RECIPIENT_HRP = "age1pq"
IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
POSTQUANTUM_LABEL = "postquantum"  # age's RecipientWithLabels label for this type

SEED_SIZE = 32
MLKEM_SEED_SIZE = 64
MLKEM_PUBLIC_SIZE = 1184
MLKEM_CIPHERTEXT_SIZE = 1088
X25519_SIZE = 32
PUBLIC_KEY_SIZE = MLKEM_PUBLIC_SIZE + X25519_SIZE  # 1216
ENC_SIZE = MLKEM_CIPHERTEXT_SIZE + X25519_SIZE  # 1120
BODY_SIZE = FILE_KEY_SIZE + 16  # ChaCha20-Poly1305 tag

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def _expand_seed(seed: bytes) -> tuple[mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey]:
    """draft-ietf-hpke-pq / X-Wing: SHAKE256(seed, 96) = ML-KEM seed (64) || X25519 secret."""
    shake = hashes.Hash(hashes.SHAKE256(MLKEM_SEED_SIZE + X25519_SIZE))
    shake.update(seed)
    expanded = shake.finalize()
    return (
        mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:MLKEM_SEED_SIZE]),
        x25519.X25519PrivateKey.from_private_bytes(expanded[MLKEM_SEED_SIZE:]),
    )


# --- recipient --------------------------------------------------------------------------


class HybridRecipient:
    """An ``age1pq1...`` public key (ML-KEM-768 encapsulation key || X25519 public key)."""

    __slots__ = ("_hpke", "_public")

    labels = frozenset({POSTQUANTUM_LABEL})

    def __init__(self, public_key: bytes) -> None:
        if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_SIZE:
            raise KeyFormatError(f"mlkem768x25519 recipient must be {PUBLIC_KEY_SIZE} bytes")
        try:  # FIPS 203 encapsulation-key check (coefficients reduced mod q), as age does
            mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:MLKEM_PUBLIC_SIZE])
        except ValueError:
            raise KeyFormatError("invalid MLKEM768-X25519 public key") from None
        x_key = x25519.X25519PublicKey.from_public_bytes(public_key[MLKEM_PUBLIC_SIZE:])
        self._public = public_key
        self._hpke = hpke.MLKEM768X25519PublicKey(mlkem_key, x_key)

    @classmethod
    def parse(cls, text: str) -> HybridRecipient:
        """Parse ``age1pq1...`` (lowercase, as age writes it)."""
        hrp, data = bech32.decode(text)
        if hrp != RECIPIENT_HRP:
            raise KeyFormatError(f"not an age hybrid recipient (prefix {hrp!r}, want 'age1pq1')")
        return cls(data)

    @property
    def public_key(self) -> bytes:
        return self._public

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._public)

    def __repr__(self) -> str:
        return f"HybridRecipient({str(self)[:20]}...)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridRecipient) and other._public == self._public

    def __hash__(self) -> int:
        return hash(self._public)

    def wrap(self, file_key: FileKey) -> list[Stanza]:
        """One stanza: HPKE SealBase(pk, info, aad = "", file key), enc as the argument."""
        try:
            sealed = _SUITE.encrypt(file_key.data, self._hpke, info=HPKE_INFO)
        except ValueError:  # X25519 half is a low-order point: all-zero shared secret
            raise KeyFormatError("invalid MLKEM768-X25519 public key") from None
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        return [Stanza(STANZA_TYPE, (b64encode(enc),), body)]


# --- identity ---------------------------------------------------------------------------


class HybridIdentity:
    """An ``AGE-SECRET-KEY-PQ-1...`` seed. ``to_text()`` encodes it; ``repr()`` never does."""

    __slots__ = ("_hpke", "_public", "_seed", "_x25519")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise KeyFormatError(f"mlkem768x25519 identity must be {SEED_SIZE} bytes")
        mlkem_key, x_key = _expand_seed(seed)
        self._seed = seed
        self._x25519 = x_key
        self._hpke = hpke.MLKEM768X25519PrivateKey(mlkem_key, x_key)
        self._public = (
            mlkem_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> HybridIdentity:
        return cls(os.urandom(SEED_SIZE))

    @classmethod
    def parse(cls, text: str) -> HybridIdentity:
        """Parse ``AGE-SECRET-KEY-PQ-1...``; messages never include the input (a secret)."""
        try:
            hrp, data = bech32.decode(text)
        except KeyFormatError as exc:
            raise KeyFormatError(f"malformed age secret key: {exc}") from None
        if hrp != IDENTITY_HRP:
            raise KeyFormatError("not an age hybrid secret key (want 'AGE-SECRET-KEY-PQ-1...')")
        if len(data) != SEED_SIZE:
            raise KeyFormatError(f"age hybrid secret key must encode {SEED_SIZE} bytes")
        return cls(data)

    def recipient(self) -> HybridRecipient:
        return HybridRecipient(self._public)

    def to_text(self) -> str:
        """``AGE-SECRET-KEY-PQ-1...`` (handle like the key; deliberately not ``__str__``)."""
        return bech32.encode(IDENTITY_HRP, self._seed)

    def __str__(self) -> str:
        return repr(self)

    def __repr__(self) -> str:
        return "HybridIdentity(<redacted>)"

    def unwrap(self, stanzas: Sequence[Stanza]) -> FileKey:
        """The file key from the first mlkem768x25519 stanza that opens with this key.

        Malformed stanzas of this type are fatal (HeaderError); other types are ignored.
        """
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            file_key = self._unwrap_one(stanza)
            if file_key is not None:
                return file_key
        raise IncorrectIdentityError("no mlkem768x25519 stanza for this identity")

    def _unwrap_one(self, stanza: Stanza) -> FileKey | None:
        if len(stanza.args) != 1:
            raise HeaderError("invalid mlkem768x25519 stanza: expected exactly one argument")
        enc = decode_argument(stanza.args[0], ENC_SIZE, "invalid mlkem768x25519 stanza: enc")
        # Length first, before any decryption: no partitioning oracle on a longer body.
        if len(stanza.body) != BODY_SIZE:
            raise HeaderError(f"invalid mlkem768x25519 stanza: body must be {BODY_SIZE} bytes")
        # RFC 7748 / the X25519 half of the KEM: an all-zero shared secret (low-order share)
        # is an error. cryptography's HPKE reports it as a failed tag, age as a malformed
        # stanza, so it is checked here to fail the file rather than try the next stanza.
        share = x25519.X25519PublicKey.from_public_bytes(enc[MLKEM_CIPHERTEXT_SIZE:])
        try:
            self._x25519.exchange(share)
        except ValueError:
            raise HeaderError(
                "invalid mlkem768x25519 stanza: X25519 shared secret is all zeros"
            ) from None
        try:
            # ML-KEM decapsulation rejects implicitly: a wrong key or a corrupted enc only
            # shows as a failed tag, i.e. "not for this identity".
            return FileKey(_SUITE.decrypt(enc + stanza.body, self._hpke, info=HPKE_INFO))
        except InvalidTag:
            return None


def generate_hybrid_identity() -> HybridIdentity:
    """A fresh hybrid identity from the OS CSPRNG."""
    return HybridIdentity.generate()


def format_hybrid_identity_file(identity: HybridIdentity, created: datetime) -> str:
    """The identity file ``age-keygen -pq`` writes (readable by age 1.3 ``-d -i``)."""
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    stamp = created.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return f"# created: {stamp}\n# public key: {identity.recipient()}\n{identity.to_text()}\n"
