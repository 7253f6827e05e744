"""A device's lifecycle: revoke a camera's or panel's key, rotate it to a new one; take a
customer device (its age recipient) out of the site.

- **revoke**: a DeviceRevocation of the device's current key, signed by the site key, from
  ``revoked_from_ms`` (default: now). The storage service refuses the key from then on (403
  ``device_revoked`` where the device authenticates), every custodian refuses alarms it signs
  at or after that time and logs the revocation, and this client refuses recordings whose
  manifest it signed at or after it (``device_revoked``; older ones still verify).
- **rotate**: a DeviceEnrollment of version n+1 naming the new key (same kind, model and
  camera profile), then the revocation of the old key from now. The device continues its
  chain with the new key; the chain verifies across the rotation because this state keeps
  each revoked key with its time (``revoked_keys`` of the device in config.json).

Both statements go to the storage service and, through the outbox (clients/customer/outbox.py),
to every custodian: a custodian that was down gets them later. Each is remembered, so the
audit expects their log entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clients.api.errors import ClientError
from clients.api.escrow import Ack
from clients.customer.outbox import Outbox
from clients.customer.site import current_site_keys, post_custodians
from clients.customer.state import CustomerState
from common.time import now_ms
from crypto.age.x25519 import X25519Recipient
from crypto.ed25519 import Ed25519PublicKey
from crypto.statements import (
    CameraProfile,
    DeviceEnrollment,
    DeviceKind,
    DeviceRevocation,
    SignedStatement,
    SiteKeys,
    sign_statement,
)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """What a revoke or rotate did: the device's enrollment version, the revoked key and from
    when, and each custodian's acknowledgement (one not acknowledged is sent again later)."""

    device_id: str
    version: int
    revoked_key: str
    revoked_from_ms: int
    custodians: list[Ack]


def _device(state: CustomerState, device_id: str) -> dict[str, Any]:
    dev = state.config.devices.get(device_id)
    if dev is None:
        raise ClientError(f"{device_id} is not a device this customer enrolled")
    return dev


def _revocation(
    state: CustomerState, device_id: str, dev: dict[str, Any], from_ms: int, reason: str
) -> SignedStatement:
    _, site_id = state.site()
    body = DeviceRevocation(
        site_id=site_id,
        device_id=device_id,
        kind=DeviceKind(dev["kind"]),
        device_key=Ed25519PublicKey.from_text(str(dev["device_key"])),
        revoked_from_ms=from_ms,
        reason=reason,
        issued_at_ms=now_ms(),
    )
    return sign_statement(body, state.site_key())


def _keep_revoked(dev: dict[str, Any], key: str, from_ms: int) -> None:
    revoked = dev.setdefault("revoked_keys", [])
    for r in revoked:
        if r["device_key"] == key:
            r["revoked_from_ms"] = min(int(r["revoked_from_ms"]), from_ms)
            return
    revoked.append({"device_key": key, "revoked_from_ms": from_ms})


def revoke_device(
    state: CustomerState, device_id: str, reason: str, revoked_from_ms: int | None = None
) -> Lifecycle:
    """Revoke the device's current key from ``revoked_from_ms`` (default now)."""
    _, site_id = state.site()
    dev = _device(state, device_id)
    key = str(dev["device_key"])
    from_ms = now_ms() if revoked_from_ms is None else revoked_from_ms
    signed = _revocation(state, device_id, dev, from_ms, reason)
    _keep_revoked(dev, key, from_ms)  # kept before it is sent: this client refuses it at once
    state.remember(signed)
    state.save()
    acks = Outbox(state.root).send(state.config.custodians, "device-revocation", site_id, [signed])
    with state.storage() as storage:
        storage.revoke_device(site_id, device_id, signed)
    return Lifecycle(device_id, int(dev.get("version", 1)), key, from_ms, acks)


def rotate_device(
    state: CustomerState, device_id: str, new_key: Ed25519PublicKey, reason: str
) -> Lifecycle:
    """Enroll ``new_key`` for the device (version n+1), then revoke its old key from now."""
    _, site_id = state.site()
    dev = _device(state, device_id)
    old = str(dev["device_key"])
    if new_key.to_text() == old or any(
        r["device_key"] == new_key.to_text() for r in dev.get("revoked_keys", [])
    ):
        raise ClientError(f"{device_id}: the new key must be one the device never had")
    version = int(dev.get("version", 1)) + 1
    profile = dev.get("camera_profile")
    enrollment = sign_statement(
        DeviceEnrollment(
            site_id=site_id,
            device_id=device_id,
            kind=DeviceKind(dev["kind"]),
            model=str(dev["model"]),
            device_key=new_key,
            camera_profile=None if profile is None else CameraProfile.from_json(profile),
            issued_at_ms=now_ms(),
            version=version,
        ),
        state.site_key(),
    )
    from_ms = now_ms()
    revocation = _revocation(state, device_id, dev, from_ms, reason)
    _keep_revoked(dev, old, from_ms)
    dev["device_key"], dev["version"] = new_key.to_text(), version
    for signed in (enrollment, revocation):
        state.remember(signed)
    state.save()
    with state.storage() as storage:
        storage.enroll_device(site_id, enrollment)
        storage.revoke_device(site_id, device_id, revocation)
    acks = Outbox(state.root).send(
        state.config.custodians, "device-enrollment", site_id, [enrollment]
    )
    revoked = Outbox(state.root).send(
        state.config.custodians, "device-revocation", site_id, [revocation]
    )
    merged = [
        Ack(a.custodian_id, a.acknowledged and b.acknowledged, f"{a.status}; {b.status}")
        for a, b in zip(acks, revoked, strict=True)
    ]
    return Lifecycle(device_id, version, old, from_ms, merged)


@dataclass(frozen=True, slots=True)
class RecipientRemoved:
    keys_version: int
    recipients: int


def remove_recipient(state: CustomerState, recipient: X25519Recipient) -> RecipientRemoved:
    """Take a customer device (its age recipient: a lost or stolen phone) out of the site:
    SiteKeys v+1 without it, signed by the pinned key, to the storage service and every
    custodian (each logs the change, ``site-keys``). Cameras seal every recording they make
    after they read it to the new set only; headers already stored keep the stanza they have
    (an X25519 stanza does not say whose it is: re-encrypting is the only way to take it out)."""
    _, site_id = state.site()
    current = current_site_keys(state)
    if recipient not in current.recipients:
        raise ClientError(f"{recipient} is not a recipient of site {site_id}")
    if recipient == state.identity().recipient():
        raise ClientError("this device's own recipient: remove it from another customer device")
    new = SiteKeys(
        site_id=site_id,
        version=current.version + 1,
        customer_key=current.customer_key,
        recipients=tuple(r for r in current.recipients if r != recipient),
        custodians=current.custodians,
        threshold=current.threshold,
        issued_at_ms=now_ms(),
    )
    signed = sign_statement(new, state.site_key())
    state.config.site_keys = signed.to_json()  # kept before it is sent (a retry re-sends it)
    state.remember(signed)
    state.save()
    with state.storage() as storage:
        storage.put_site_keys(site_id, signed)
    post_custodians(state.config.custodians, lambda api: api.enroll_site(signed))
    return RecipientRemoved(new.version, len(new.recipients))
