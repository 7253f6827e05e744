"""The age v1 STREAM payload (C2SP age spec, "Payload").

Layout::

    payload     = nonce || chunk_0 || ... || chunk_n
    nonce       = 16 random bytes
    payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")
    chunk_i     = ChaCha20-Poly1305(payload key, counter_i || flag_i, plaintext_i)
    counter_i   = i as 11-byte big-endian integer
    flag_i      = 0x01 for the final chunk, 0x00 otherwise

Each plaintext chunk is 64 KiB except the final one, which is 1..64 KiB long, or empty only
when the whole plaintext is empty. Both directions run in constant memory (a few MiB of
preallocated buffers, see "pipelining" below), whatever the stream's length.

Decryption releases a chunk's plaintext only after its tag verifies under the nonce that
its position demands (the counter and the final flag are authenticated): truncation at a
chunk boundary, trailing data, reordered, duplicated or dropped chunks all fail with
PayloadError. As in age, a full-size chunk is opened as a middle chunk first, then as a final
one; an authentic chunk is released before the next problem is reported (a stream that ends
after a middle chunk, or trailing data after a full final chunk), and a short chunk must be
the final one.

The bulk AEAD is pyca/cryptography's ChaCha20Poly1305 (OpenSSL): on 64 KiB chunks it measured
about 1.65 GB/s per thread against 1.07 GB/s for libsodium through PyNaCl on the project's
machine (``make bench``, docs/PERFORMANCE.md; both release the GIL); ``aead_backends``
exposes both with one signature so ``make bench`` can re-measure.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
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


# --- pipelining ---------------------------------------------------------------------------
#
# pyca/cryptography releases the GIL while it seals or opens a chunk, so the AEAD of
# different chunks runs on _WORKERS threads at once (``make bench`` measures both). The
# calling thread reads the source into preallocated blocks of _BLOCK_CHUNKS chunks (one
# ``readinto`` of at most one chunk at a time); a worker seals or opens a whole block into
# its preallocated output buffer, waits for its turn, and writes the block chunk by chunk,
# in stream order. _BUFFERS bounds the read-ahead, so memory is constant (about 6 MiB) for
# any stream size and nothing is allocated per chunk. After a block fails, no later block is
# written; the error is raised in the calling thread once every worker has stopped, and no
# thread touches ``dst`` after the function returns. A stream of one block (up to 512 KiB)
# is processed inline, without threads.
#
# ``dst.write`` receives memoryviews of buffers that are reused after the call returns,
# as the io contract allows ("the implementation should only access b during the call").

_BLOCK_CHUNKS = 8
_WORKERS = 2
_BUFFERS = 2 * _WORKERS + 2


@dataclass(slots=True)
class _Block:
    """One unit of work: up to _BLOCK_CHUNKS chunks read from the source."""

    index: int  # position in the stream; the first chunk's counter is index * _BLOCK_CHUNKS
    data: bytearray  # input buffer (plaintext or ciphertext chunks)
    out: bytearray  # output buffer
    size: int = 0  # bytes of ``data`` in use
    more: bool = False  # whether the stream goes on after this block
    pieces: list[memoryview] = field(default_factory=list)  # filled by the worker
    error: BaseException | None = None  # raised after ``pieces`` are written


_Process = Callable[[_Block], None]


class _Pipeline:
    """Runs ``process`` on each block in worker threads; writes the pieces in block order."""

    def __init__(self, process: _Process, dst: BinaryIO, free: queue.Queue[_Block]) -> None:
        self._process = process
        self._dst = dst
        self._free = free
        self._tasks: queue.Queue[_Block | None] = queue.Queue()
        self._turn = threading.Condition()
        self._next = 0  # index of the block whose turn it is to write
        self.error: BaseException | None = None
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(_WORKERS)]
        for thread in self._threads:
            thread.start()

    def submit(self, block: _Block) -> None:
        self._tasks.put(block)

    def close(self, cancel: bool) -> None:
        """Wait for the submitted blocks; ``cancel`` (the caller failed) stops all writes."""
        if cancel:
            with self._turn:
                self.error = self.error or PayloadError("payload processing cancelled")
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while (block := self._tasks.get()) is not None:
            try:
                self._process(block)
            except BaseException as exc:  # recorded; the calling thread raises it
                block.pieces, block.error = [], exc
            with self._turn:
                while self._next != block.index:
                    self._turn.wait()
                failed = self.error is not None
            error = block.error
            if not failed:
                try:
                    _write_pieces(self._dst, block)
                except BaseException as exc:
                    error = exc
            with self._turn:
                if not failed and error is not None:
                    self.error = error
                self._next += 1
                self._turn.notify_all()
            self._free.put(block)


def _write_pieces(dst: BinaryIO, block: _Block) -> None:
    for piece in block.pieces:
        dst.write(piece)
    block.pieces = []


def _read_into(src: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``src``, short only at end of stream.

    Uses ``readinto`` (no allocation) when the stream implements it, else ``read``.
    """
    filled = 0
    while filled < len(view):
        try:
            n = src.readinto(view[filled:])  # type: ignore[attr-defined]
        except (AttributeError, NotImplementedError):  # e.g. RawIOBase with read() only
            part = src.read(len(view) - filled)
            n = len(part)
            view[filled : filled + n] = part
        if not n:
            break
        filled += n
    return filled


