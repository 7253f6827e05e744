"""A simulated camera: it records a 2-second segment every 2 seconds onto its "SD card" (a
backlog of recording ids and times) and uploads the backlog oldest first, like the product's
camera (clients/camera: outbox in sequence order): SiteKeys fetched once and verified under
the customer key, age encryption to the site's recipients and the escrow set
(``escrow.build_recipient_set``), a signed manifest chained to the previous one, then
upload request, presigned PUT to the object store, commit.

A segment is encrypted only when it is its turn to upload, so a backlog costs no memory and
the harness never encrypts faster than the service accepts. A failed step is retried after
a pause with the same prepared recording (same manifest: a commit that did go through is
answered with the stored recording), as a camera does; the backlog is never dropped. Only a
201 (or 200) commit counts as acknowledged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import random
import time
from dataclasses import dataclass

from clients.common import signed_from_json
from common.time import now_ms
from crypto import age, escrow
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import Manifest, SignedStatement, SiteKeys, manifest_hash, sign_statement
from tests.reliability.load.fleet import SEGMENT_MS, Camera, plaintext
from tests.reliability.load.http import Http, Refused

RETRY_PAUSE_S = 1.0


@dataclass
class Prepared:
    recording_id: str
    start_ms: int
    header: bytes
    payload: bytes
    manifest: SignedStatement


async def capture(cam: Camera, stop_at: float) -> None:
    """Add a segment to the backlog every SEGMENT_MS until ``stop_at`` (monotonic)."""
    await asyncio.sleep(random.uniform(0, SEGMENT_MS / 1000))  # cameras are not in phase
    next_at = time.monotonic()
    while next_at < stop_at:
        end = now_ms()
        cam.backlog.append((f"seg-{cam.captured:06d}", end - SEGMENT_MS))
        cam.captured += 1
        cam.wake.set()
        next_at += SEGMENT_MS / 1000
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    cam.capture_done = True
    cam.wake.set()


def prepare(cam: Camera, keys: SiteKeys, recording_id: str, start_ms: int) -> Prepared:
    site_id = cam.site.site_id
    meta = RecordingMetadata(
        site_id, cam.camera_id, recording_id, RecordingKind.SEGMENT, start_ms, start_ms + SEGMENT_MS
    )
    recipients = escrow.build_recipient_set(
        list(keys.recipients), [c.escrow_key for c in keys.custodians], keys.threshold, meta
    )
    header, file_key = age.encrypt_header(recipients)
    out = io.BytesIO()
    age.encrypt_payload(file_key, io.BytesIO(plaintext(site_id, cam.camera_id, recording_id)), out)
    payload = out.getvalue()
    manifest = sign_statement(
        Manifest(
            site_id=site_id,
            camera_id=cam.camera_id,
            recording_id=recording_id,
            kind=RecordingKind.SEGMENT,
            start_ms=start_ms,
            end_ms=start_ms + SEGMENT_MS,
            payload_sha256=hashlib.sha256(payload).digest(),
            payload_size=len(payload),
            header_sha256=hashlib.sha256(header).digest(),
            sequence=cam.sequence,
            prev_manifest_sha256=cam.prev,
            issued_at_ms=now_ms(),
        ),
        cam.key,
    )
    return Prepared(recording_id, start_ms, header, payload, manifest)


async def site_keys(http: Http, storage: str, cam: Camera) -> SiteKeys:
    req = http.signed("GET", f"{storage}/v1/sites/{cam.site.site_id}", cam.keyid, cam.key)
    resp = await http.send("storage GET /v1/sites/{s}", req, ok=(200,))
    signed = signed_from_json(resp.json()["site_keys"])
    return signed.verify(cam.site.customer_key.public_key, SiteKeys)


#: the upload of a recording already committed: an earlier attempt's commit went through
ALREADY_COMMITTED: frozenset[tuple[int, str]] = frozenset({(409, "recording_committed")})


async def upload(http: Http, storage: str, cam: Camera, rec: Prepared) -> None:
    """Upload request, presigned PUT, commit (raises Refused, already recorded)."""
    base = f"{storage}/v1/sites/{cam.site.site_id}/cameras/{cam.camera_id}"
    body = {
        "recording_id": rec.recording_id,
        "kind": RecordingKind.SEGMENT.value,
        "start_ms": rec.start_ms,
        "end_ms": rec.start_ms + SEGMENT_MS,
        "payload_size": len(rec.payload),
        # as the product's camera: the PUT URL then takes only these bytes (x-amz-checksum-
        # sha256) and the commit needs one HEAD instead of a copy and a read-back
        "payload_sha256": hashlib.sha256(rec.payload).hexdigest(),
    }
    req = http.signed("POST", f"{base}/uploads", cam.keyid, cam.key, json=body)
    try:
        up = (await http.send("storage POST .../uploads", req, expected=ALREADY_COMMITTED)).json()
    except Refused as refused:
        # an earlier commit of this recording went through but its answer was lost (a crash
        # between commit and response): done, as the product's camera takes it
        if (refused.status, refused.reason) in ALREADY_COMMITTED:
            return
        raise
    checksum = base64.b64encode(hashlib.sha256(rec.payload).digest()).decode()
    headers = {"x-amz-checksum-sha256": checksum} if up.get("payload_checksum") else {}
    put = http.client.build_request("PUT", up["put_url"], content=rec.payload, headers=headers)
    await http.send("minio PUT (presigned)", put, ok=(200,))
    commit = {
        "upload_id": up["upload_id"],
        "header": base64.b64encode(rec.header).decode(),
        "manifest": rec.manifest.to_json(),
    }
    path = f"{base}/recordings/{rec.recording_id}/commit"
    req = http.signed("POST", path, cam.keyid, cam.key, json=commit)
    await http.send("storage POST .../commit", req, ok=(200, 201))


async def uploader(http: Http, storage: str, cam: Camera, quit_at: asyncio.Event) -> None:
    """Upload the backlog oldest first until it is empty after capture ended, or until
    ``quit_at`` is set (then the recording being uploaded is finished first)."""
    rec: Prepared | None = None
    while not quit_at.is_set():
        if not cam.backlog:
            cam.wake.clear()
            if cam.capture_done:
                return
            await cam.wake.wait()
            continue
        try:
            if cam.keys is None:
                cam.keys = await site_keys(http, storage, cam)
            if rec is None:
                rid, start = cam.backlog[0]
                rec = prepare(cam, cam.keys, rid, start)
            await upload(http, storage, cam, rec)
        except Refused:
            await asyncio.sleep(RETRY_PAUSE_S)
            continue
        cam.backlog.popleft()
        cam.acknowledged[rec.recording_id] = rec.start_ms
        cam.sequence += 1
        cam.prev = manifest_hash(rec.manifest)
        rec = None
