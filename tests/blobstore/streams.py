"""Deterministic source streams for the blob-store tests: data is generated on the fly, never
held in memory, so that multi-GiB round trips measure the store, not the test."""

from __future__ import annotations

import hashlib
import random

BLOCK = 1024 * 1024


class PatternStream:
    """``size`` bytes: 1 MiB blocks of seeded random data, each prefixed with its block number
    (so that no two blocks are equal and a swapped or repeated block changes the hash)."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self._base = random.Random(seed).randbytes(BLOCK)
        self._pos = 0
        self._digest = hashlib.sha256()

    def _block(self, index: int) -> bytes:
        return index.to_bytes(8, "big") + self._base[8:]

    def read(self, n: int = -1) -> bytes:
        left = self.size - self._pos
        if n < 0 or n > left:
            n = left
        out = bytearray()
        while len(out) < n:
            index, within = divmod(self._pos, BLOCK)
            take = min(BLOCK - within, n - len(out))
            out += self._block(index)[within : within + take]
            self._pos += take
        data = bytes(out)
        self._digest.update(data)
        return data

    @property
    def consumed(self) -> int:
        return self._pos

    def hexdigest(self) -> str:
        """SHA-256 of what has been read so far."""
        return self._digest.hexdigest()


def pattern_sha256(size: int, seed: int = 0) -> str:
    src = PatternStream(size, seed)
    while src.read(BLOCK):
        pass
    return src.hexdigest()


def pattern_bytes(size: int, seed: int = 0) -> bytes:
    return PatternStream(size, seed).read()


class SourceError(Exception):
    """Raised by FailingStream: the caller's source broke mid-way."""


class FailingStream:
    """Delivers ``fail_after`` bytes of a PatternStream, then raises ``exc``."""

    def __init__(self, fail_after: int, exc: BaseException | None = None) -> None:
        self._inner = PatternStream(fail_after + 10 * BLOCK, seed=99)
        self._fail_after = fail_after
        self._exc = exc if exc is not None else SourceError("source stream broke")

    def read(self, n: int = -1) -> bytes:
        left = self._fail_after - self._inner.consumed
        if left <= 0:
            raise self._exc
        return self._inner.read(min(n, left) if n >= 0 else left)
