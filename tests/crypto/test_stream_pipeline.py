"""The pipelined STREAM (several blocks, worker threads) against a sequential reference.

A reference implementation written chunk by chunk, straight from the spec's rules, must
release exactly the same plaintext and fail with exactly the same message as crypto.age.stream,
for streams of many blocks cut, flipped, reordered or extended at every interesting place.
"""

from __future__ import annotations

import io
import os
import threading

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto.age import stream
from crypto.age.format import FileKey
from crypto.age.stream import (
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    _encrypt_payload_from_parts,
    decrypt_payload,
    payload_key,
)
from crypto.errors import PayloadError

KEY = FileKey(bytes(range(16)))
NONCE = bytes(range(100, 116))
ENC = ENCRYPTED_CHUNK_SIZE
BLOCK = stream._BLOCK_CHUNKS


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def reference_encrypt(plaintext: bytes) -> bytes:
    aead = ChaCha20Poly1305(payload_key(KEY, NONCE))
    pieces = [plaintext[i : i + CHUNK_SIZE] for i in range(0, len(plaintext), CHUNK_SIZE)]
    pieces = pieces or [b""]
    body = [aead.encrypt(_nonce(i, i == len(pieces) - 1), p, None) for i, p in enumerate(pieces)]
    return NONCE + b"".join(body)


def reference_decrypt(payload: bytes) -> tuple[bytes, str | None]:
    """Sequential decryption: (released plaintext, error message or None)."""
    out: list[bytes] = []

    def fail(message: str) -> tuple[bytes, str]:
        return b"".join(out), message

    if len(payload) < NONCE_SIZE:
        return fail(f"payload truncated: nonce is {len(payload)} of {NONCE_SIZE} bytes")
    aead = ChaCha20Poly1305(payload_key(KEY, payload[:NONCE_SIZE]))
    body = payload[NONCE_SIZE:]
    if not body:
        return fail("payload truncated: no chunk after the nonce")
    chunks = [body[i : i + ENC] for i in range(0, len(body), ENC)]

    def opened(i: int, last: bool) -> bytes | None:
        try:
            return aead.decrypt(_nonce(i, last), chunks[i], None)
        except InvalidTag:
            return None

    for i, chunk in enumerate(chunks):
        more = i < len(chunks) - 1
        if len(chunk) < ENC:
            if len(chunk) < 16:
                return fail(f"payload truncated: chunk {i} is shorter than its tag")
            plain = opened(i, True)
            if plain is None:
                if opened(i, False) is not None:
                    return fail(f"payload truncated: chunk {i} is not the final chunk")
                return fail(
                    f"payload invalid: chunk {i} failed authentication "
                    "(modified, reordered, truncated or followed by trailing data)"
                )
            if not plain and i > 0:
                return fail("payload invalid: final chunk is empty but is not the only chunk")
            out.append(plain)
            return b"".join(out), None
        plain, last = opened(i, False), False
        if plain is None:
            plain, last = opened(i, True), True
        if plain is None:
            return fail(f"payload invalid: chunk {i} failed authentication")
        out.append(plain)
        if last and more:
            return fail(f"payload invalid: trailing data after final chunk {i}")
        if last:
            return b"".join(out), None
        if not more:
            return fail(f"payload truncated: no final chunk after chunk {i}")
    raise AssertionError("unreachable")


def actual_decrypt(payload: bytes) -> tuple[bytes, str | None]:
    sink = io.BytesIO()
    try:
        decrypt_payload(KEY, io.BytesIO(payload), sink)
    except PayloadError as exc:
        return sink.getvalue(), str(exc)
    return sink.getvalue(), None


SIZES = [
    0,
    1,
    BLOCK * CHUNK_SIZE - 1,
    BLOCK * CHUNK_SIZE,  # exactly one block: the look-ahead byte finds nothing
    BLOCK * CHUNK_SIZE + 1,
    2 * BLOCK * CHUNK_SIZE,
    3 * BLOCK * CHUNK_SIZE + 12345,
    9 * BLOCK * CHUNK_SIZE + 1,  # many blocks: each thread's buffers are reused
]


@pytest.mark.parametrize("size", SIZES)
def test_multi_block_encrypt_matches_reference_and_round_trips(size: int) -> None:
    plaintext = os.urandom(size)
    out = io.BytesIO()
    _encrypt_payload_from_parts(KEY, NONCE, io.BytesIO(plaintext), out)
    assert out.getvalue() == reference_encrypt(plaintext)
    assert actual_decrypt(out.getvalue()) == (plaintext, None)


