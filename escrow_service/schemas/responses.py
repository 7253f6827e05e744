"""Response bodies as pydantic models (the release response, encoded off the event loop for
speed, is :meth:`escrow_service.schemas.release.ReleaseOutcome.to_json`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel

from escrow_service.schemas.release import LogReceipt, b64


class Health(BaseModel):
    status: str


class CustodianOut(BaseModel):
    """What a customer puts into SiteKeys and what verifies this custodian's log."""

    custodian_id: str
    escrow_key: str
    escrow_key_id: str
    hybrid_escrow_key: str | None  # camvault-custodian-pq1... (ML-KEM-768 + X25519), if any
    log_key: str
    log_verifier: str
    origin: str
    next_log_key: str | None  # during a log key rotation


class LogOut(BaseModel):
    """Where an entry landed: its index and bytes, with its inclusion proof (base64 hashes)
    under the checkpoint of size ``index + 1``."""

    index: int
    entry: str
    tree_size: int
    checkpoint: str
    inclusion_proof: list[str]


class ReceiptOut(BaseModel):
    """``logged`` with the entry, or ``unchanged`` (no ``log``) when the statement was held."""

    status: Literal["logged", "unchanged"]
    log: LogOut | None = None

    @classmethod
    def of(cls, receipt: LogReceipt | None) -> ReceiptOut:
        if receipt is None:
            return cls(status="unchanged")
        return cls(status="logged", log=LogOut(**receipt.to_json()))


class EntryOut(BaseModel):
    index: int
    entry: str  # the exact entry bytes (canonical JSON)


class EntriesOut(BaseModel):
    entries: list[EntryOut]

    @classmethod
    def of(cls, rows: Iterable[tuple[int, bytes]]) -> EntriesOut:
        return cls(entries=[EntryOut(index=i, entry=e.decode("utf-8")) for i, e in rows])


def proof_json(proof: Iterable[bytes]) -> list[str]:
    """A Merkle proof's hashes, base64."""
    return [b64(h) for h in proof]


class InclusionOut(BaseModel):
    index: int
    tree_size: int
    proof: list[str]


class ConsistencyOut(BaseModel):
    old: int
    new: int
    proof: list[str]


class NoticeOut(BaseModel):
    id: int
    notice: str  # canonical JSON text of the access notice
    delivered: bool


class NoticesOut(BaseModel):
    notices: list[NoticeOut]
