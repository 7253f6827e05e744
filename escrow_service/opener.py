"""Opening escrow stanzas and re-sealing their shares to the operator's session key.

This is the hot path of a release: per recording one X25519 + HKDF + ChaCha20-Poly1305 to
open (crypto.escrow.open_escrow_stanza) and one fresh ephemeral key + X25519 + AEAD to seal
(crypto.escrow.seal_share_to_session). PyNaCl holds the GIL, so large batches are split over
a pool of worker processes (each loads the custodian key once, at start); small ones run in
the calling thread. Nothing here decides policy or touches the database: the caller releases
the sealed shares only after the log entry for the request is committed.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from crypto.errors import CryptoError, EscrowError
from crypto.escrow import (
    ESCROW_STANZA_TYPE,
    CustodianKey,
    NotThisCustodianError,
    open_escrow_stanza,
    parse_escrow_stanza,
    seal_share_to_session,
)
from crypto.format import Stanza
from crypto.metadata import RecordingMetadata
from escrow_service.errors import Reason


class MemoMetadata(RecordingMetadata):
    """RecordingMetadata that computes its associated data once.

    The value is immutable and crypto.escrow asks for its AD three times per release (stanza
    AD, release AD, released-set root); RFC 8785 encoding in Python is a third of the cost of
    a batch otherwise. Same bytes as the base class, only memoized (lost on pickling, then
    recomputed).
    """

    __slots__ = ("_ad",)
    _ad: bytes

    def associated_data(self) -> bytes:
        try:
            ad: bytes = self._ad
        except AttributeError:
            ad = super().associated_data()
            object.__setattr__(self, "_ad", ad)
        return ad


#: (stanza args, stanza body, metadata) of one recording.
Item = tuple[tuple[str, ...], bytes, RecordingMetadata]


@dataclass(frozen=True, slots=True)
class Opened:
    """A share opened and sealed to the session key, or the reason it could not be."""

    sealed: bytes | None
    reason: Reason | None
    message: str | None


def _process(
    key: CustodianKey, key_id: str, items: Sequence[Item], session_pk: bytes, release_id: str
) -> list[Opened]:
    out: list[Opened] = []
    for args, body, meta in items:
        stanza = Stanza(ESCROW_STANZA_TYPE, args, body)
        try:
            info = parse_escrow_stanza(stanza)
        except EscrowError as exc:
            out.append(Opened(None, Reason.MALFORMED_STANZA, str(exc)))
            continue
        if info.key_id != key_id:
            out.append(
                Opened(None, Reason.NOT_THIS_CUSTODIAN, "stanza is addressed to another custodian")
            )
            continue
        try:
            share = open_escrow_stanza(stanza, key, meta)
        except NotThisCustodianError as exc:
            out.append(Opened(None, Reason.NOT_THIS_CUSTODIAN, str(exc)))
            continue
        except EscrowError as exc:
            out.append(Opened(None, Reason.STANZA_METADATA_MISMATCH, str(exc)))
            continue
        try:
            sealed = seal_share_to_session(share, session_pk, meta, release_id=release_id)
        except CryptoError as exc:
            # The service checks the session key first; this keeps any sealing failure a
            # logged per-item refusal rather than an unlogged 500.
            out.append(Opened(None, Reason.BAD_SESSION_KEY, str(exc)))
            continue
        out.append(Opened(sealed, None, None))
    return out


_worker_key: CustodianKey | None = None
_worker_key_id = ""


def _init_worker(secret: bytes) -> None:
    global _worker_key, _worker_key_id  # per-process state of the pool
    _worker_key = CustodianKey(secret)
    _worker_key_id = _worker_key.public_key().key_id()


def _process_in_worker(items: list[Item], session_pk: bytes, release_id: str) -> list[Opened]:
    if _worker_key is None:
        raise RuntimeError("worker not initialised")
    return _process(_worker_key, _worker_key_id, items, session_pk, release_id)


class Opener:
    def __init__(self, key: CustodianKey, *, workers: int, parallel_threshold: int) -> None:
        self._key = key
        self._key_id = key.public_key().key_id()
        self._threshold = parallel_threshold
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(key.secret_bytes(),),
            )
            # Start the workers now rather than on the first big batch.
            for f in [self._pool.submit(_noop) for _ in range(workers)]:
                f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def open_and_seal(
        self, items: Sequence[Item], session_pk: bytes, release_id: str
    ) -> list[Opened]:
        if self._pool is None or len(items) < self._threshold:
            return _process(self._key, self._key_id, items, session_pk, release_id)
        n = self._workers
        size = -(-len(items) // n)
        chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
        futures = [self._pool.submit(_process_in_worker, c, session_pk, release_id) for c in chunks]
        out: list[Opened] = []
        for f in futures:
            out.extend(f.result())
        return out


def _noop() -> None:
    return None
