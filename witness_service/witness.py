"""The add-checkpoint decision of C2SP tlog-witness, over the store (no HTTP here).

In order: the body parses (else 400 ``bad_request``); the origin is a log this witness
follows (else 404 ``unknown_log``); a configured key of that log signed the checkpoint (else
403 ``bad_signature``); ``old`` is not beyond the checkpoint's size (else 400
``old_beyond_size``, a rollback); ``old`` is the size this witness last cosigned (else 409
with that size, ``text/x.tlog.size``); at the same size the root is the same (else 409
``fork``); the consistency proof goes from the stored root to the new one (else 422
``bad_proof``). Only then is the new size stored (compare-and-set) and cosigned. A refused
checkpoint that the log did sign (fork, bad proof, rollback) is kept as evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from crypto.errors import CryptoError, LogProofError
from crypto.tlog import verify_consistency
from crypto.tlog.cosignature import AddCheckpoint, CosignatureSigner, WitnessRequestError
from crypto.tlog.note import (
    Checkpoint,
    InvalidNoteSignatureError,
    NoteError,
    NoteVerifier,
    UnverifiedNoteError,
    open_note,
)
from witness_service.store import Store

log = logging.getLogger("camvault.witness")

SIZE_CONTENT_TYPE = "text/x.tlog.size"


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, content type, body; ``reason`` names a refusal."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    reason: str | None = None


def _refuse(status: int, reason: str, message: str) -> Answer:
    return Answer(status, f"{reason}: {message}\n".encode(), reason=reason)


class Witness:
    def __init__(
        self,
        signer: CosignatureSigner,
        logs: Mapping[str, Sequence[NoteVerifier]],
        store: Store,
        clock_s: Callable[[], int],
    ) -> None:
        self.signer = signer
        self.logs = {origin: list(keys) for origin, keys in logs.items()}
        self.store = store
        self.clock_s = clock_s

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            req = AddCheckpoint.parse(body)
        except WitnessRequestError as exc:
            return _refuse(400, "bad_request", str(exc))
        first = req.checkpoint.split(b"\n", 1)[0].decode("utf-8", "replace")
        keys = self.logs.get(first)
        if keys is None:
            return _refuse(404, "unknown_log", f"this witness does not follow {first[:100]!r}")
        try:
            note = open_note(req.checkpoint, keys)
        except (UnverifiedNoteError, InvalidNoteSignatureError) as exc:
            return _refuse(403, "bad_signature", str(exc))
        except NoteError as exc:
            return _refuse(400, "bad_request", f"checkpoint: {exc}")
        try:
            cp = Checkpoint.from_text(note.text)
        except CryptoError as exc:
            return _refuse(400, "bad_request", f"checkpoint: {exc}")
        if cp.origin != first:  # pragma: no cover - the first line is the origin
            return _refuse(400, "bad_request", "checkpoint origin")
        now = self.clock_s()
        if req.old_size > cp.size:
            self._evidence(cp.origin, "rollback", req, now)
            return _refuse(
                400, "old_beyond_size", f"old size {req.old_size} is beyond the size {cp.size}"
            )
        known = self.store.latest(cp.origin)
        if req.old_size != known.size:  # memory may lag another process: ask the database
            known = self.store.latest(cp.origin, fresh=True)
        if req.old_size != known.size:
            if cp.size < known.size:
                self._evidence(cp.origin, "rollback", req, now)
            return Answer(409, f"{known.size}\n".encode(), SIZE_CONTENT_TYPE, "size_conflict")
        if cp.size == known.size and cp.root_hash != known.root_hash and known.size > 0:
            self._evidence(cp.origin, "fork", req, now)
            log.warning("fork", extra={"origin": cp.origin, "size": cp.size})
            return _refuse(409, "fork", f"a different root for size {cp.size} was cosigned before")
        if known.size > 0:
            try:
                verify_consistency(
                    known.size, cp.size, known.root_hash, cp.root_hash, list(req.proof)
                )
            except LogProofError as exc:
                self._evidence(cp.origin, "bad_proof", req, now)
                log.warning("inconsistent", extra={"origin": cp.origin, "size": cp.size})
                return _refuse(422, "bad_proof", f"not consistent with size {known.size}: {exc}")
        if not self.store.advance(cp.origin, known, cp.size, cp.root_hash, req.checkpoint, now):
            latest = self.store.latest(cp.origin, fresh=True)
            return Answer(409, f"{latest.size}\n".encode(), SIZE_CONTENT_TYPE, "size_conflict")
        line = self.signer.cosignature_line(note.text, now)
        return Answer(200, line.encode())

    def _evidence(self, origin: str, reason: str, req: AddCheckpoint, now: int) -> None:
        self.store.keep_evidence(origin, reason, req.old_size, req.checkpoint, now)
