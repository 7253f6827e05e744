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

import io
import os
import threading
from collections.abc import Callable
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from crypto.age.format import FileKey
from crypto.errors import PayloadError
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
# pyca/cryptography releases the GIL while it seals or opens a chunk, and so does the io
# module while it reads or writes, so two threads (the calling thread and one helper) work
# on alternate blocks of _BLOCK_CHUNKS chunks at once, each with its own preallocated input
# and output buffers. Each thread in turn:
#
# 1. takes the read turn: reads the next block with one ``readinto`` (reads are serialized
#    and in stream order);
# 2. seals or opens the block's chunks into its output buffer, where they lie back to back;
# 3. waits for the block's write turn and writes them with one call, in stream order.
#
# A block's read also takes the first byte after it, so the block knows whether the stream
# goes on (the final-chunk flag of a full block depends on it); that byte starts the next
# block. Memory is constant (about 2 MiB) for any stream size and nothing is allocated per
# chunk. After a block fails, no later block is read or written; the error is raised in the
# calling thread once the helper has stopped, and no thread touches ``src`` or ``dst`` after
# the function returns. A stream of one block (up to 512 KiB) is processed inline.
#
# ``dst.write`` receives memoryviews of buffers that are reused after the call returns, as
# the io contract allows ("the implementation should only access b during the call").

_BLOCK_CHUNKS = 8


class _Block:
    """One thread's buffers and the block it is working on."""

    __slots__ = ("data", "error", "index", "more", "out", "ready", "size")

    def __init__(self, data: bytearray, out: bytearray) -> None:
        self.data = data  # input: the block, then one look-ahead byte
        self.out = out  # output buffer
        self.index = 0  # position in the stream; its first chunk is number index * _BLOCK_CHUNKS
        self.size = 0  # bytes of ``data`` that belong to the block
        self.more = False  # whether the stream goes on after this block
        self.ready = 0  # bytes at the start of ``out`` to write (processed chunks, in order)
        self.error: BaseException | None = None  # raised after the ``ready`` bytes are written


_Process = Callable[[_Block], None]


class _Pipeline:
    """The shared state of one run: read and write turns, the look-ahead byte, the error."""

    def __init__(
        self, src: BinaryIO, dst: BinaryIO, unit: int, out_unit: int, process: _Process
    ) -> None:
        self._src, self._dst, self._process = src, dst, process
        self._unit, self._out_unit = unit, out_unit
        self._read_lock = threading.Lock()
        self._turn = threading.Condition()
        self._next_read = 0  # index of the next block to read
        self._next_write = 0  # index of the block whose turn it is to write
        self._carry: int | None = None  # the look-ahead byte, first byte of the next block
        self._ended = False  # the last block has been read
        self.error: BaseException | None = None

    def new_block(self) -> _Block:
        size = _BLOCK_CHUNKS * self._unit
        return _Block(bytearray(size + 1), bytearray(_BLOCK_CHUNKS * self._out_unit))

    def read(self, block: _Block) -> bool:
        """Read the next block into ``block``; False once the stream has ended."""
        with self._read_lock:
            if self._ended or self.error is not None:
                return False
            view, size = memoryview(block.data), len(block.data) - 1
            filled = 0
            if self._carry is not None:
                view[0], filled = self._carry, 1
            filled += _read_into(self._src, view[filled:])
            block.index, block.ready, block.error = self._next_read, 0, None
            block.size, block.more = min(filled, size), filled > size
            self._carry = block.data[size] if block.more else None
            self._ended = not block.more
            self._next_read += 1
            return True

    def write(self, block: _Block) -> None:
        """Wait for ``block``'s turn and write it, unless an earlier block failed."""
        with self._turn:
            while self._next_write != block.index and self.error is None:
                self._turn.wait()
            failed = self.error is not None
        error = block.error
        if not failed:
            try:
                _write_ready(self._dst, block)
            except BaseException as exc:
                error = exc
        with self._turn:
            if not failed and error is not None:
                self.error = error
            self._next_write += 1
            self._turn.notify_all()

    def fail(self, exc: BaseException) -> None:
        with self._turn:
            self.error = self.error or exc
            self._turn.notify_all()

    def work(self, block: _Block) -> None:
        """Read, process and write blocks until the stream ends or something fails."""
        try:
            while self.read(block):
                try:
                    self._process(block)
                except BaseException as exc:  # recorded; written as the block's error
                    block.ready, block.error = 0, exc
                self.write(block)
        except BaseException as exc:  # a read failed or the thread was interrupted
            self.fail(exc)


def _write_ready(dst: BinaryIO, block: _Block) -> None:
    """Write the block's processed chunks."""
    ready, block.ready = block.ready, 0
    write_all(dst, memoryview(block.out)[:ready])


def write_all(dst: BinaryIO, data: bytes | bytearray | memoryview) -> None:
    """Write all of ``data``: a raw stream may accept only part of it per call.

    A non-blocking raw stream that accepts nothing (``None``) or a stream that keeps
    accepting zero bytes raises instead of looping or dropping data. ``None`` from an
    object that is not a raw stream (a duck-typed sink) means everything was written.
    """
    view = memoryview(data).cast("B")
    while view:
        n = dst.write(view)
        if n is None:
            if isinstance(dst, io.RawIOBase):
                raise BlockingIOError("the destination is non-blocking and accepted nothing")
            return
        if n <= 0:
            raise OSError(f"the destination accepted {n} bytes of {len(view)}")
        view = view[n:]


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
        if n is None:  # a non-blocking source with nothing yet: not the end of the stream
            raise BlockingIOError("the source is non-blocking and has no data yet")
        if not n:
            break
        filled += n
    return filled


