"""Ed25519 key types for camvault's signed statements (RFC 8032, via libsodium/PyNaCl).

Text forms (one per key kind, see docs/FORMAT.md part 3):

- public key:  ``ed25519:`` || base64url-unpadded(32-byte RFC 8032 public key)   (51 chars)
- signing key: ``ed25519-secret:`` || base64url-unpadded(32-byte RFC 8032 seed)
- signature:   base64url-unpadded(64-byte RFC 8032 signature)                    (86 chars)

Base64url is RFC 4648 section 5 without padding; decoding is strict (the text must be exactly
what encoding the decoded bytes produces: no padding, no whitespace, no non-zero trailing bits),
so every key and signature has exactly one text form.

Public keys are checked when parsed: the 32 bytes must be the canonical encoding of a point of
the prime-order subgroup (libsodium ``crypto_core_ed25519_is_valid_point``), which refuses the
small-order and non-canonical keys that make "signature verifies under key K" ambiguous.
Verification is libsodium's ``crypto_sign_verify_detached``, which also refuses non-canonical
signatures (S >= L) and small-order R, so signatures are not malleable.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.signing

from crypto.encoding import Base64Error, NonCanonicalBase64Error, b64url_decode, b64url_encode
from crypto.errors import KeyFormatError, SignatureError

PUBLIC_KEY_SIZE = 32
SEED_SIZE = 32
SIGNATURE_SIZE = 64

PUBLIC_KEY_PREFIX = "ed25519:"
SECRET_KEY_PREFIX = "ed25519-secret:"  # noqa: S105 - a text-form prefix, not a secret


def decode_key_text(text: str, what: str) -> bytes:
    """Strictly decode the unpadded base64url of a key or signature (see crypto.encoding).

    Raises :class:`KeyFormatError` naming ``what`` on any text but ``b64url_encode(result)``.
    """
    try:
        return b64url_decode(text)
    except NonCanonicalBase64Error:
        raise KeyFormatError(f"{what}: non-canonical base64url (non-zero trailing bits)") from None
    except Base64Error:
        raise KeyFormatError(f"{what}: not unpadded base64url") from None


@dataclass(frozen=True, slots=True)
class Ed25519PublicKey:
    """An Ed25519 public key (RFC 8032 section 5.1.5 encoding), validated on construction."""

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != PUBLIC_KEY_SIZE:
            raise KeyFormatError(f"Ed25519 public key: must be {PUBLIC_KEY_SIZE} bytes")
        if not nacl.bindings.crypto_core_ed25519_is_valid_point(self.raw):
            raise KeyFormatError(
                "Ed25519 public key: not a canonical point of the prime-order subgroup"
            )

    @classmethod
    def from_text(cls, text: object, what: str = "Ed25519 public key") -> Ed25519PublicKey:
        """Parse ``ed25519:<base64url>``; raises :class:`KeyFormatError` naming ``what``."""
        if not isinstance(text, str) or not text.startswith(PUBLIC_KEY_PREFIX):
            raise KeyFormatError(f"{what}: must be a string starting with {PUBLIC_KEY_PREFIX!r}")
        raw = decode_key_text(text[len(PUBLIC_KEY_PREFIX) :], what)
        if len(raw) != PUBLIC_KEY_SIZE:
            raise KeyFormatError(f"{what}: must encode {PUBLIC_KEY_SIZE} bytes, got {len(raw)}")
        try:
            return cls(raw)
        except KeyFormatError as exc:
            raise KeyFormatError(f"{what}: {exc}") from exc

    def to_text(self) -> str:
        return PUBLIC_KEY_PREFIX + b64url_encode(self.raw)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Ed25519PublicKey({self.to_text()!r})"

    def verify(self, message: bytes, signature: bytes) -> None:
        """Verify an RFC 8032 Ed25519 signature; raise :class:`SignatureError` if it fails."""
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
            raise SignatureError(f"signature: must be {SIGNATURE_SIZE} bytes")
        try:
            nacl.signing.VerifyKey(self.raw).verify(message, signature)
        except nacl.exceptions.BadSignatureError as exc:
            raise SignatureError(f"signature does not verify under {self.to_text()}") from exc


class Ed25519SigningKey:
    """An Ed25519 signing key, held as its 32-byte RFC 8032 seed. The repr never shows it."""

    __slots__ = ("_sk",)

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise KeyFormatError(f"Ed25519 signing key: seed must be {SEED_SIZE} bytes")
        self._sk = nacl.signing.SigningKey(seed)

    @classmethod
    def generate(cls) -> Ed25519SigningKey:
        """A fresh key from the operating system's CSPRNG (libsodium randombytes)."""
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def from_text(cls, text: object) -> Ed25519SigningKey:
        if not isinstance(text, str) or not text.startswith(SECRET_KEY_PREFIX):
            raise KeyFormatError(
                f"Ed25519 signing key: must be a string starting with {SECRET_KEY_PREFIX!r}"
            )
        return cls(decode_key_text(text[len(SECRET_KEY_PREFIX) :], "Ed25519 signing key"))

    def to_text(self) -> str:
        return SECRET_KEY_PREFIX + b64url_encode(self.seed)

    @property
    def seed(self) -> bytes:
        return bytes(self._sk)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey(bytes(self._sk.verify_key))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte RFC 8032 signature of ``message`` (deterministic)."""
        return bytes(self._sk.sign(message).signature)

    def __repr__(self) -> str:
        return f"Ed25519SigningKey(<redacted>, public={self.public_key.to_text()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ed25519SigningKey) and hmac.compare_digest(self.seed, other.seed)

    def __hash__(self) -> int:
        return hash(self.public_key)
