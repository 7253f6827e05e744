"""Upload one outbox item: request an upload, PUT the age payload to the presigned URL(s)
(multipart above a threshold: parts streamed from the file, four at a time, each with its
SHA-256 checksum where the store takes one), commit header + signed manifest (docs/API.md
§3.2).

Every step is idempotent on the service side, which is what makes retries after a network
loss or a SIGKILL safe: the same upload request returns the same open upload; a commit of a
manifest already stored returns the stored recording (200); a new upload request for a
committed recording is ``recording_committed``, after which re-sending the commit confirms it.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from clients.api.errors import ServiceRefused
from clients.api.storage import StorageApi, put_object, put_part
from clients.camera import parts
from clients.camera.queue import Journal, OutboxItem

log = logging.getLogger("camvault.camera")

#: An upload id that names no upload: used to re-confirm an already committed recording
#: (the service answers a known manifest before it looks at the upload id).
NO_UPLOAD = "0" * 32
#: Parts of one multipart upload in flight at once.
PART_CONCURRENCY = 4


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
        concurrency: int = PART_CONCURRENCY,
        checksums: bool = True,
    ) -> None:
        self.api = api
        #: False: upload as a camera from before store checksums (docs/API.md §3.2) does, so
        #: that the service copies the payload and hashes the copy at commit (the crash
        #: tests kill the service inside that path, which the service keeps for such cameras)
        self.checksums = checksums
        self.journal = journal
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
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
            if self.checksums:
                body["part_checksums"] = True
        elif self.checksums:  # the store then takes only these bytes, and the commit needs no copy
            body["payload_sha256"] = m.payload_sha256.hex()
        site, cam = self.journal.site_id, self.journal.camera_id
        done: list[dict[str, Any]] | None = None
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
            done = self._put(item, up)
        if self.delay_commit_s:
            log.warning("payload of #%d stored; delaying commit (fault injection)", item.sequence)
            time.sleep(self.delay_commit_s)
        with item.file.open("rb") as f:
            header = f.read(item.header_len)
        try:
            committed = self.api.commit(
                site,
                cam,
                m.recording_id,
                upload_id=upload_id,
                header=header,
                manifest=item.manifest,
                parts=done,
            )
        except ServiceRefused as exc:
            raise _classified(exc, "commit") from exc
        parts.discard(item.file)
        return committed

    def _put(self, item: OutboxItem, up: dict[str, Any]) -> list[dict[str, Any]] | None:
        with item.file.open("rb") as f:
            if up["mode"] == "single":
                f.seek(item.header_len)
                sha = item.statement.payload_sha256 if up.get("payload_checksum") else None
                self._put_object(up["put_url"], f.read(), "PUT payload", sha)
                return None
            return self._put_parts(f.fileno(), item, up)

    def _put_parts(self, fd: int, item: OutboxItem, up: dict[str, Any]) -> list[dict[str, Any]]:
        """The parts, ``concurrency`` at a time, each streamed from the file (memory: a
        few MiB per part in flight, whatever the part size); with part checksums each part
        carries its SHA-256 and the commit lists them (docs/API.md §3.2)."""
        size, total = int(up["part_size"]), item.statement.payload_size
        checksum = up.get("part_checksum") == "sha256"
        # hashed while sealing (clients/camera/parts.py), else each part is hashed here
        sealed = parts.load(item.file, size, total) if checksum else None

        def one(client: httpx.Client, part: dict[str, Any]) -> dict[str, Any]:
            n = int(part["part_number"])
            start = (n - 1) * size
            args = (client, part["url"], fd, item.header_len + start, min(size, total - start))
            known = sealed[n - 1] if sealed and n <= len(sealed) else None
            try:
                try:
                    etag, sha = put_part(*args, checksum=checksum, sha256=known)
                except ServiceRefused as exc:
                    if known is None or exc.status != 400:
                        raise
                    # the stored hash is not the file's: hash the part from the file
                    etag, sha = put_part(*args, checksum=checksum)
            except ServiceRefused as exc:
                raise _classified(exc, f"PUT part {n}") from exc
            done = {"part_number": n, "etag": etag}
            return done | {"sha256": sha} if sha else done

        limits = httpx.Limits(max_connections=self.concurrency)
        with (
            httpx.Client(timeout=self.timeout, limits=limits) as client,
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="camvault-part") as pool,
        ):
            futures = [pool.submit(one, client, p) for p in up["parts"]]
            try:
                return [f.result() for f in futures]
            finally:
                for f in futures:
                    f.cancel()

    def _put_object(
        self, url: str, content: bytes, what: str, sha256: bytes | None = None
    ) -> httpx.Response:
        try:
            return put_object(url, content, self.timeout, sha256=sha256)
        except ServiceRefused as exc:
            raise _classified(exc, what) from exc
