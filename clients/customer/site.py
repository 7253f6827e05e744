"""Site setup and key changes: enroll the site and its devices with the storage service and
with every custodian, add a customer device, cancel an alarm.

Every statement is signed with the site key and sent to the storage service AND directly to
each custodian (the custodians pin the site key on first enrollment and log every later
statement; the customer's audit expects exactly the statements listed in the local state).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from clients.customer.errors import ClientError, ServiceRefused, check
from clients.customer.state import CustodianInfo, CustomerState
from common.http import SignedClient
from crypto.age import decrypt_header, seal_header
from crypto.canonical import canonical_json
from crypto.ed25519 import Ed25519PublicKey
from crypto.escrow import CustodianPublicKey
from crypto.format import parse_header
from crypto.statements import (
    AlarmCancel,
    CameraProfile,
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    SignedStatement,
    SiteKeys,
    parse_signed,
    sign_statement,
    verify,
)
from crypto.x25519 import X25519Recipient


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def customer_client(state: CustomerState) -> SignedClient:
    url, site_id = state.site()
    return SignedClient(url, f"customer:{site_id}", state.site_key())


def fetch_custodian(url: str, timeout: float = 10.0) -> CustodianInfo:
    """A custodian's public keys, from its ``GET /v1/custodian``."""
    try:
        info = check(httpx.get(url.rstrip("/") + "/v1/custodian", timeout=timeout), url)
    except httpx.HTTPError as exc:
        raise ClientError(f"custodian at {url} unreachable: {exc}") from exc
    return CustodianInfo(
        str(info["custodian_id"]),
        url.rstrip("/"),
        CustodianPublicKey.from_text(str(info["escrow_key"])),
        Ed25519PublicKey.from_text(str(info["log_key"])),
    )


def post_custodians(
    custodians: Sequence[CustodianInfo], path: str, body: dict[str, Any]
) -> dict[str, str]:
    """POST a signed statement to every custodian; ``{custodian_id: status}``."""
    out: dict[str, str] = {}
    for c in custodians:
        try:
            resp = httpx.post(c.url + path, json=body, timeout=30)
        except httpx.HTTPError as exc:
            raise ClientError(f"custodian {c.custodian_id} unreachable: {exc}") from exc
        data = check(resp, f"custodian {c.custodian_id}")
        out[c.custodian_id] = str(data.get("status", "ok")) if isinstance(data, dict) else "ok"
    return out


def signed_from_json(obj: Any) -> SignedStatement:
    return parse_signed(canonical_json(obj))


@dataclass(frozen=True, slots=True)
class SiteCreated:
    site_id: str
    keys_version: int
    custodians: list[CustodianInfo]
    threshold: int
    storage_status: int


def create_site(
    state: CustomerState,
    storage_url: str,
    site_id: str,
    custodian_urls: Sequence[str],
    threshold: int,
    retention_days: int | None = None,
) -> SiteCreated:
    """Sign SiteKeys v1 (this device's recipient, the custodians' keys as they publish them)
    and enroll the site with the storage service and every custodian."""
    cfg = state.config
    if cfg.site_id is not None and (cfg.site_id != site_id or cfg.site_keys is None):
        raise ClientError(f"this state already belongs to site {cfg.site_id}")
    if cfg.site_keys is not None:
        # a retry (e.g. a custodian was down): post the statement already signed, unchanged
        signed = signed_from_json(cfg.site_keys)
        custodians, threshold = cfg.custodians, cfg.threshold or threshold
    else:
        if not 1 <= threshold <= len(custodian_urls):
            raise ClientError(f"threshold {threshold} needs 1..{len(custodian_urls)} custodians")
        custodians = [fetch_custodian(u) for u in custodian_urls]
        keys = SiteKeys(
            site_id=site_id,
            version=1,
            customer_key=state.site_key().public_key,
            recipients=(state.identity().recipient(),),
            custodians=tuple(
                Custodian(c.custodian_id, c.escrow_key, c.log_key, c.url) for c in custodians
            ),
            threshold=threshold,
            issued_at_ms=now_ms(),
        )
        signed = sign_statement(keys, state.site_key())
        # kept before it is sent: a retry re-sends the same statement (idempotent everywhere)
        cfg.storage_url, cfg.site_id = storage_url.rstrip("/"), site_id
        cfg.site_keys, cfg.custodians, cfg.threshold = signed.to_json(), custodians, threshold
        state.remember(signed)
        state.save()
    with SignedClient(storage_url, f"customer:{site_id}", state.site_key()) as client:
        resp = client.post(
            "/v1/sites", json={"site_keys": signed.to_json(), "retention_days": retention_days}
        )
        check(resp, "storage")
    post_custodians(custodians, "/v1/sites", {"site_keys": signed.to_json()})
    return SiteCreated(site_id, 1, custodians, threshold, resp.status_code)


def enroll_device(
    state: CustomerState,
    device_id: str,
    kind: DeviceKind,
    model: str,
    device_key: Ed25519PublicKey,
    profile: CameraProfile | None,
) -> DeviceEnrollment:
    """Sign a DeviceEnrollment and send it to the storage service and every custodian."""
    _, site_id = state.site()
    enrollment = DeviceEnrollment(site_id, device_id, kind, model, device_key, profile, now_ms())
    signed = sign_statement(enrollment, state.site_key())
    with customer_client(state) as client:
        check(
            client.post(f"/v1/sites/{site_id}/devices", json={"enrollment": signed.to_json()}),
            "storage",
        )
    post_custodians(
        state.config.custodians,
        f"/v1/sites/{site_id}/devices",
        {"device_enrollment": signed.to_json()},
    )
    state.config.devices[device_id] = {
        "kind": kind.value,
        "model": model,
        "device_key": device_key.to_text(),
        "camera_profile": None if profile is None else profile.to_json(),
    }
    state.remember(signed)
    state.save()
    return enrollment


