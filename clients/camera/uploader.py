"""Upload one outbox item: request an upload, PUT the age payload to the presigned URL(s)
(multipart above a threshold), commit header + signed manifest (docs/API.md §3.2).

Every step is idempotent on the service side, which is what makes retries after a network
loss or a SIGKILL safe: the same upload request returns the same open upload; a commit of a
manifest already stored returns the stored recording (200); a new upload request for a
committed recording is ``recording_committed``, after which re-sending the commit confirms it.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import httpx

from clients.api.errors import ServiceRefused
from clients.api.storage import StorageApi, put_object
from clients.camera.queue import Journal, OutboxItem

log = logging.getLogger("camvault.camera")

#: An upload id that names no upload: used to re-confirm an already committed recording
#: (the service answers a known manifest before it looks at the upload id).
NO_UPLOAD = "0" * 32


class TransientUploadError(Exception):
    """Network down, service or store unavailable: retry the same item later."""


class PermanentUploadError(Exception):
    """The service refused the item for a reason a retry will not fix."""


def _classified(exc: ServiceRefused, what: str) -> Exception:
    """A refusal as the upload loop handles it: retried later (service or store unavailable,
    timeout, rate limit) or not (anything a retry will not fix)."""
    if exc.status >= 500 or exc.status in (408, 429):
        return TransientUploadError(f"{what}: {exc.status} {exc.code}")
    return PermanentUploadError(f"{what}: {exc.status} {exc.code}: {exc.message[:300]}")


class Uploader:
    def __init__(
        self,
        api: StorageApi,
        journal: Journal,
        *,
        multipart_threshold: int,
        part_size: int,
        timeout: float = 60.0,
    ) -> None:
        self.api = api
        self.journal = journal
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.timeout = timeout
        #: Fault injection for the crash tests: sleep between the PUT and the commit.
        self.delay_commit_s = float(os.environ.get("CAMVAULT_CAMERA_DELAY_COMMIT_S", "0"))

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
        site, cam = self.journal.site_id, self.journal.camera_id
        parts: list[dict[str, Any]] | None = None
        try:
            up = self.api.request_upload(site, cam, body)
        except ServiceRefused as exc:
            if exc.status != 409 or exc.code != "recording_committed":
                raise _classified(exc, "upload request") from exc
            upload_id = item.upload_id or NO_UPLOAD  # committed before a crash: confirm it
        else:
            upload_id = up["upload_id"]
            if upload_id != item.upload_id:
                self.journal.set_upload_id(item.sequence, upload_id)
            parts = self._put(item, up)
        if self.delay_commit_s:
            log.warning("payload of #%d stored; delaying commit (fault injection)", item.sequence)
            time.sleep(self.delay_commit_s)
        with item.file.open("rb") as f:
            header = f.read(item.header_len)
        try:
            return self.api.commit(
                site,
                cam,
                m.recording_id,
                upload_id=upload_id,
                header=header,
                manifest=item.manifest,
                parts=parts,
            )
        except ServiceRefused as exc:
            raise _classified(exc, "commit") from exc

    def _put(self, item: OutboxItem, up: dict[str, Any]) -> list[dict[str, Any]] | None:
        with item.file.open("rb") as f:
            f.seek(item.header_len)
            if up["mode"] == "single":
                self._put_object(up["put_url"], f.read(), "PUT payload")
                return None
            done = []
            size = int(up["part_size"])
            for part in up["parts"]:
                f.seek(item.header_len + (part["part_number"] - 1) * size)
                r = self._put_object(part["url"], f.read(size), f"PUT part {part['part_number']}")
                done.append({"part_number": part["part_number"], "etag": r.headers["etag"]})
            return done

    def _put_object(self, url: str, content: bytes, what: str) -> httpx.Response:
        try:
            return put_object(url, content, self.timeout)
        except ServiceRefused as exc:
            raise _classified(exc, what) from exc
