"""Delivery of access notices: an outbox drained by a background thread.

Each release writes its notice and an outbox row in the same transaction as its log entry,
so a notice can be late but never lost. The deliverer POSTs due notices to
``CAMVAULT_ESCROW_NOTIFY_URL`` (the storage service's customer inbox) as
``{"custodian_id", "notice_id", "site_id", "notice": <canonical JSON text>}``, signed with
RFC 9421 (keyid ``custodian:<site>/<custodian id>``, this custodian's log key, which the site's
SiteKeys lists so the storage service can authenticate it), and deletes
the outbox row on a 2xx answer; otherwise it retries with exponential backoff (1 s, 2 s, 4 s,
... up to ``notify_max_backoff_s``). The channel need not be trusted: the customer's client
checks every notice against this custodian's log (the clients' audit), and can always fetch
notices from ``GET /v1/sites/{site}/notices`` here.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine

from common.http import SignedClient
from crypto.ed25519 import Ed25519SigningKey
from escrow_service.core.settings import EscrowSettings
from escrow_service.db.models import notices, outbox

if TYPE_CHECKING:
    from escrow_service.services.escrow import EscrowService

log = logging.getLogger("camvault.escrow.notify")


class Notifier:
    def __init__(self, engine: Engine, service: EscrowService, settings: EscrowSettings) -> None:
        self._engine = engine
        self._service = service
        self._settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="escrow-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._settings.notify_interval_s):
            try:
                self._service.nonces.purge()
                if self._settings.notify_url:
                    self.deliver_due()
            except Exception:  # keep the loop alive; the outbox keeps the work
                log.exception("notice delivery pass failed")

    def deliver_due(self, limit: int = 100) -> int:
        """One delivery pass; returns how many notices were delivered."""
        url = self._settings.notify_url
        if not url:
            return 0
        now = self._service.clock()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.notice_id, outbox.c.attempts, notices.c.site_id, notices.c.body)
                .join(notices, notices.c.id == outbox.c.notice_id)
                .where(outbox.c.next_attempt_ms <= now)
                .order_by(outbox.c.notice_id)
                .limit(limit)
            ).all()
        delivered = 0
        keys = self._service.keys
        signing_key = Ed25519SigningKey(keys.log_signer.secret_seed())
        with SignedClient(
            "", f"custodian:-/{keys.custodian_id}", signing_key, timeout=5.0
        ) as client:
            for notice_id, attempts, site_id, body in rows:
                error: str | None = None
                try:
                    request = client.build(
                        "POST",
                        url,
                        json={
                            "custodian_id": keys.custodian_id,
                            "notice_id": int(notice_id),
                            "site_id": site_id,
                            "notice": body,
                        },
                        keyid=f"custodian:{site_id}/{keys.custodian_id}",
                    )
                    resp = client.send(request)
                    if not 200 <= resp.status_code < 300:
                        error = f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                with self._service.log.writer() as conn:  # see NonceStore.remember
                    if error is None:
                        conn.execute(outbox.delete().where(outbox.c.notice_id == notice_id))
                        conn.execute(
                            notices.update()
                            .where(notices.c.id == notice_id)
                            .values(delivered_ms=self._service.clock())
                        )
                        delivered += 1
                    else:
                        backoff = min(self._settings.notify_max_backoff_s, 2.0 ** int(attempts))
                        conn.execute(
                            outbox.update()
                            .where(outbox.c.notice_id == notice_id)
                            .values(
                                attempts=int(attempts) + 1,
                                next_attempt_ms=now + int(backoff * 1000),
                                last_error=error,
                            )
                        )
        return delivered