def current_site_keys(state: CustomerState) -> SiteKeys:
    """The SiteKeys this customer last signed (checked under its own site key)."""
    if state.config.site_keys is None:
        raise ClientError("no SiteKeys yet: run `camvault customer site create`")
    return verify(signed_from_json(state.config.site_keys), state.site_key().public_key, SiteKeys)


@dataclass(frozen=True, slots=True)
class DeviceAdded:
    keys_version: int
    rewrapped: int
    skipped: list[tuple[str, str, str]]  # camera, recording, why


def add_device(
    state: CustomerState,
    recipient: X25519Recipient,
    progress: Callable[[int, int], None] | None = None,
) -> DeviceAdded:
    """Give a new customer device (its age recipient) access to the site.

    1. SiteKeys v+1 with the new recipient, signed by the pinned key, to the storage service
       and every custodian (cameras encrypt to it from then on);
    2. every stored recording's header that has fewer X25519 stanzas than the site has
       recipients is re-wrapped: its stanzas are kept as they are (the
       escrow stanzas stay valid) and one X25519 stanza for the new recipient is added; the
       header MAC is recomputed under the same file key (so the manifest's payload hash and
       the MAC still bind the recording), and the header is PUT back.

    Running it again with the same recipient resumes an interrupted run: the same signed
    SiteKeys are sent again and only the headers not yet re-wrapped are.
    """
    _, site_id = state.site()
    current = current_site_keys(state)
    if recipient in current.recipients:
        # resuming: the SiteKeys listing it were signed already; send them again, unchanged
        signed = signed_from_json(state.config.site_keys)
        new = current
    else:
        new = SiteKeys(
            site_id=site_id,
            version=current.version + 1,
            customer_key=current.customer_key,
            recipients=(*current.recipients, recipient),
            custodians=current.custodians,
            threshold=current.threshold,
            issued_at_ms=now_ms(),
        )
        signed = sign_statement(new, state.site_key())
        state.config.site_keys = signed.to_json()  # kept before it is sent (retries resend it)
        state.remember(signed)
        state.save()
    with customer_client(state) as client:
        check(
            client.put(f"/v1/sites/{site_id}/keys", json={"site_keys": signed.to_json()}), "storage"
        )
        post_custodians(state.config.custodians, "/v1/sites", {"site_keys": signed.to_json()})
        from clients.customer.recordings import iter_recordings

        items = [i for i in iter_recordings(client, site_id) if i["status"] == "committed"]
        identities = state.identities()
        done, skipped = 0, []
        for n, item in enumerate(items):
            cam, rid = item["camera_id"], item["recording_id"]
            base = f"/v1/sites/{site_id}/cameras/{cam}/recordings/{rid}"
            try:
                detail = check(client.get(base), "storage")
                if detail.get("header") is None:
                    skipped.append((cam, rid, "deleted"))
                    continue
                header_bytes = base64.b64decode(detail["header"])
                stanzas = list(parse_header(header_bytes).stanzas)
                if sum(st.type == "X25519" for st in stanzas) >= len(new.recipients):
                    continue  # already wrapped for every device (new, or done before)
                _, file_key = decrypt_header(identities, header_bytes)
                new_header = seal_header([*stanzas, *recipient.wrap(file_key)], file_key)
                check(
                    client.put(
                        f"{base}/header",
                        json={"header": base64.b64encode(new_header).decode()},
                    ),
                    "storage",
                )
                done += 1
            except (ServiceRefused, ValueError) as exc:
                skipped.append((cam, rid, str(exc)))
            if progress is not None:
                progress(n + 1, len(items))
    return DeviceAdded(new.version, done, skipped)


def cancel_alarm(state: CustomerState, alarm_id: str) -> dict[str, Any]:
    """Cancel an alarm: a signed AlarmCancel to the storage service and every custodian
    (which then refuse any release under that alarm)."""
    _, site_id = state.site()
    with customer_client(state) as client:
        alarms = check(client.get(f"/v1/sites/{site_id}/alarms"), "storage")
        match = [a for a in alarms.get("items", []) if a.get("alarm_id") == alarm_id]
        if not match:
            raise ClientError(f"no alarm {alarm_id} at site {site_id}")
        event = match[0]["event"]["body"]
        cancel = sign_statement(
            AlarmCancel(site_id, event["panel_id"], event["event_id"], now_ms()),
            state.site_key(),
        )
        out = check(
            client.post(f"/v1/sites/{site_id}/alarms/cancel", json={"cancel": cancel.to_json()}),
            "storage",
        )
    post_custodians(
        state.config.custodians,
        f"/v1/sites/{site_id}/alarm-cancels",
        {"alarm_cancel": cancel.to_json()},
    )
    state.remember(cancel)
    state.save()
    return dict(out)


def list_alarms(state: CustomerState) -> list[dict[str, Any]]:
    _, site_id = state.site()
    with customer_client(state) as client:
        data = check(client.get(f"/v1/sites/{site_id}/alarms"), "storage")
    return list(data.get("items", []))
