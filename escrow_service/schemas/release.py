"""The release protocol's values: a decoded request, per-item results, the log receipt and
the outcome handed back to the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crypto.encoding import b64encode_padded
from crypto.escrow import ESCROW_STANZA_TYPE
from crypto.metadata import RecordingMetadata
from escrow_service.core.errors import Reason, Refusal

#: Standard base64 with ``=`` padding: how proofs and sealed shares appear in responses.
b64 = b64encode_padded


@dataclass(frozen=True, slots=True)
class ReleaseItemIn:
    metadata: RecordingMetadata
    stanza_args: tuple[str, ...]
    stanza_body: bytes
    stanza_type: str = ESCROW_STANZA_TYPE  # or camvault-escrow-mlkem768x25519 (hybrid)


@dataclass(frozen=True, slots=True)
class ReleaseIn:
    """A release request after JSON decoding (shape checked, meaning not yet)."""

    purpose: str
    justification: bytes | None  # canonical bytes of the signed statement, if any
    session_key: bytes
    items: tuple[ReleaseItemIn, ...]


@dataclass(frozen=True, slots=True)
class ItemResult:
    recording_id: str
    sealed_share: bytes | None
    reason: Reason | None
    message: str | None


@dataclass(frozen=True, slots=True)
class LogReceipt:
    """Where an entry landed: its index, exact bytes, and the proof against a checkpoint."""

    index: int
    entry: bytes
    checkpoint: bytes
    inclusion_proof: list[bytes]
    #: The size of the checkpoint's tree, which the proof is for (default: index + 1). Larger
    #: when the entry was written in a group (release group commit) or witnessed later.
    tree_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "entry": self.entry.decode("utf-8"),
            "tree_size": self.index + 1 if self.tree_size is None else self.tree_size,
            "checkpoint": self.checkpoint.decode("utf-8"),
            "inclusion_proof": [b64(h) for h in self.inclusion_proof],
        }


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    release_id: str
    receipt: LogReceipt
    items: list[ItemResult]
    refusal: Refusal | None = None

    def to_json(self, custodian_id: str) -> dict[str, Any]:
        """The response body (with the error member added by the API when refused)."""
        return {
            "custodian_id": custodian_id,
            "release_id": self.release_id,
            "log": self.receipt.to_json(),
            "items": [
                {
                    "recording_id": r.recording_id,
                    "status": "released" if r.sealed_share is not None else "refused",
                    "sealed_share": None if r.sealed_share is None else b64(r.sealed_share),
                    "reason": None if r.reason is None else r.reason.value,
                    "message": r.message,
                }
                for r in self.items
            ],
        }
