"""Technical telemetry (plaintext to the operator, never anything about the images):
POST /v1/sites/{site}/devices/{camera}/telemetry every ``interval_s``."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from clients.api.errors import ServiceRefused
from clients.api.storage import StorageApi
from common.time import now_ms

log = logging.getLogger("camvault.camera")


class TelemetryPoster:
    def __init__(
        self,
        api: StorageApi,
        site_id: str,
        device_id: str,
        firmware: str,
        interval_s: float,
        storage: Path | None,
    ) -> None:
        self.api = api
        self.site_id = site_id
        self.device_id = device_id
        self.firmware = firmware
        self.interval_s = interval_s
        self.storage = storage
        self.started = time.monotonic()
        self.last: float | None = None

    def report(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reported_ms": now_ms(),
            "firmware": self.firmware,
            "uptime_s": int(time.monotonic() - self.started),
            "storage_health": "absent",
        }
        if self.storage is not None:
            try:
                body["storage_free_bytes"] = shutil.disk_usage(self.storage).free
                body["storage_health"] = "ok"
            except OSError:
                body["storage_health"] = "failing"
        return body

    def maybe_post(self) -> bool:
        """Post if the interval has passed; failures are logged and retried next interval."""
        now = time.monotonic()
        if self.last is not None and now - self.last < self.interval_s:
            return False
        self.last = now
        try:
            self.api.post_telemetry(self.site_id, self.device_id, self.report())
        except httpx.HTTPError as exc:
            log.info("telemetry not sent: %s", exc)
            return False
        except ServiceRefused as exc:
            log.warning("telemetry refused: %s %s", exc.status, exc.message)
            return False
        return True
