"""The age v1 STREAM payload (C2SP age spec, "Payload").

Layout::

    payload     = nonce || chunk_0 || ... || chunk_n
    nonce       = 16 random bytes
    payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")
    chunk_i     = ChaCha20-Poly1305(payload key, counter_i || flag_i, plaintext_i)
    counter_i   = i as 11-byte big-endian integer
    flag_i      = 0x01 for the final chunk, 0x00 otherwise

Each plaintext chunk is 64 KiB except the final one, which is 1..64 KiB long, or empty only
when the whole plaintext is empty. Both directions run in constant memory (two chunks).

Decryption releases a chunk's plaintext only after its tag verifies under the nonce that
its position demands (the counter and the final flag are authenticated): truncation at a
chunk boundary, trailing data, reordered, duplicated or dropped chunks all fail with
PayloadError. As in age, a full-size chunk is opened as a middle chunk first, then as a final
one; an authentic chunk is released before the next problem is reported (a stream that ends
after a middle chunk, or trailing data after a full final chunk), and a short chunk must be
the final one.

The bulk AEAD is pyca/cryptography's ChaCha20Poly1305 (OpenSSL): on 64 KiB chunks it measured
about 3.4 GB/s against 1.3 GB/s for libsodium through PyNaCl on the development machine;
``aead_backends`` exposes both with one signature so ``make bench`` can re-measure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from nacl.bindings import crypto_aead_chacha20poly1305_ietf_encrypt

from crypto.errors import PayloadError
from crypto.format import FileKey
from crypto.hkdf import hkdf_sha256

NONCE_SIZE = 16
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
PAYLOAD_INFO = b"payload"
_COUNTER_SIZE = 11
_MAX_COUNTER = 1 << (8 * _COUNTER_SIZE)


def payload_key(file_key: FileKey, nonce: bytes) -> bytes:
    """payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")."""
    if len(nonce) != NONCE_SIZE:
        raise PayloadError(f"payload nonce must be {NONCE_SIZE} bytes")
    return hkdf_sha256(file_key.data, nonce, PAYLOAD_INFO)


def chunk_nonce(counter: int, last: bool) -> bytes:
    """The 12-byte ChaCha20-Poly1305 nonce: 11-byte big-endian counter || last-chunk flag."""
    if not 0 <= counter < _MAX_COUNTER:
        raise PayloadError("STREAM chunk counter overflow")
    return counter.to_bytes(_COUNTER_SIZE, "big") + (b"\x01" if last else b"\x00")