PLAIN = os.urandom(3 * BLOCK * CHUNK_SIZE + 777)  # 3 full blocks and one short chunk
PAYLOAD = reference_encrypt(PLAIN)
N_CHUNKS = -(-len(PLAIN) // CHUNK_SIZE)


def _cuts() -> list[int]:
    cuts = set()
    for chunk in (0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 3 * BLOCK - 1, 3 * BLOCK):
        base = NONCE_SIZE + chunk * ENC
        cuts.update({base - 1, base, base + 1, base + 15, base + 16})
    return sorted(c for c in cuts if 0 <= c < len(PAYLOAD))


@pytest.mark.parametrize("cut", _cuts())
def test_truncation_matches_reference(cut: int) -> None:
    got = actual_decrypt(PAYLOAD[:cut])
    assert got == reference_decrypt(PAYLOAD[:cut])
    assert got[1] is not None


@pytest.mark.parametrize("chunk", [0, BLOCK - 1, BLOCK, 2 * BLOCK + 3, N_CHUNKS - 1])
def test_flipped_bit_matches_reference(chunk: int) -> None:
    data = bytearray(PAYLOAD)
    data[NONCE_SIZE + chunk * ENC + 7] ^= 0x20
    got = actual_decrypt(bytes(data))
    assert got == reference_decrypt(bytes(data))
    assert got[0] == PLAIN[: chunk * CHUNK_SIZE] and f"chunk {chunk}" in str(got[1])


def _chunks(payload: bytes) -> list[bytes]:
    body = payload[NONCE_SIZE:]
    return [body[i : i + ENC] for i in range(0, len(body), ENC)]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c[:BLOCK] + c[BLOCK + 1 :],  # a chunk dropped at a block boundary
        lambda c: c[: BLOCK + 1] + c[BLOCK:],  # a chunk duplicated across blocks
        lambda c: [*c[: 2 * BLOCK], c[2 * BLOCK + 1], c[2 * BLOCK], *c[2 * BLOCK + 2 :]],
        lambda c: [*c, b"\x00" * 40],  # trailing data after the short final chunk
        lambda c: [*c, c[0]],  # a whole extra chunk
    ],
    ids=["drop", "duplicate", "swap", "trailing-bytes", "trailing-chunk"],
)
def test_structural_attacks_match_reference(mutate: object) -> None:
    payload = NONCE + b"".join(mutate(_chunks(PAYLOAD)))  # type: ignore[operator]
    got = actual_decrypt(payload)
    assert got == reference_decrypt(payload)
    assert got[1] is not None


def test_full_final_chunk_then_trailing_blocks() -> None:
    plaintext = os.urandom(2 * BLOCK * CHUNK_SIZE)
    payload = reference_encrypt(plaintext) + _chunks(PAYLOAD)[0] * (2 * BLOCK)
    got = actual_decrypt(payload)
    assert got == reference_decrypt(payload)
    assert got == (plaintext, f"payload invalid: trailing data after final chunk {2 * BLOCK - 1}")


class FailingSink(io.RawIOBase):
    """Fails on the n-th write; records the writes and the threads that made them."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        if len(self.writes) == self.fail_at:
            raise OSError("disk full")
        self.writes.append(bytes(b))
        return len(b)


@pytest.mark.parametrize("fail_at", [0, 1, 2])
def test_a_failing_destination_stops_everything(fail_at: int) -> None:
    sink = FailingSink(fail_at)  # one write per block
    before = threading.active_count()
    with pytest.raises(OSError, match="disk full"):
        decrypt_payload(KEY, io.BytesIO(PAYLOAD), sink)  # type: ignore[arg-type]
    assert b"".join(sink.writes) == PLAIN[: fail_at * BLOCK * CHUNK_SIZE]
    assert threading.active_count() == before  # every worker stopped


class ShortWriteSink(io.RawIOBase):
    """A raw stream that accepts at most 1000 bytes per call (allowed by RawIOBase.write)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.calls = 0

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.calls += 1
        piece = bytes(b[:1000])
        self.data += piece
        return len(piece)


@pytest.mark.parametrize("size", [1, 2 * BLOCK * CHUNK_SIZE + 5])
def test_short_writes_are_completed(size: int) -> None:
    plaintext = os.urandom(size)
    sealed = ShortWriteSink()
    _encrypt_payload_from_parts(KEY, NONCE, io.BytesIO(plaintext), sealed)  # type: ignore[arg-type]
    assert bytes(sealed.data) == reference_encrypt(plaintext)
    opened = ShortWriteSink()
    decrypt_payload(KEY, io.BytesIO(bytes(sealed.data)), opened)  # type: ignore[arg-type]
    assert bytes(opened.data) == plaintext and opened.calls >= size // 1000


