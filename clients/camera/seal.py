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

from crypto.age import encrypt_header, encrypt_payload
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
    def __init__(self, dst: BinaryIO) -> None:
        self.dst = dst
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        data = bytes(b)
        self.dst.write(data)
        self.sha.update(data)
        self.size += len(data)
        return len(data)


def seal(site: SiteKeys, meta: RecordingMetadata, src: BinaryIO, dst_path: Path) -> Sealed:
    """Encrypt ``src`` to ``dst_path`` atomically (written to a temporary name, fsynced,
    renamed): a crash leaves either no file or a complete one."""
    recipients = build_recipient_set(
        site.recipients, [c.escrow_key for c in site.custodians], site.threshold, meta
    )
    header, file_key = encrypt_header(recipients)
    tmp = dst_path.with_name(dst_path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(header)
        writer = _HashingWriter(f)
        encrypt_payload(file_key, src, writer)  # type: ignore[arg-type]
        f.flush()
        os.fsync(f.fileno())
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
