"""Signed chain heads (docs/CHAIN_HEADS.md): every ``interval_s`` the camera signs a
:class:`~crypto.statements.ChainHead` naming the newest manifest of its chain (sequence and
hash, both null before the first), even when it records nothing, and posts it to
``POST /v1/sites/{site}/cameras/{camera}/chain-head``.

A signed head waits in the journal (key ``chain_head``) until it is posted, so a camera that is
offline keeps it across restarts; a newer head replaces the waiting one (the service keeps only
the latest anyway). A head is posted only once every manifest up to its sequence has been
committed (the outbox is uploaded in sequence order): the service never holds a head ahead of
the recordings it holds from an honest camera, and the customer's client can tell hidden
recordings from uploads in flight.
"""

from __future__ import annotations

import logging
import time

import httpx

from clients.api.errors import ServiceRefused, check
from clients.api.storage import StorageApi
from clients.camera.queue import Journal
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import ChainHead, SignedStatement, parse_signed, sign_statement

log = logging.getLogger("camvault.camera")

#: the journal key of the signed head waiting to be posted
PENDING_KEY = "chain_head"


def head_path(site_id: str, camera_id: str) -> str:
    return f"/v1/sites/{site_id}/cameras/{camera_id}/chain-head"


def sign_head(
    key: Ed25519SigningKey,
    site_id: str,
    camera_id: str,
    next_sequence: int,
    last_hash: bytes | None,
    interval_s: int,
    at_ms: int | None = None,
) -> SignedStatement:
    """The head of a chain whose next manifest gets ``next_sequence`` and whose newest one
    hashes to ``last_hash`` (None: no manifest yet)."""
    sequence = None if last_hash is None else next_sequence - 1
    body = ChainHead(
        site_id=site_id,
        camera_id=camera_id,
        sequence=sequence,
        manifest_sha256=last_hash,
        issued_at_ms=now_ms() if at_ms is None else at_ms,
        interval_s=interval_s,
    )
    return sign_statement(body, key)


def post_head(
    api: StorageApi, site_id: str, camera_id: str, head: SignedStatement
) -> dict[str, object]:
    """Post one signed head; a refusal is :class:`ServiceRefused` with its reason code."""
    resp = api.client.request("POST", head_path(site_id, camera_id), json={"head": head.to_json()})
    return dict(check(resp, api.service, (200, 201)))


class ChainHeads:
    """The agent's chain heads: :meth:`maybe_sign` from the producer (every ``interval_s``),
    :meth:`maybe_post` from the uploader (thread-safe through the journal)."""

    def __init__(
        self,
        api: StorageApi,
        journal: Journal,
        key: Ed25519SigningKey,
        site_id: str,
        camera_id: str,
        interval_s: int,
        retry_s: float = 5.0,
    ) -> None:
        self.api = api
        self.journal = journal
        self.key = key
        self.site_id = site_id
        self.camera_id = camera_id
        self.interval_s = interval_s
        self.retry_s = retry_s
        self.last_signed: float | None = None
        self.retry_at = 0.0
        self.posted = 0  # heads the service accepted (tests and logs)
        self.refused: str | None = None  # the last refusal's reason code

    def sign_now(self) -> SignedStatement:
        """Sign the current head and keep it as the one waiting to be posted."""
        seq, last = self.journal.chain_head()
        head = sign_head(self.key, self.site_id, self.camera_id, seq, last, self.interval_s)
        self.journal.put(PENDING_KEY, head.encode())
        self.last_signed = time.monotonic()
        self.retry_at = 0.0  # a new head is worth a try at once
        return head

    def maybe_sign(self) -> bool:
        """Sign a head if the interval has passed since the last one (or none was signed)."""
        if self.last_signed is not None and time.monotonic() - self.last_signed < self.interval_s:
            return False
        self.sign_now()
        return True

    def pending(self) -> SignedStatement | None:
        data = self.journal.get(PENDING_KEY)
        return None if data is None else parse_signed(data)

    def _forget(self, data: bytes) -> None:
        """Drop the waiting head if it is still ``data`` (not replaced by a newer one)."""
        with self.journal.lock:
            self.journal.db.execute(
                "DELETE FROM kv WHERE key = ? AND value = ?", (PENDING_KEY, data)
            )

    def maybe_post(self, next_pending: int | None) -> bool:
        """Post the waiting head unless the manifest it names is still in the outbox
        (``next_pending``: the lowest sequence not yet committed). True if one was posted."""
        if time.monotonic() < self.retry_at:
            return False
        head = self.pending()
        if head is None:
            return False
        body = head.unverified_statement
        if not isinstance(body, ChainHead):  # pragma: no cover - only heads are kept here
            self._forget(head.encode())
            return False
        if body.sequence is not None and next_pending is not None and next_pending <= body.sequence:
            return False
        try:
            post_head(self.api, self.site_id, self.camera_id, head)
        except httpx.HTTPError as exc:
            log.info("chain head not posted: %s", exc)
            self.retry_at = time.monotonic() + self.retry_s
            return False
        except ServiceRefused as exc:
            if exc.status >= 500:
                self.retry_at = time.monotonic() + self.retry_s
                return False
            # refused for good (e.g. not newer than the stored head): the next one replaces it
            log.error("chain head refused: %s %s", exc.code, exc.message)
            self.refused = exc.code
            self._forget(head.encode())
            return False
        self._forget(head.encode())
        self.posted += 1
        self.refused = None
        return True
