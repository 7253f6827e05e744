"""STREAM payload (C2SP age, "Payload"): layout, known answers, and every refusal."""

from __future__ import annotations

import io
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.bindings import crypto_aead_chacha20poly1305_ietf_encrypt

from crypto.age.format import FileKey
from crypto.age.stream import _BLOCK_CHUNKS as BLOCK
from crypto.age.stream import (
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    _encrypt_payload_from_parts,
    aead_backends,
    chunk_nonce,
    decrypt_payload,
    encrypt_payload,
    payload_key,
)
from crypto.errors import PayloadError

KEY = FileKey(bytes.fromhex("59454c4c4f57205355424d4152494e45"))
NONCE = bytes(range(16))
ENC = ENCRYPTED_CHUNK_SIZE


class RecordingSink(io.RawIOBase):
    """A destination that remembers every write (to check what was released, and when)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.writes.append(bytes(b))
        return len(b)

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


def _encrypt(plaintext: bytes, key: FileKey = KEY, nonce: bytes = NONCE) -> bytes:
    out = io.BytesIO()
    _encrypt_payload_from_parts(key, nonce, io.BytesIO(plaintext), out)
    return out.getvalue()


def _decrypt(payload: bytes) -> tuple[bytes, PayloadError | None]:
    sink = RecordingSink()
    try:
        decrypt_payload(KEY, io.BytesIO(payload), sink)  # type: ignore[arg-type]
    except PayloadError as exc:
        return sink.data, exc
    return sink.data, None


def _independent_chunk(key: bytes, counter: int, last: bool, plaintext: bytes) -> bytes:
    """The spec's chunk, computed with libsodium rather than the OpenSSL backend."""
    nonce = counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
    return crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, None, nonce, key)


# --- layout and known answers -----------------------------------------------------------


def test_payload_key_is_hkdf_with_nonce_salt() -> None:
    want = HKDF(hashes.SHA256(), 32, salt=NONCE, info=b"payload").derive(KEY.data)
    assert payload_key(KEY, NONCE) == want
    with pytest.raises(PayloadError, match="16 bytes"):
        payload_key(KEY, NONCE[:15])


def test_chunk_nonce_layout() -> None:
    assert chunk_nonce(0, False) == bytes(12)
    assert chunk_nonce(1, True) == bytes(10) + b"\x01\x01"
    assert chunk_nonce(0x0102, False) == bytes(9) + b"\x01\x02\x00"
    assert chunk_nonce(2**88 - 1, True) == b"\xff" * 11 + b"\x01"
    with pytest.raises(PayloadError, match="overflow"):
        chunk_nonce(2**88, False)


@pytest.mark.parametrize(
    ("size", "chunk_sizes"),
    [
        (0, [0]),
        (1, [1]),
        (CHUNK_SIZE - 1, [CHUNK_SIZE - 1]),
        (CHUNK_SIZE, [CHUNK_SIZE]),  # a full final chunk, not full + empty
        (CHUNK_SIZE + 1, [CHUNK_SIZE, 1]),
        (2 * CHUNK_SIZE, [CHUNK_SIZE, CHUNK_SIZE]),
        (2 * CHUNK_SIZE + 5, [CHUNK_SIZE, CHUNK_SIZE, 5]),
    ],
)
def test_chunking_matches_an_independent_encoder(size: int, chunk_sizes: list[int]) -> None:
    plaintext = os.urandom(size)
    key = payload_key(KEY, NONCE)
    expected = NONCE
    offset = 0
    for i, n in enumerate(chunk_sizes):
        last = i == len(chunk_sizes) - 1
        expected += _independent_chunk(key, i, last, plaintext[offset : offset + n])
        offset += n
    assert _encrypt(plaintext) == expected
    assert _decrypt(expected) == (plaintext, None)


def test_public_encrypt_uses_a_fresh_nonce() -> None:
    outs = []
    for _ in range(2):
        out = io.BytesIO()
        encrypt_payload(KEY, io.BytesIO(b"same"), out)
        outs.append(out.getvalue())
    assert outs[0][:NONCE_SIZE] != outs[1][:NONCE_SIZE]
    assert len(outs[0]) == NONCE_SIZE + 4 + TAG_SIZE
    assert _decrypt(outs[0]) == (b"same", None)


def test_aead_backends_agree() -> None:
    key, nonce, data = os.urandom(32), os.urandom(12), os.urandom(CHUNK_SIZE)
    seals = aead_backends()
    assert set(seals) == {"openssl", "libsodium"}
    assert seals["openssl"](key, nonce, data) == seals["libsodium"](key, nonce, data)


