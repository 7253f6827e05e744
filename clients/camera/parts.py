"""The part SHA-256s of a sealed recording, computed while it is sealed and kept beside it.

A large recording goes up in parts, each with its SHA-256 (docs/API.md §3.2, "Part
checksums"). Hashing the parts while sealing, on a second thread beside the payload's own
SHA-256 (the seal pass touches every byte anyway, and leaves a core idle while the AEAD
waits on the ordered writes), spares the upload pass a second read-and-hash of the file:
the upload, which competes for the CPU with the object store, only sends.

The hashes are a cache, never a source of truth: the store hashes every part as it arrives
and refuses one whose bytes hash otherwise, so a wrong or stale file (``<recording>.parts``)
costs a retry of that part hashed from the sealed file, never a wrong upload. The file is
written and fsynced before the sealed file is renamed into place; one that does not match
the upload's part size or payload size is ignored; the uploader removes it after the commit
and the camera's cleanup of unknown files removes any other (after a crash the parts are
hashed from the sealed file again).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

SUFFIX = ".parts"
_MAGIC = "camvault-part-sha256 v1"


def parts_path(sealed: Path) -> Path:
    return sealed.with_name(sealed.name + SUFFIX)


class PartHasher:
    """SHA-256 of each ``part_size`` range of a stream written in order, hashed on one
    helper thread (:meth:`update` returns the future to wait for before the buffer is
    reused)."""

    def __init__(self, part_size: int, pool: ThreadPoolExecutor) -> None:
        if part_size <= 0:
            raise ValueError("part_size must be positive")
        self.part_size = part_size
        self.digests: list[bytes] = []
        self._current = hashlib.sha256()
        self._filled = 0
        self._pool = pool

    @classmethod
    @contextmanager
    def maybe(cls, part_size: int | None) -> Iterator[PartHasher | None]:
        if part_size is None:
            yield None
            return
        with ThreadPoolExecutor(1, thread_name_prefix="camvault-parthash") as pool:
            yield cls(part_size, pool)

    def update(self, data: memoryview) -> Future[None]:
        return self._pool.submit(self._update, data)

    def _update(self, data: memoryview) -> None:
        while data:
            n = min(len(data), self.part_size - self._filled)
            self._current.update(data[:n])
            self._filled += n
            data = data[n:]
            if self._filled == self.part_size:
                self.digests.append(self._current.digest())
                self._current, self._filled = hashlib.sha256(), 0

    def hexdigests(self) -> list[str]:
        tail = [self._current.hexdigest()] if self._filled or not self.digests else []
        return [d.hex() for d in self.digests] + tail

    def save(self, sealed: Path, payload_size: int) -> None:
        """Write ``<sealed>.parts`` atomically (temporary name, fsync, rename)."""
        path = parts_path(sealed)
        tmp = path.with_name(path.name + ".tmp")
        lines = [f"{_MAGIC} {self.part_size} {payload_size}", *self.hexdigests()]
        with tmp.open("w") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def load(sealed: Path, part_size: int, payload_size: int) -> list[str] | None:
    """The hex SHA-256 of each part of ``sealed``'s payload cut in ``part_size`` parts, when
    its ``.parts`` file was written for that cut of that payload size; None otherwise."""
    try:
        lines = parts_path(sealed).read_text().split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    count = max(1, -(-payload_size // part_size))
    digests = [line for line in lines[1:] if line]
    if lines[0] != f"{_MAGIC} {part_size} {payload_size}" or len(digests) != count:
        return None
    if any(len(d) != 64 or d.strip("0123456789abcdef") for d in digests):
        return None
    return digests


def discard(sealed: Path) -> None:
    parts_path(sealed).unlink(missing_ok=True)
