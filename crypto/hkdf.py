"""HKDF-SHA-256 (RFC 5869), the only key-derivation function of the age format.

The age spec ("Conventions used in this document") derives every key with HKDF-Extract
followed by HKDF-Expand, SHA-256, 32 bytes of output. This module is the single place
camvault computes it, with pyca/cryptography's HKDF.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

HASH_LEN = 32


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = HASH_LEN) -> bytes:
    """HKDF-SHA-256(ikm, salt, info) as the age spec uses it (32-byte output by default).

    An empty salt is HMAC-SHA-256's all-zero key, as RFC 5869 Section 2.2 specifies.
    """
    return HKDF(algorithm=SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 section 2.2): PRK = HMAC-SHA-256(salt, ikm). With
    :func:`hkdf_expand`, the two halves of :func:`hkdf_sha256`, for callers that derive many
    keys from one secret (one Extract, then one Expand per key)."""
    return hmac.digest(salt or bytes(HASH_LEN), ikm, "sha256")


def hkdf_expand(prk: bytes, info: bytes, length: int = HASH_LEN) -> bytes:
    """HKDF-Expand (RFC 5869 section 2.3) of a PRK from :func:`hkdf_extract`."""
    return HKDFExpand(algorithm=SHA256(), length=length, info=info).derive(prk)