class FailingSource(io.RawIOBase):
    def __init__(self, data: bytes, fail_after: int) -> None:
        super().__init__()
        self._src = io.BytesIO(data)
        self._left = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise OSError("camera unplugged")
        n = self._src.readinto(b[: self._left])
        self._left -= n
        return n


def test_a_failing_source_stops_everything() -> None:
    sink = io.BytesIO()
    before = threading.active_count()
    with pytest.raises(OSError, match="camera unplugged"):
        source = FailingSource(PLAIN, 3 * BLOCK * CHUNK_SIZE)
        _encrypt_payload_from_parts(KEY, NONCE, source, sink)  # type: ignore[arg-type]
    assert threading.active_count() == before
    # Whatever was written is a prefix of the real ciphertext, without the final chunk.
    assert reference_encrypt(PLAIN).startswith(sink.getvalue())
    assert len(sink.getvalue()) <= NONCE_SIZE + 3 * BLOCK * ENC


class ReadOnlySource(io.RawIOBase):
    """A raw stream that implements read() only (RawIOBase.readinto raises)."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._src.read(min(n, 5000))  # short reads on purpose


@pytest.mark.parametrize("armor", [False, True])
@pytest.mark.parametrize("source", [io.BytesIO, ReadOnlySource])
def test_age_decrypt_detects_armor_then_streams_from_any_source(
    armor: bool, source: type[io.IOBase]
) -> None:
    """age.decrypt peeks one byte to detect armor and puts it back in front of the source."""
    from crypto import age
    from crypto.age.x25519 import generate_identity

    identity = generate_identity()
    plaintext = os.urandom(2 * BLOCK * CHUNK_SIZE + 99)
    sealed = io.BytesIO()
    age.encrypt([identity.recipient()], io.BytesIO(plaintext), sealed, armor=armor)
    out = io.BytesIO()
    age.decrypt([identity], source(sealed.getvalue()), out)  # type: ignore[call-arg, arg-type]
    assert out.getvalue() == plaintext


class TinyWriteSink(ShortWriteSink):
    """Accepts at most 5 bytes per call: the nonce and the age header are written short."""

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.calls += 1
        piece = bytes(b[:5])
        self.data += piece
        return len(piece)


def test_short_writes_of_nonce_and_header_are_completed() -> None:
    from crypto import age
    from crypto.age.x25519 import generate_identity

    identity = generate_identity()
    sink = TinyWriteSink()
    age.encrypt([identity.recipient()], io.BytesIO(b"clip"), sink)  # type: ignore[arg-type]
    out = io.BytesIO()
    age.decrypt([identity], io.BytesIO(bytes(sink.data)), out)
    assert out.getvalue() == b"clip"


class StuckSink(io.RawIOBase):
    """A raw stream whose write returns ``result`` forever (0: full; None: would block)."""

    def __init__(self, result: int | None) -> None:
        super().__init__()
        self.result = result

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int | None:  # type: ignore[override]
        return self.result


@pytest.mark.parametrize(
    ("result", "error", "message"),
    [(0, OSError, "accepted 0 bytes"), (None, BlockingIOError, "non-blocking")],
)
def test_a_sink_that_accepts_nothing_fails_instead_of_hanging_or_dropping_data(
    result: int | None, error: type[Exception], message: str
) -> None:
    for size in (1, 3 * BLOCK * CHUNK_SIZE):  # inline block, then the threaded path
        before = threading.active_count()
        with pytest.raises(error, match=message):
            _encrypt_payload_from_parts(
                KEY,
                NONCE,
                io.BytesIO(os.urandom(size)),
                StuckSink(result),  # type: ignore[arg-type]
            )
        assert threading.active_count() == before


class NotYetSource(io.RawIOBase):
    """A non-blocking source: some bytes, then 'no data yet' (None), never end of file."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._src = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int | None:  # type: ignore[override]
        n = self._src.readinto(b)
        return n or None


def test_a_non_blocking_source_is_not_mistaken_for_the_end_of_the_stream() -> None:
    # Sealing what arrived so far as a complete recording would be a silent truncation.
    with pytest.raises(BlockingIOError, match="non-blocking"):
        _encrypt_payload_from_parts(KEY, NONCE, NotYetSource(b"x" * 1000), io.BytesIO())  # type: ignore[arg-type]
    from crypto import age
    from crypto.age.x25519 import generate_identity

    identity = generate_identity()
    sealed = io.BytesIO()
    age.encrypt([identity.recipient()], io.BytesIO(os.urandom(3000)), sealed)
    with pytest.raises(BlockingIOError, match="non-blocking"):
        age.decrypt([identity], NotYetSource(sealed.getvalue()), io.BytesIO())  # type: ignore[arg-type]