def _fill(src: BinaryIO, block: _Block, unit: int) -> None:
    """Read up to _BLOCK_CHUNKS units into ``block``, one unit per request."""
    view = memoryview(block.data)
    block.size = 0
    for start in range(0, len(view), unit):
        n = _read_into(src, view[start : start + unit])
        block.size += n
        if n < unit:
            return


def _run(src: BinaryIO, dst: BinaryIO, unit: int, out_unit: int, process: _Process) -> None:
    """Cut ``src`` into blocks of ``unit``-byte chunks and ``process`` them in order.

    ``block.more`` tells whether the stream goes on after the block: a block that is full
    is followed by a look-ahead read of the next one.
    """
    free: queue.Queue[_Block] = queue.Queue()
    spares = [(bytearray(_BLOCK_CHUNKS * unit), bytearray(_BLOCK_CHUNKS * out_unit))]
    block = _Block(0, *spares[0])
    _fill(src, block, unit)
    following = _look_ahead(src, block, unit, free, spares)
    if following is None:  # a single block: no threads
        process(block)
        _write_pieces(dst, block)
        if block.error is not None:
            raise block.error
        return
    for _ in range(_BUFFERS - 2):
        free.put(_Block(0, bytearray(_BLOCK_CHUNKS * unit), bytearray(_BLOCK_CHUNKS * out_unit)))
    pipeline = _Pipeline(process, dst, free)
    try:
        while True:
            pipeline.submit(block)
            if following is None or pipeline.error is not None:
                break
            block = following
            following = _look_ahead(src, block, unit, free, spares)
    except BaseException:
        pipeline.close(cancel=True)
        raise
    pipeline.close(cancel=False)
    if pipeline.error is not None:
        raise pipeline.error


def _look_ahead(
    src: BinaryIO,
    block: _Block,
    unit: int,
    free: queue.Queue[_Block],
    spares: list[tuple[bytearray, bytearray]],
) -> _Block | None:
    """Read the block after ``block`` if ``block`` is full; set ``block.more``."""
    if block.size < len(block.data):
        block.more = False
        return None
    if len(spares) == 1:  # the second buffer pair, allocated on first need
        spares.append((bytearray(len(block.data)), bytearray(len(block.out))))
        following = _Block(block.index + 1, *spares[1])
    else:
        following = free.get()
        following.index, following.more, following.error = block.index + 1, False, None
    _fill(src, following, unit)
    block.more = following.size > 0
    if not block.more:
        free.put(following)
        return None
    return following


# --- encryption -------------------------------------------------------------------------


def encrypt_payload(file_key: FileKey, src: BinaryIO, dst: BinaryIO) -> None:
    """Write ``nonce || chunks`` encrypting all of ``src`` under ``file_key``."""
    _encrypt_payload_from_parts(file_key, os.urandom(NONCE_SIZE), src, dst)


