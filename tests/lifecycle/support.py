"""Helpers of the device-lifecycle tests: a camera upload split at its two authenticated
steps (init, commit), an alarm presented straight to the custodians."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from clients.customer.state import CustomerState
from clients.operator.release import Gathered, Recording, gather_releases
from clients.operator.state import OperatorState
from common.http import SignedClient
from common.time import now_ms
from crypto import age, escrow
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import SessionKey
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import (
    AlarmEvent,
    AlarmType,
    Manifest,
    Purpose,
    SignedStatement,
    SiteKeys,
    manifest_hash,
    sign_statement,
)
from tests.clients.customer_world import TestCamera


def error_code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, str(r.json().get("error", {}).get("code", ""))


def start_upload(
    cam: TestCamera, key: Ed25519SigningKey, start_ms: int, keys: SiteKeys | None = None
) -> tuple[httpx.Response, Callable[[], httpx.Response]]:
    """Init an upload of one recording signed with ``key`` (its answer) and PUT its payload;
    returns the answer and the commit still to make (both requests signed with ``key``, as the
    camera holding it would). The camera's chain moves on only when the commit succeeds."""
    keys = keys or cam.site_keys()  # (a revoked camera cannot read them any more)
    rid = f"rec-{uuid.uuid4().hex[:10]}"
    end = start_ms + 2000
    meta = RecordingMetadata(cam.site_id, cam.camera_id, rid, RecordingKind.SEGMENT, start_ms, end)
    recipients = escrow.build_recipient_set(
        list(keys.recipients), [c.escrow_key for c in keys.custodians], keys.threshold, meta
    )
    header, file_key = age.encrypt_header(recipients)
    out = io.BytesIO()
    plain = os.urandom(5000) + rid.encode()
    age.encrypt_payload(file_key, io.BytesIO(plain), out)
    payload = out.getvalue()
    manifest = sign_statement(
        Manifest(
            site_id=cam.site_id,
            camera_id=cam.camera_id,
            recording_id=rid,
            kind=RecordingKind.SEGMENT,
            start_ms=start_ms,
            end_ms=end,
            payload_sha256=hashlib.sha256(payload).digest(),
            payload_size=len(payload),
            header_sha256=hashlib.sha256(header).digest(),
            sequence=cam.sequence,
            prev_manifest_sha256=cam.prev,
            issued_at_ms=now_ms(),
        ),
        key,
    )
    base = f"/v1/sites/{cam.site_id}/cameras/{cam.camera_id}"
    client = SignedClient(cam.url, f"device:{cam.site_id}/{cam.camera_id}", key)
    with client as c:
        init = c.post(
            f"{base}/uploads",
            json={
                "recording_id": rid,
                "kind": "segment",
                "start_ms": start_ms,
                "end_ms": end,
                "payload_size": len(payload),
            },
        )
    if init.status_code in (200, 201):
        assert httpx.put(init.json()["put_url"], content=payload, timeout=60).status_code == 200

    def commit() -> httpx.Response:
        with SignedClient(cam.url, f"device:{cam.site_id}/{cam.camera_id}", key) as c:
            r = c.post(
                f"{base}/recordings/{rid}/commit",
                json={
                    "upload_id": init.json()["upload_id"],
                    "header": base64.b64encode(header).decode(),
                    "manifest": manifest.to_json(),
                },
            )
        if r.status_code == 201:
            cam.sequence += 1
            cam.prev = manifest_hash(manifest)
            cam.plaintexts[rid] = plain
        return r

    return init, commit


def alarm(
    site_id: str, panel_id: str, key: Ed25519SigningKey, counter: int, at: int
) -> SignedStatement:
    return sign_statement(
        AlarmEvent(
            site_id=site_id,
            panel_id=panel_id,
            event_id=f"ev-{uuid.uuid4().hex[:10]}",
            alarm_type=AlarmType.INTRUSION,
            triggered_at_ms=at,
            counter=counter,
        ),
        key,
    )


def customer_recording(state_dir: Any, camera_id: str, rid: str) -> Recording:
    """The recording's header and metadata as the customer reads them (what an operator who
    kept the header would present to the custodians)."""
    st = CustomerState(state_dir)
    _, site_id = st.site()
    with st.storage() as storage:
        detail = storage.recording(site_id, camera_id, rid)
    meta = RecordingMetadata(
        site_id,
        camera_id,
        rid,
        RecordingKind(detail["kind"]),
        int(detail["start_ms"]),
        int(detail["end_ms"]),
    )
    return Recording(base64.b64decode(detail["header"]), meta)


def ask_custodians(op_state: Any, event: SignedStatement, rec: Recording) -> Gathered:
    """An ARC operator asks every custodian for the recording's shares under ``event``."""
    st = OperatorState(op_state)
    return gather_releases(
        st.endpoints(),
        2,
        st.config.operator_id,
        st.key(),
        purpose=Purpose.ALARM_VERIFICATION.value,
        justification=event,
        session=SessionKey.generate(),
        recordings=[rec],
    )
