"""HKDF-SHA-256 (RFC 5869), the only key-derivation function of the age format.

The age spec ("Conventions used in this document") derives every key with HKDF-Extract
followed by HKDF-Expand, SHA-256, 32 bytes of output. This module is the single place
camvault computes it; it composes the standard library's HMAC-SHA-256 exactly as
RFC 5869 Section 2 describes.
"""

from __future__ import annotations

import hashlib
import hmac

HASH_LEN = 32
_MAX_LENGTH = 255 * HASH_LEN  # RFC 5869 Section 2.3: L <= 255 * HashLen


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """RFC 5869 Section 2.2: PRK = HMAC-Hash(salt, IKM); an empty salt means HashLen zeros."""
    if not salt:
        salt = bytes(HASH_LEN)
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 Section 2.3: T(i) = HMAC-Hash(PRK, T(i-1) || info || i), OKM = T(1) || ..."""
    if not 0 < length <= _MAX_LENGTH:
        raise ValueError(f"HKDF output length must be in 1..{_MAX_LENGTH}")
    okm = b""
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = HASH_LEN) -> bytes:
    """HKDF-SHA-256(ikm, salt, info) as the age spec uses it (32-byte output by default)."""
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)