def _encrypt_payload_from_parts(
    file_key: FileKey, nonce: bytes, src: BinaryIO, dst: BinaryIO
) -> None:
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    dst.write(nonce)

    def seal(block: _Block) -> None:
        # A chunk is final iff nothing follows it: a plaintext of exactly k * 64 KiB ends
        # with a full final chunk, never an empty one; an empty plaintext is one empty chunk.
        data, out = memoryview(block.data), memoryview(block.out)
        count = max(1, -(-block.size // CHUNK_SIZE))
        first = block.index * _BLOCK_CHUNKS
        for i in range(count):
            start, end = i * CHUNK_SIZE, min((i + 1) * CHUNK_SIZE, block.size)
            final = not block.more and i == count - 1
            sealed = out[
                i * ENCRYPTED_CHUNK_SIZE : i * ENCRYPTED_CHUNK_SIZE + end - start + TAG_SIZE
            ]
            aead.encrypt_into(chunk_nonce(first + i, final), data[start:end], None, sealed)
            block.pieces.append(sealed)

    _run(src, dst, CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, seal)


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

    def open_block(block: _Block) -> None:
        if block.size == 0:
            block.error = PayloadError("payload truncated: no chunk after the nonce")
            return
        data, out = memoryview(block.data), memoryview(block.out)
        first = block.index * _BLOCK_CHUNKS
        for start in range(0, block.size, ENCRYPTED_CHUNK_SIZE):
            chunk = data[start : min(start + ENCRYPTED_CHUNK_SIZE, block.size)]
            following = block.more or start + len(chunk) < block.size
            index = start // ENCRYPTED_CHUNK_SIZE
            plain = out[index * CHUNK_SIZE : index * CHUNK_SIZE + max(len(chunk) - TAG_SIZE, 0)]
            counter = first + index
            try:
                block.error = _open_chunk(aead, counter, chunk, following, plain)
            except PayloadError as exc:
                block.error = exc
                return
            block.pieces.append(plain)
            if block.error is not None or not following:
                return

    _run(src, dst, ENCRYPTED_CHUNK_SIZE, CHUNK_SIZE, open_block)


def _open_chunk(
    aead: ChaCha20Poly1305, counter: int, chunk: memoryview, following: bool, plain: memoryview
) -> PayloadError | None:
    """Open chunk ``counter`` into ``plain``, knowing whether more data follows it.

    Returns the error to raise right after releasing the (authentic) plaintext: a stream
    that ends after a middle chunk, or trailing data after a full final chunk. Raises
    PayloadError when the chunk itself must not be released.
    """
    if not _is_full(chunk):
        # A short chunk ends the stream (the read hit EOF) and must be the final one.
        _open_final_chunk(aead, counter, chunk, plain)
        return None
    last = _open_full_chunk(aead, counter, chunk, plain)
    # Authentic; a full chunk is never the empty final chunk.
    if last and following:
        return PayloadError(f"payload invalid: trailing data after final chunk {counter}")
    if not last and not following:
        return PayloadError(f"payload truncated: no final chunk after chunk {counter}")
    return None


def _is_full(chunk: bytes | memoryview) -> bool:
    return len(chunk) == ENCRYPTED_CHUNK_SIZE


def _open(
    aead: ChaCha20Poly1305, counter: int, last: bool, chunk: memoryview, plain: memoryview
) -> bool:
    try:
        aead.decrypt_into(chunk_nonce(counter, last), chunk, None, plain)
    except InvalidTag:
        return False
    return True


def _open_full_chunk(
    aead: ChaCha20Poly1305, counter: int, chunk: memoryview, plain: memoryview
) -> bool:
    """Open a full chunk as a middle chunk, else as a final one; say whether it was final."""
    if _open(aead, counter, False, chunk, plain):
        return False
    if _open(aead, counter, True, chunk, plain):
        return True
    raise PayloadError(f"payload invalid: chunk {counter} failed authentication")


def _open_final_chunk(
    aead: ChaCha20Poly1305, counter: int, chunk: memoryview, plain: memoryview
) -> None:
    """Open the chunk the stream ends with; it must carry the final flag."""
    if len(chunk) < TAG_SIZE:
        raise PayloadError(f"payload truncated: chunk {counter} is shorter than its tag")
    if not _open(aead, counter, True, chunk, plain):
        if _open(aead, counter, False, chunk, plain):
            # Authentic, but not final: the stream was cut at a chunk boundary. Not released.
            raise PayloadError(f"payload truncated: chunk {counter} is not the final chunk")
        raise PayloadError(
            f"payload invalid: chunk {counter} failed authentication "
            "(modified, reordered, truncated or followed by trailing data)"
        )
    if len(plain) == 0 and counter > 0:
        raise PayloadError("payload invalid: final chunk is empty but is not the only chunk")


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