def _run(src: BinaryIO, dst: BinaryIO, unit: int, out_unit: int, process: _Process) -> None:
    """Cut ``src`` into blocks of ``unit``-byte chunks, ``process`` them, write in order."""
    pipeline = _Pipeline(src, dst, unit, out_unit, process)
    first = pipeline.new_block()
    if not pipeline.read(first):  # pragma: no cover - the first read always happens
        raise PayloadError("payload processing found no block")
    if not first.more:  # a single block: no threads
        process(first)
        _write_ready(dst, first)
        if first.error is not None:
            raise first.error
        return
    helper = threading.Thread(target=pipeline.work, args=(pipeline.new_block(),), daemon=True)
    try:
        helper.start()
        try:
            process(first)
        except BaseException as exc:
            first.ready, first.error = 0, exc
        pipeline.write(first)
        pipeline.work(first)
    except BaseException:
        pipeline.fail(PayloadError("payload processing cancelled"))
        raise
    finally:
        _join(helper)
    if pipeline.error is not None:
        raise pipeline.error


def _join(helper: threading.Thread) -> None:
    """Wait for ``helper`` even if interrupted meanwhile (then re-raise the interrupt), so
    that no thread touches ``src`` or ``dst`` once the caller regains control."""
    if helper.ident is None:  # never started
        return
    interrupted: BaseException | None = None
    while helper.is_alive():
        try:
            helper.join()
        except BaseException as exc:  # e.g. KeyboardInterrupt: wait anyway, raise after
            interrupted = interrupted or exc
    if interrupted is not None:
        raise interrupted


# --- encryption -------------------------------------------------------------------------


def encrypt_payload(file_key: FileKey, src: BinaryIO, dst: BinaryIO) -> None:
    """Write ``nonce || chunks`` encrypting all of ``src`` under ``file_key``."""
    _encrypt_payload_from_parts(file_key, os.urandom(NONCE_SIZE), src, dst)


def _encrypt_payload_from_parts(
    file_key: FileKey, nonce: bytes, src: BinaryIO, dst: BinaryIO
) -> None:
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    write_all(dst, nonce)

    def seal(block: _Block) -> None:
        # A chunk is final iff nothing follows it: a plaintext of exactly k * 64 KiB ends
        # with a full final chunk, never an empty one; an empty plaintext is one empty chunk.
        data, out = memoryview(block.data), memoryview(block.out)
        count = max(1, -(-block.size // CHUNK_SIZE))
        first = block.index * _BLOCK_CHUNKS
        chunk_nonce(first + count - 1, False)  # the counter range, checked once per block
        at = 0
        for i in range(count):
            start, end = i * CHUNK_SIZE, min((i + 1) * CHUNK_SIZE, block.size)
            nonce = (first + i).to_bytes(_COUNTER_SIZE, "big")
            nonce += b"\x01" if not block.more and i == count - 1 else b"\x00"
            sealed = out[at : at + end - start + TAG_SIZE]
            aead.encrypt_into(nonce, data[start:end], None, sealed)
            at += len(sealed)
        block.ready = at

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
        chunk_nonce(first + _BLOCK_CHUNKS - 1, False)  # the counter range, checked once per block
        for start in range(0, block.size, ENCRYPTED_CHUNK_SIZE):
            chunk = data[start : min(start + ENCRYPTED_CHUNK_SIZE, block.size)]
            following = block.more or start + len(chunk) < block.size
            index = start // ENCRYPTED_CHUNK_SIZE
            plain = out[index * CHUNK_SIZE : index * CHUNK_SIZE + max(len(chunk) - TAG_SIZE, 0)]
            counter = first + index
            if following and len(chunk) == ENCRYPTED_CHUNK_SIZE:
                # The common case, inline: a full chunk with more after it, opened as a
                # middle chunk. Anything else (final flag, failure) takes the full rules below.
                try:
                    middle = counter.to_bytes(_COUNTER_SIZE, "big") + b"\x00"
                    aead.decrypt_into(middle, chunk, None, plain)
                except InvalidTag:
                    pass
                else:
                    block.ready += len(plain)
                    continue
            try:
                block.error = _open_chunk(aead, counter, chunk, following, plain)
            except PayloadError as exc:
                block.error = exc
                return
            block.ready += len(plain)
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
    from nacl.bindings import crypto_aead_chacha20poly1305_ietf_encrypt  # only for the bench

    sealed: bytes = crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, None, nonce, key)
    return sealed


def aead_backends() -> dict[str, SealFunction]:
    """ChaCha20-Poly1305 seal(key, nonce, plaintext) per backend, for ``make bench``.

    "openssl" (pyca/cryptography) is the one this module uses; "libsodium" (PyNaCl) is the
    alternative it was measured against. Both produce identical ciphertexts.
    """
    return {"openssl": _seal_openssl, "libsodium": _seal_libsodium}
