"""Upload one outbox item: request an upload, PUT the age payload to the presigned URL(s)
(multipart above a threshold), commit header + signed manifest (docs/API.md §3.2).

Every step is idempotent on the service side, which is what makes retries after a network
loss or a SIGKILL safe: the same upload request returns the same open upload; a commit of a
manifest already stored returns the stored recording (200); a new upload request for a
committed recording is ``recording_committed``, after which re-sending the commit confirms it.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from typing import Any

import httpx

from clients.camera.queue import Journal, OutboxItem
from common.http import SignedClient

log = logging.getLogger("camvault.camera")

#: An upload id that names no upload: used to re-confirm an already committed recording
#: (the service answers a known manifest before it looks at the upload id).
NO_UPLOAD = "0" * 32


class TransientUploadError(Exception):
    """Network down, service or store unavailable: retry the same item later."""


class PermanentUploadError(Exception):
    """The service refused the item for a reason a retry will not fix."""


def _error_code(r: httpx.Response) -> str:
    try:
        return str(r.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"http_{r.status_code}"


def _check(r: httpx.Response, what: str) -> None:
    if r.status_code >= 500 or r.status_code in (408, 429):
        raise TransientUploadError(f"{what}: {r.status_code} {_error_code(r)}")
    if r.status_code >= 400:
        raise PermanentUploadError(f"{what}: {r.status_code} {_error_code(r)}: {r.text[:300]}")


class Uploader:
    def __init__(
        self,
        client: SignedClient,
        journal: Journal,
        *,
        multipart_threshold: int,
        part_size: int,
        timeout: float = 60.0,
    ) -> None:
        self.client = client
        self.journal = journal
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.timeout = timeout
        #: Fault injection for the crash tests: sleep between the PUT and the commit.
        self.delay_commit_s = float(os.environ.get("CAMVAULT_CAMERA_DELAY_COMMIT_S", "0"))
        site, cam = journal.site_id, journal.camera_id
        self.base = f"/v1/sites/{site}/cameras/{cam}"

    def upload(self, item: OutboxItem) -> dict[str, Any]:
        """Upload and commit ``item``; returns the service's recording. Raises
        TransientUploadError or PermanentUploadError."""
        try:
            return self._upload(item)
        except httpx.HTTPError as exc:  # connection refused, reset, timeout, ...
            raise TransientUploadError(f"network: {type(exc).__name__}: {exc}") from exc

    def _upload(self, item: OutboxItem) -> dict[str, Any]:
        m = item.statement
        body: dict[str, Any] = {
            "recording_id": m.recording_id,
            "kind": m.kind.value,
            "start_ms": m.start_ms,
            "end_ms": m.end_ms,
            "payload_size": m.payload_size,
        }
        multipart = m.payload_size >= self.multipart_threshold
        if multipart:
            body |= {"multipart": True, "part_size": self.part_size}
        r = self.client.post(f"{self.base}/uploads", json=body)
        parts: list[dict[str, Any]] | None = None
        if r.status_code == 409 and _error_code(r) == "recording_committed":
            upload_id = item.upload_id or NO_UPLOAD  # committed before a crash: confirm it
        else:
            _check(r, "upload request")
            up = r.json()
            upload_id = up["upload_id"]
            if upload_id != item.upload_id:
                self.journal.set_upload_id(item.sequence, upload_id)
            parts = self._put(item, up)
        if self.delay_commit_s:
            log.warning("payload of #%d stored; delaying commit (fault injection)", item.sequence)
            time.sleep(self.delay_commit_s)
        with item.file.open("rb") as f:
            header = f.read(item.header_len)
        commit: dict[str, Any] = {
            "upload_id": upload_id,
            "header": base64.b64encode(header).decode(),
            "manifest": item.manifest.to_json(),
        }
        if parts:
            commit["parts"] = parts
        r = self.client.post(f"{self.base}/recordings/{m.recording_id}/commit", json=commit)
        _check(r, "commit")
        return dict(r.json())

    def _put(self, item: OutboxItem, up: dict[str, Any]) -> list[dict[str, Any]] | None:
        with item.file.open("rb") as f:
            f.seek(item.header_len)
            if up["mode"] == "single":
                r = httpx.put(up["put_url"], content=f.read(), timeout=self.timeout)
                _check(r, "PUT payload")
                return None
            done = []
            size = int(up["part_size"])
            for part in up["parts"]:
                f.seek(item.header_len + (part["part_number"] - 1) * size)
                r = httpx.put(part["url"], content=f.read(size), timeout=self.timeout)
                _check(r, f"PUT part {part['part_number']}")
                done.append({"part_number": part["part_number"], "etag": r.headers["etag"]})
            return done
