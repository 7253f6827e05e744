"""Encrypt a recording on the camera: one age v1 file per recording (DESIGN "Recording
format"), to the customer recipients plus the custodians' escrow stanzas of the verified
SiteKeys, with the recording's metadata bound into every escrow stanza."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from clients.camera.parts import PartHasher
from crypto.age import encrypt_header, encrypt_payload
from crypto.age.stream import CHUNK_SIZE, NONCE_SIZE, TAG_SIZE
from crypto.escrow import build_recipient_set
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import SiteKeys


@dataclass(frozen=True, slots=True)
class Sealed:
    """An encrypted recording on the camera's disk: ``file`` = header || payload."""

    recording_id: str
    kind: RecordingKind
    start_ms: int
    end_ms: int
    file: Path
    header_len: int
    payload_size: int
    header_sha256: bytes
    payload_sha256: bytes


class _HashingWriter(io.RawIOBase):
    """Writes the payload through its SHA-256 and, with a ``parts`` hasher, the SHA-256 of
    each part (hashed on another thread meanwhile: both release the GIL)."""

    def __init__(self, dst: BinaryIO, parts: PartHasher | None = None) -> None:
        self.dst = dst
        self.sha = hashlib.sha256()
        self.size = 0
        self.parts = parts

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")  # the caller's buffer: used before this returns
        pending = self.parts.update(view) if self.parts is not None else None
        self.sha.update(view)
        self.dst.write(view)
        if pending is not None:
            pending.result()
        self.size += len(view)
        return len(view)


def _payload_size(src: BinaryIO) -> int | None:
    """The age payload's size for the rest of ``src`` when ``src`` can tell (seekable):
    nonce, then each 64 KiB chunk with its tag (at least one chunk)."""
    try:
        at = src.tell()
        end = src.seek(0, io.SEEK_END)
        src.seek(at)
    except (OSError, AttributeError, ValueError):
        return None
    plain = end - at
    return NONCE_SIZE + plain + TAG_SIZE * max(1, -(-plain // CHUNK_SIZE))


def seal(
    site: SiteKeys,
    meta: RecordingMetadata,
    src: BinaryIO,
    dst_path: Path,
    *,
    part_size: int | None = None,
    multipart_threshold: int = 0,
) -> Sealed:
    """Encrypt ``src`` to ``dst_path`` atomically (written to a temporary name, fsynced,
    renamed): a crash leaves either no file or a complete one. With ``part_size``, a payload
    of at least ``multipart_threshold`` bytes also gets its part SHA-256s beside it
    (:mod:`clients.camera.parts`), written before the file is renamed into place."""
    recipients = build_recipient_set(
        site.recipients, [c.sealing_key() for c in site.custodians], site.threshold, meta
    )
    header, file_key = encrypt_header(recipients)
    tmp = dst_path.with_name(dst_path.name + ".tmp")
    size = _payload_size(src)
    if size is not None and size < multipart_threshold:
        part_size = None  # uploaded in one PUT: no parts to hash
    with tmp.open("wb") as f, PartHasher.maybe(part_size) as parts:
        f.write(header)
        writer = _HashingWriter(f, parts)
        encrypt_payload(file_key, src, writer)  # type: ignore[arg-type]
        f.flush()
        os.fsync(f.fileno())
    if parts is not None and writer.size >= multipart_threshold:
        parts.save(dst_path, writer.size)
    os.replace(tmp, dst_path)
    return Sealed(
        recording_id=meta.recording_id,
        kind=meta.kind,
        start_ms=meta.start_ms,
        end_ms=meta.end_ms,
        file=dst_path,
        header_len=len(header),
        payload_size=writer.size,
        header_sha256=hashlib.sha256(header).digest(),
        payload_sha256=writer.sha.digest(),
    )


def seal_to_customer(site: SiteKeys, plaintext: bytes) -> bytes:
    """A whole age file for the customer recipients only (smart alerts: no escrow)."""
    header, file_key = encrypt_header(list(site.recipients))
    out = io.BytesIO()
    out.write(header)
    encrypt_payload(file_key, io.BytesIO(plaintext), out)
    return out.getvalue()
