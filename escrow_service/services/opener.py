"""Opening escrow stanzas and re-sealing their shares to the operator's session key.

This is the hot path of a release: per recording one X25519 + HKDF + ChaCha20-Poly1305 to
open and one fresh ephemeral key + X25519 + AEAD to seal, through
:class:`crypto.escrow.ShareReleaser` (the request-wide values prepared once). The X25519
scalar multiplications are two thirds of the cost, and the Python around them holds the GIL,
so large batches are split over a pool of worker processes (each loads the custodian key
once, at start); small ones run in the calling thread. A custodian with a hybrid escrow key
(ML-KEM-768 + X25519) opens ``camvault-escrow-mlkem768x25519`` stanzas with it (one HPKE open
instead of the X25519 unwrap); one without refuses them as ``no_hybrid_key``. Items cross
the process boundary as tuples of plain values (metadata as its six fields, results as bytes
or a reason code): pickling dataclasses cost more than a tenth of a batch. Nothing here
decides policy or touches the database: the caller releases the sealed shares only after the
log entry for the request is committed.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from crypto.age.format import Stanza
from crypto.errors import CryptoError, EscrowError
from crypto.escrow import (
    CustodianKey,
    HybridCustodianKey,
    MalformedStanzaError,
    NoHybridKeyError,
    NotThisCustodianError,
    ShareReleaser,
    parse_escrow_stanza,
)
from crypto.metadata import RecordingKind, RecordingMetadata
from escrow_service.core.errors import Reason
from escrow_service.schemas.metadata import MemoMetadata

#: (stanza args, stanza body, metadata, stanza type) of one recording.
Item = tuple[tuple[str, ...], bytes, RecordingMetadata, str]
#: What crosses to a worker per item: stanza args, body, metadata fields (kind as its value),
#: stanza type.
_WireItem = tuple[tuple[str, ...], bytes, tuple[str, str, str, str, int, int], str]
#: The custodian's escrow keys: X25519, and hybrid if it has one.
Keys = tuple[CustodianKey, HybridCustodianKey | None]
#: What comes back: the sealed share, or None and a reason code and message.
_WireResult = tuple[bytes | None, str | None, str | None]

#: Items per task sent to a worker process: small enough that both workers stay busy to the
#: end on a loaded machine and that results stream back while later chunks are opened.
CHUNK = 150


@dataclass(frozen=True, slots=True)
class Opened:
    """A share opened and sealed to the session key, or the reason it could not be."""

    sealed: bytes | None
    reason: Reason | None
    message: str | None


def _release_one(
    releaser: ShareReleaser,
    args: tuple[str, ...],
    body: bytes,
    meta: RecordingMetadata,
    stanza_type: str,
) -> _WireResult:
    stanza = Stanza(stanza_type, args, body)
    try:
        share = releaser.open(stanza, meta)
    except NoHybridKeyError:
        return (
            None,
            Reason.NO_HYBRID_KEY.value,
            "hybrid stanza, but this custodian has no hybrid key",
        )
    except MalformedStanzaError as exc:
        return None, Reason.MALFORMED_STANZA.value, str(exc)
    except NotThisCustodianError:
        return None, Reason.NOT_THIS_CUSTODIAN.value, "stanza is addressed to another custodian"
    except EscrowError as exc:
        # Malformed (the stanza alone is wrong) or does not open with this metadata; telling
        # them apart costs a second parse, on the refusal path only.
        try:
            parse_escrow_stanza(stanza)
        except EscrowError as malformed:
            return None, Reason.MALFORMED_STANZA.value, str(malformed)
        return None, Reason.STANZA_METADATA_MISMATCH.value, str(exc)
    try:
        return releaser.seal(share, meta), None, None
    except CryptoError as exc:
        # The service checks the session key first; this keeps any sealing failure a
        # logged per-item refusal rather than an unlogged 500.
        return None, Reason.BAD_SESSION_KEY.value, str(exc)


def _process(keys: Keys, items: Sequence[Item], session_pk: bytes, release_id: str) -> list[Opened]:
    try:
        releaser = ShareReleaser(keys[0], session_pk, release_id, keys[1])
    except CryptoError as exc:
        return [Opened(None, Reason.BAD_SESSION_KEY, str(exc)) for _ in items]
    return [_opened(_release_one(releaser, *item)) for item in items]


def _opened(result: _WireResult) -> Opened:
    sealed, reason, message = result
    return Opened(sealed, None if reason is None else Reason(reason), message)


_worker_keys: Keys | None = None


def _init_worker(secret: bytes, hybrid_seed: bytes | None) -> None:
    global _worker_keys  # per-process state of the pool
    hybrid = None if hybrid_seed is None else HybridCustodianKey(hybrid_seed)
    _worker_keys = (CustodianKey(secret), hybrid)


def _process_in_worker(
    items: list[_WireItem], session_pk: bytes, release_id: str
) -> list[_WireResult]:
    if _worker_keys is None:
        raise RuntimeError("worker not initialised")
    try:
        releaser = ShareReleaser(_worker_keys[0], session_pk, release_id, _worker_keys[1])
    except CryptoError as exc:
        return [(None, Reason.BAD_SESSION_KEY.value, str(exc)) for _ in items]
    out: list[_WireResult] = []
    for args, body, (site, camera, recording, kind, start, end), stanza_type in items:
        # Validated again by the constructor: the worker trusts nothing it is sent.
        meta = MemoMetadata(site, camera, recording, RecordingKind(kind), start, end)
        out.append(_release_one(releaser, args, body, meta, stanza_type))
    return out


def _wire(item: Item) -> _WireItem:
    args, body, m, stanza_type = item
    fields = (m.site_id, m.camera_id, m.recording_id, m.kind.value, m.start_ms, m.end_ms)
    return args, body, fields, stanza_type


class Opener:
    def __init__(
        self,
        key: CustodianKey,
        *,
        workers: int,
        parallel_threshold: int,
        hybrid_key: HybridCustodianKey | None = None,
    ) -> None:
        self._keys: Keys = (key, hybrid_key)
        self._threshold = parallel_threshold
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(
                    key.secret_bytes(),
                    None if hybrid_key is None else hybrid_key.secret_bytes(),
                ),
            )
            # Start the workers now rather than on the first big batch.
            for f in [self._pool.submit(_noop) for _ in range(workers)]:
                f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def open_and_seal(
        self,
        items: Sequence[Item],
        session_pk: bytes,
        release_id: str,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[Opened]:
        """Open and re-seal ``items``; ``meanwhile`` is run while worker processes do that
        (the caller's own preparation, overlapped with the opening), or first if inline."""
        if self._pool is None or len(items) < self._threshold:
            if meanwhile is not None:
                meanwhile()
            return _process(self._keys, items, session_pk, release_id)
        size = max(1, min(CHUNK, -(-len(items) // self._workers)))
        futures = [
            self._pool.submit(
                _process_in_worker,
                [_wire(it) for it in items[i : i + size]],
                session_pk,
                release_id,
            )
            for i in range(0, len(items), size)
        ]
        if meanwhile is not None:
            meanwhile()
        out: list[Opened] = []
        for f in futures:
            out.extend(_opened(r) for r in f.result())
        return out


def _noop() -> None:
    return None