def read_full(src: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of stream (``read`` may return short)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = src.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


# --- encryption -------------------------------------------------------------------------


def encrypt_payload(file_key: FileKey, src: BinaryIO, dst: BinaryIO) -> None:
    """Write ``nonce || chunks`` encrypting all of ``src`` under ``file_key``."""
    _encrypt_payload_from_parts(file_key, os.urandom(NONCE_SIZE), src, dst)


def _encrypt_payload_from_parts(
    file_key: FileKey, nonce: bytes, src: BinaryIO, dst: BinaryIO
) -> None:
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    dst.write(nonce)
    chunk = read_full(src, CHUNK_SIZE)
    counter = 0
    while True:
        # Look one chunk ahead: a chunk is final iff nothing follows it. A plaintext of
        # exactly k * 64 KiB thus ends with a full final chunk, never an empty one.
        following = read_full(src, CHUNK_SIZE) if len(chunk) == CHUNK_SIZE else b""
        last = not following
        dst.write(aead.encrypt(chunk_nonce(counter, last), chunk, None))
        if last:
            return
        chunk = following
        counter += 1


# --- decryption -------------------------------------------------------------------------


def decrypt_payload(file_key: FileKey, src: BinaryIO, dst: BinaryIO) -> None:
    """Read ``nonce || chunks`` from ``src`` and write the plaintext to ``dst``.

    Raises PayloadError at the first chunk that fails; every chunk written before that one
    authenticated. ``src`` must end right after the final chunk.
    """
    nonce = read_full(src, NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise PayloadError(f"payload truncated: nonce is {len(nonce)} of {NONCE_SIZE} bytes")
    decrypt_chunks(payload_key(file_key, nonce), src, dst)


def decrypt_chunks(key: bytes, src: BinaryIO, dst: BinaryIO) -> None:
    """Decrypt the STREAM chunks that follow the nonce (``key`` is the payload key)."""
    aead = ChaCha20Poly1305(key)
    chunk = read_full(src, ENCRYPTED_CHUNK_SIZE)
    if not chunk:
        raise PayloadError("payload truncated: no chunk after the nonce")
    counter = 0
    while True:
        if not _is_full(chunk):
            # A short chunk ends the stream (read_full hit EOF) and must be the final one.
            dst.write(_open_final_chunk(aead, counter, chunk))
            return
        following = read_full(src, ENCRYPTED_CHUNK_SIZE)
        plaintext, last = _open_full_chunk(aead, counter, chunk)
        dst.write(plaintext)  # authentic; a full chunk is never the empty final chunk
        if last and following:
            raise PayloadError(f"payload invalid: trailing data after final chunk {counter}")
        if last:
            return
        if not following:
            raise PayloadError(f"payload truncated: no final chunk after chunk {counter}")
        chunk = following
        counter += 1


def _is_full(chunk: bytes) -> bool:
    return len(chunk) == ENCRYPTED_CHUNK_SIZE


def _open(aead: ChaCha20Poly1305, counter: int, last: bool, chunk: bytes) -> bytes | None:
    try:
        return aead.decrypt(chunk_nonce(counter, last), chunk, None)
    except InvalidTag:
        return None


def _open_full_chunk(aead: ChaCha20Poly1305, counter: int, chunk: bytes) -> tuple[bytes, bool]:
    """Open a full chunk as a middle chunk, else as a final one; say which it was."""
    plaintext = _open(aead, counter, False, chunk)
    if plaintext is not None:
        return plaintext, False
    plaintext = _open(aead, counter, True, chunk)
    if plaintext is not None:
        return plaintext, True
    raise PayloadError(f"payload invalid: chunk {counter} failed authentication")


def _open_final_chunk(aead: ChaCha20Poly1305, counter: int, chunk: bytes) -> bytes:
    """Open the chunk the stream ends with; it must carry the final flag."""
    if len(chunk) < TAG_SIZE:
        raise PayloadError(f"payload truncated: chunk {counter} is shorter than its tag")
    plaintext = _open(aead, counter, True, chunk)
    if plaintext is None:
        if _open(aead, counter, False, chunk) is not None:
            # Authentic, but not final: the stream was cut at a chunk boundary. Not released.
            raise PayloadError(f"payload truncated: chunk {counter} is not the final chunk")
        raise PayloadError(
            f"payload invalid: chunk {counter} failed authentication "
            "(modified, reordered, truncated or followed by trailing data)"
        )
    return _check_final(plaintext, counter)


def _check_final(plaintext: bytes, counter: int) -> bytes:
    if not plaintext and counter > 0:
        raise PayloadError("payload invalid: final chunk is empty but is not the only chunk")
    return plaintext


# --- benchmark hook ---------------------------------------------------------------------

SealFunction = Callable[[bytes, bytes, bytes], bytes]


def _seal_openssl(key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, None)


def _seal_libsodium(key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    return crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, None, nonce, key)


def aead_backends() -> dict[str, SealFunction]:
    """ChaCha20-Poly1305 seal(key, nonce, plaintext) per backend, for ``make bench``.

    "openssl" (pyca/cryptography) is the one this module uses; "libsodium" (PyNaCl) is the
    alternative it was measured against. Both produce identical ciphertexts.
    """
    return {"openssl": _seal_openssl, "libsodium": _seal_libsodium}
