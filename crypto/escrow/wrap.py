"""The wrap of escrow and release: age's X25519 recipient construction under camvault labels.

``seal`` is the construction of the age spec's "X25519 recipient type" section (ephemeral
ECDH, HKDF-SHA-256 with salt ``ephemeral_pk || recipient_pk``, ChaCha20-Poly1305 with a zero
nonce) with the caller's HKDF label and associated data; ``unseal`` is its inverse.
"""

from __future__ import annotations

import hmac

import nacl.bindings
import nacl.exceptions

from crypto.errors import EscrowError
from crypto.escrow.keys import KEY_SIZE
from crypto.hkdf import hkdf_sha256

TAG_SIZE = nacl.bindings.crypto_aead_chacha20poly1305_ietf_ABYTES
ZERO_NONCE = bytes(nacl.bindings.crypto_aead_chacha20poly1305_ietf_NPUBBYTES)
LOW_ORDER = "X25519 with a low-order point (all-zero shared secret)"


def x25519_shared(secret: bytes, public: bytes) -> bytes:
    """X25519(secret, public) (RFC 7748 section 5), refusing an all-zero shared secret.

    A low-order ``public`` gives the all-zero output; the age spec's X25519 section requires
    refusing it, so an attacker cannot force a known wrap key.
    """
    try:
        shared = nacl.bindings.crypto_scalarmult(secret, public)
    except (nacl.exceptions.RuntimeError, nacl.exceptions.ValueError) as exc:
        # libsodium refuses an all-zero result itself.
        raise EscrowError(LOW_ORDER) from exc
    if hmac.compare_digest(shared, bytes(KEY_SIZE)):
        raise EscrowError(LOW_ORDER)
    return shared


def seal(
    label: bytes,
    recipient: bytes,
    ephemeral: bytes,
    ephemeral_pk: bytes,
    plaintext: bytes,
    ad: bytes,
) -> bytes:
    """age X25519 wrap with an own label; returns the ciphertext (the ephemeral pk is apart).

    ``ephemeral_pk`` is X25519(ephemeral, basepoint), computed once by the caller that also
    writes it out.
    """
    shared = x25519_shared(ephemeral, recipient)
    key = hkdf_sha256(ikm=shared, salt=ephemeral_pk + recipient, info=label)
    # Zero nonce: every wrap key is used once, since the ephemeral key is fresh (age spec).
    ciphertext: bytes = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
        plaintext, ad, ZERO_NONCE, key
    )
    return ciphertext


def unseal(
    label: bytes,
    secret: bytes,
    recipient: bytes,
    ephemeral_pk: bytes,
    ciphertext: bytes,
    ad: bytes,
    what: str,
) -> bytes:
    """Open a wrap sealed to ``recipient`` (the public key of ``secret``, passed in so that a
    batch of thousands of stanzas does not recompute it for each one)."""
    shared = x25519_shared(secret, ephemeral_pk)
    key = hkdf_sha256(ikm=shared, salt=ephemeral_pk + recipient, info=label)
    try:
        plaintext: bytes = nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
            ciphertext, ad, ZERO_NONCE, key
        )
    except nacl.exceptions.CryptoError as exc:
        # One message for every cause an attacker could probe (key, metadata, tampering).
        raise EscrowError(
            f"{what} does not open: the key, the recording metadata or the sealed bytes "
            "differ from those it was sealed with"
        ) from exc
    return plaintext
