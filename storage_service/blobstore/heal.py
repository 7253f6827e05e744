"""`camvault admin s3-heal`: ask MinIO to heal the bucket after a node or drive came back.

MinIO acknowledges a write once its write quorum of drives has it; a node that was down
misses those writes and gets their shards back only by healing. Its own healing (the queue
of recent partial writes, the background scanner) can take minutes or longer: the cluster
tests saw nothing healed 120 s after a node returned. An operator therefore asks for a heal
of the bucket once the node is back, which is what this does, through MinIO's admin API
(``POST /minio/admin/v3/heal/<bucket>``, the request ``mc admin heal -r`` sends; ``mc`` itself
is AGPL and not part of camvault). Admin requests are signed like any S3 request (AWS
Signature Version 4, botocore's signer). A heal asked before the other nodes see the
returned drive again finds it "not found" and heals nothing: ask again a little later.

The MinIO-specific JSON of the heal status is read defensively: only ``Summary`` (the
sequence's state) and ``Items`` (one per object or bucket scanned, each with the state of
every drive before and after) are used.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage_service.blobstore.provision import SetupError

DONE = ("finished", "stopped", "failed")


class HealSettings(BaseSettings):
    """The store, its bucket and MinIO's administrator (root or an admin user)."""

    model_config = SettingsConfigDict(env_prefix="CAMVAULT_S3_", env_file=".env", extra="ignore")

    endpoint: str = Field(description="one MinIO node's S3 API, e.g. http://minio1:9000")
    region: str = "us-east-1"
    bucket: str = "camvault"
    admin_access_key: str = Field(min_length=3)
    admin_secret_key: SecretStr


@dataclass
class HealReport:
    summary: str = "running"
    scanned: int = 0  # objects (and the bucket) MinIO looked at
    healed: int = 0  # of those, how many had a drive missing or outdated that is now in sync
    detail: str = ""  # MinIO's reason when the sequence failed
    seen: set[str] = field(default_factory=set, repr=False)

    def add(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            key = f"{item.get('bucket', '')}/{item.get('object', '')}"
            if key in self.seen:
                continue
            self.seen.add(key)
            self.scanned += 1
            before = _states(item.get("before"))
            after = _states(item.get("after"))
            if any(s != "ok" for s in before) and after and all(s == "ok" for s in after):
                self.healed += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "scanned": self.scanned,
            "healed": self.healed,
            "detail": self.detail,
        }


def _states(side: Any) -> list[str]:
    drives = side.get("drives") if isinstance(side, dict) else None
    return [str(d.get("state", "")) for d in drives or [] if isinstance(d, dict)]


class _Admin:
    def __init__(self, settings: HealSettings, timeout_s: float) -> None:
        self.settings = settings
        self.http = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=5.0))

    def post(self, path: str, query: str, body: bytes) -> dict[str, Any]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        s = self.settings
        url = f"{s.endpoint.rstrip('/')}/minio/admin/v3/{path}" + (f"?{query}" if query else "")
        req = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()},
        )
        creds = Credentials(s.admin_access_key, s.admin_secret_key.get_secret_value())
        SigV4Auth(creds, "s3", s.region).add_auth(req)
        try:
            resp = self.http.post(url, content=body, headers=dict(req.headers.items()))
        except httpx.HTTPError as exc:
            raise SetupError(f"heal: {s.endpoint} unreachable: {exc}") from None
        if resp.status_code != 200:
            try:
                error = resp.json()
                why = f"{error.get('Code', '')}: {error.get('Message', '')}"
            except ValueError:
                why = " ".join(resp.text.split())[:200]
            raise SetupError(f"heal: MinIO answered {resp.status_code} {why}")
        try:
            answer: dict[str, Any] = resp.json()
        except ValueError:
            raise SetupError("heal: MinIO's answer is not JSON (not a MinIO admin API?)") from None
        return answer


def heal_bucket(
    settings: HealSettings,
    *,
    timeout_s: float = 600.0,
    on_progress: Callable[[HealReport], None] | None = None,
) -> HealReport:
    """Heal every object of the bucket (normal scan: missing or outdated shards rebuilt, no
    object removed) and wait until MinIO reports the sequence done."""
    admin = _Admin(settings, timeout_s=30.0)
    opts = {"recursive": True, "dryRun": False, "remove": False, "scanMode": 1}
    path = f"heal/{quote(settings.bucket, safe='')}"
    started = admin.post(path, "", json.dumps(opts).encode())
    token = started.get("clientToken")
    if not isinstance(token, str):
        raise SetupError("heal: MinIO did not start a heal sequence (no clientToken)")
    report = HealReport()
    deadline = time.monotonic() + timeout_s
    while True:
        status = admin.post(path, f"clientToken={quote(token, safe='')}", b"")
        report.add([i for i in status.get("Items") or [] if isinstance(i, dict)])
        report.summary = str(status.get("Summary", status.get("summary", "running")))
        report.detail = str(status.get("Detail", "") or "")
        if on_progress is not None:
            on_progress(report)
        if report.summary in DONE:
            return report
        if time.monotonic() > deadline:
            raise SetupError(f"heal: still {report.summary} after {timeout_s:g} s")
        time.sleep(0.5)