# --- refusals ---------------------------------------------------------------------------

THREE = os.urandom(2 * CHUNK_SIZE + 100)
THREE_CT = _encrypt(THREE)


def _chunks(payload: bytes) -> list[bytes]:
    body = payload[NONCE_SIZE:]
    return [body[i : i + ENC] for i in range(0, len(body), ENC)]


def _whole_chunk_prefix(released: bytes, plaintext: bytes) -> None:
    """Released plaintext is exactly some number of whole authenticated chunks."""
    assert plaintext.startswith(released)
    assert len(released) % CHUNK_SIZE == 0 or released == plaintext


@pytest.mark.parametrize(
    ("cut", "fragment"),
    [
        (0, "nonce"),
        (8, "nonce"),
        (NONCE_SIZE - 1, "nonce"),
        (NONCE_SIZE, "no chunk after the nonce"),
        (NONCE_SIZE + 1, "shorter than its tag"),
        (NONCE_SIZE + TAG_SIZE - 1, "shorter than its tag"),
        (NONCE_SIZE + TAG_SIZE, "failed authentication"),
        (NONCE_SIZE + ENC - 1, "failed authentication"),
        (NONCE_SIZE + ENC, "no final chunk after chunk 0"),
        (NONCE_SIZE + ENC + 1, "chunk 1 is shorter than its tag"),
        (NONCE_SIZE + 2 * ENC - 1, "chunk 1 failed authentication"),
        (NONCE_SIZE + 2 * ENC, "no final chunk after chunk 1"),
        (NONCE_SIZE + 2 * ENC + 1, "chunk 2 is shorter than its tag"),
        (len(THREE_CT) - 1, "chunk 2 failed authentication"),
    ],
)
def test_truncation_at_every_boundary(cut: int, fragment: str) -> None:
    released, err = _decrypt(THREE_CT[:cut])
    assert isinstance(err, PayloadError) and fragment in str(err), err
    _whole_chunk_prefix(released, THREE)
    assert len(released) == min(max(cut - NONCE_SIZE, 0) // ENC, 2) * CHUNK_SIZE


@pytest.mark.parametrize("extra", [b"\x00", os.urandom(TAG_SIZE), os.urandom(ENC)])
def test_trailing_data_after_short_final_chunk(extra: bytes) -> None:
    released, err = _decrypt(THREE_CT + extra)
    assert isinstance(err, PayloadError) and "chunk 2" in str(err)
    assert released == THREE[: 2 * CHUNK_SIZE]


@pytest.mark.parametrize("extra", [b"\x00", THREE_CT[NONCE_SIZE:][:ENC]])
def test_trailing_data_after_full_final_chunk(extra: bytes) -> None:
    plaintext = os.urandom(CHUNK_SIZE)
    released, err = _decrypt(_encrypt(plaintext) + extra)
    assert isinstance(err, PayloadError) and "trailing data after final chunk 0" in str(err)
    assert released == plaintext  # authentic final chunk, as age releases it


@pytest.mark.parametrize("chunk_index", [0, 1, 2])
@pytest.mark.parametrize("position", [0, -1])  # first ciphertext byte, last tag byte
def test_flipped_bit_in_each_chunk(chunk_index: int, position: int) -> None:
    data = bytearray(THREE_CT)
    start = NONCE_SIZE + chunk_index * ENC
    end = min(start + ENC, len(data))
    data[start if position == 0 else end - 1] ^= 0x01
    released, err = _decrypt(bytes(data))
    assert isinstance(err, PayloadError) and f"chunk {chunk_index}" in str(err)
    assert released == THREE[: chunk_index * CHUNK_SIZE]


def test_flipped_nonce_bit_fails_first_chunk() -> None:
    data = bytes([THREE_CT[0] ^ 1]) + THREE_CT[1:]
    released, err = _decrypt(data)
    assert released == b"" and "chunk 0 failed authentication" in str(err)


def test_swapped_chunks() -> None:
    c = _chunks(THREE_CT)
    released, err = _decrypt(THREE_CT[:NONCE_SIZE] + c[1] + c[0] + c[2])
    assert released == b"" and "chunk 0 failed authentication" in str(err)


def test_duplicated_chunk() -> None:
    c = _chunks(THREE_CT)
    released, err = _decrypt(THREE_CT[:NONCE_SIZE] + c[0] + c[0] + c[1] + c[2])
    assert released == THREE[:CHUNK_SIZE] and "chunk 1 failed authentication" in str(err)


def test_dropped_middle_chunk() -> None:
    c = _chunks(THREE_CT)
    released, err = _decrypt(THREE_CT[:NONCE_SIZE] + c[0] + c[2])
    assert released == THREE[:CHUNK_SIZE] and "chunk 1 failed authentication" in str(err)


def test_chunk_from_another_file_is_refused() -> None:
    other = _encrypt(THREE, nonce=bytes(16))
    released, err = _decrypt(
        THREE_CT[: NONCE_SIZE + ENC] + _chunks(other)[1] + _chunks(THREE_CT)[2]
    )
    assert released == THREE[:CHUNK_SIZE] and "chunk 1" in str(err)


def _forge(pieces: list[tuple[bytes, bool]]) -> bytes:
    key = payload_key(KEY, NONCE)
    return NONCE + b"".join(
        _independent_chunk(key, i, last, pt) for i, (pt, last) in enumerate(pieces)
    )


def test_empty_final_chunk_after_full_chunk() -> None:
    first = os.urandom(CHUNK_SIZE)
    released, err = _decrypt(_forge([(first, False), (b"", True)]))
    assert isinstance(err, PayloadError) and "final chunk is empty" in str(err)
    assert released == first


def test_empty_only_chunk_is_fine() -> None:
    assert _decrypt(_forge([(b"", True)])) == (b"", None)


def test_two_final_chunks() -> None:
    a, b = os.urandom(CHUNK_SIZE), os.urandom(10)
    released, err = _decrypt(_forge([(a, True), (b, True)]))
    assert isinstance(err, PayloadError) and "trailing data after final chunk 0" in str(err)
    assert released == a
    released, err = _decrypt(_forge([(b, True), (b, True)]))
    assert released == b"" and isinstance(err, PayloadError)


def test_short_non_final_chunk_is_refused_without_release() -> None:
    released, err = _decrypt(_forge([(b"short", False)]))
    assert released == b"" and "chunk 0 is not the final chunk" in str(err)


def test_short_chunk_in_the_middle() -> None:
    released, err = _decrypt(_forge([(b"short", False), (b"x", True)]))
    assert released == b"" and isinstance(err, PayloadError)


def test_no_plaintext_of_a_bad_chunk_is_written() -> None:
    data = bytearray(THREE_CT)
    data[NONCE_SIZE + ENC + 100] ^= 0x80
    sink = RecordingSink()
    with pytest.raises(PayloadError):
        decrypt_payload(KEY, io.BytesIO(bytes(data)), sink)  # type: ignore[arg-type]
    assert sink.writes == [THREE[:CHUNK_SIZE]]


# --- streaming in constant memory -------------------------------------------------------


class CountingSource(io.RawIOBase):
    """Yields ``size`` bytes without holding them; records the largest read request."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.left = size
        self.max_request = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            raise AssertionError("unbounded read")
        self.max_request = max(self.max_request, n)
        n = min(n, self.left, 4096)  # short reads on purpose
        self.left -= n
        return b"\xab" * n


class SizeSink(io.RawIOBase):
    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.max_write = 0

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.total += len(b)
        self.max_write = max(self.max_write, len(b))
        return len(b)


def test_encrypt_streams_in_bounded_pieces() -> None:
    size = 40 * CHUNK_SIZE + 3
    src, sink = CountingSource(size), SizeSink()
    encrypt_payload(KEY, src, sink)  # type: ignore[arg-type]
    # one block (and its look-ahead byte) per read, one block per write: constant memory
    assert src.max_request <= BLOCK * CHUNK_SIZE + 1 and sink.max_write <= BLOCK * ENC
    assert sink.total == NONCE_SIZE + size + 41 * TAG_SIZE


def test_decrypt_streams_in_bounded_pieces() -> None:
    payload = _encrypt(b"\xab" * (20 * CHUNK_SIZE + 7))

    class Src(io.BytesIO):
        max_request = 0

        def read(self, n: int | None = -1) -> bytes:
            assert n is not None and 0 <= n <= BLOCK * ENC + 1
            Src.max_request = max(Src.max_request, n)
            return super().read(n)

    sink = SizeSink()
    decrypt_payload(KEY, Src(payload), sink)  # type: ignore[arg-type]
    assert sink.total == 20 * CHUNK_SIZE + 7 and sink.max_write <= BLOCK * CHUNK_SIZE
