"""Devices (cameras and panels) from customer-signed DeviceEnrollments."""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from common.time import now_ms
from crypto.statements import DeviceEnrollment, DeviceKind, DeviceRevocation, verify
from storage_service.core.errors import ApiError, Reason
from storage_service.core.statements import parse_statement, statement_json, statement_refusals
from storage_service.db.engine import session_scope
from storage_service.db.models import Device, DeviceRevocationRow
from storage_service.schemas.sites import DeviceOut
from storage_service.services.sites import get_site, pinned_site_keys


def device_out(d: Device) -> DeviceOut:
    return DeviceOut(
        device_id=d.device_id,
        kind=d.kind,
        model=d.model,
        device_key=d.device_key,
        enrollment=statement_json(d.enrollment),
        last_sequence=d.last_sequence,
        last_manifest_sha256=d.last_manifest_sha256.hex() if d.last_manifest_sha256 else None,
        revoked=d.revoked_ms is not None,
    )


def enroll(engine: Engine, site_id: str, enrollment: dict[str, Any]) -> tuple[DeviceOut, bool]:
    """Enroll a device, or re-key it with a newer enrollment (greater ``issued_at_ms``).
    Re-sending the stored enrollment is a no-op; returns (device, created)."""
    signed = parse_statement(enrollment, "enrollment")
    data = signed.encode()
    with session_scope(engine) as s:
        site = get_site(s, site_id)
        pinned = pinned_site_keys(site)
        with statement_refusals("enrollment", Reason.DEVICE_INVALID):
            e = verify(signed, pinned.customer_key, DeviceEnrollment)
        if e.site_id != site_id:
            raise ApiError(Reason.WRONG_SITE, "enrollment is for another site")
        if s.get(DeviceRevocationRow, (site_id, e.device_id, e.device_key.to_text())):
            raise ApiError(Reason.DEVICE_REVOKED, "the enrollment names a revoked device key")
        existing = s.get(Device, (site_id, e.device_id))
        if existing is not None:
            if hmac.compare_digest(existing.enrollment, data):
                return device_out(existing), False
            if existing.kind != e.kind.value or e.issued_at_ms <= existing.issued_at_ms:
                raise ApiError(
                    Reason.DEVICE_CONFLICT,
                    "device exists; a new enrollment must keep its kind and be issued later",
                )
            existing.model = e.model
            existing.device_key = e.device_key.to_text()
            existing.enrollment = data
            existing.issued_at_ms = e.issued_at_ms
            existing.revoked_ms = None
            s.add(existing)
            s.flush()
            return device_out(existing), False
        dev = Device(
            site_id=site_id,
            device_id=e.device_id,
            kind=e.kind.value,
            model=e.model,
            device_key=e.device_key.to_text(),
            enrollment=data,
            issued_at_ms=e.issued_at_ms,
            created_ms=now_ms(),
        )
        s.add(dev)
        s.flush()
        return device_out(dev), True


def get_device(s: Session, site_id: str, device_id: str) -> Device:
    dev = s.get(Device, (site_id, device_id))
    if dev is None:
        raise ApiError(Reason.DEVICE_NOT_FOUND, f"no device {device_id!r} at this site")
    return dev


def get_camera(s: Session, site_id: str, camera_id: str) -> Device:
    dev = get_device(s, site_id, camera_id)
    if dev.kind != DeviceKind.CAMERA.value:
        raise ApiError(Reason.WRONG_PRINCIPAL, f"device {camera_id!r} is not a camera")
    if dev.revoked_ms is not None:
        raise ApiError(Reason.DEVICE_REVOKED, f"camera {camera_id!r} was revoked")
    return dev


def list_devices(engine: Engine, site_id: str) -> list[DeviceOut]:
    with Session(engine) as s:
        get_site(s, site_id)
        rows = s.exec(
            select(Device).where(col(Device.site_id) == site_id).order_by(col(Device.device_id))
        ).all()
        return [device_out(d) for d in rows]


def read_device(engine: Engine, site_id: str, device_id: str) -> DeviceOut:
    with Session(engine) as s:
        return device_out(get_device(s, site_id, device_id))


def revoke(engine: Engine, site_id: str, device_id: str) -> DeviceOut:
    """Stop accepting the device's key (its recordings stay)."""
    with session_scope(engine) as s:
        dev = get_device(s, site_id, device_id)
        if dev.revoked_ms is None:
            dev.revoked_ms = now_ms()
            s.add(dev)
            s.flush()
        return device_out(dev)


def revoke_signed(
    engine: Engine, site_id: str, device_id: str, revocation: dict[str, Any]
) -> tuple[DeviceOut, bool]:
    """Take a customer-signed DeviceRevocation: the key may not authenticate from now on (the
    device is revoked if it is its current key) nor be enrolled again. Returns (device,
    created); a revocation of the same key may only move ``revoked_from_ms`` earlier."""
    signed = parse_statement(revocation, "revocation")
    with session_scope(engine) as s:
        pinned = pinned_site_keys(get_site(s, site_id))
        with statement_refusals("revocation", Reason.DEVICE_INVALID):
            r = verify(signed, pinned.customer_key, DeviceRevocation)
        if r.site_id != site_id:
            raise ApiError(Reason.WRONG_SITE, "revocation is for another site")
        if r.device_id != device_id:
            raise ApiError(Reason.DEVICE_INVALID, f"revocation is for device {r.device_id!r}")
        dev = get_device(s, site_id, device_id)
        key = r.device_key.to_text()
        row = s.get(DeviceRevocationRow, (site_id, device_id, key))
        created = row is None
        if row is None:
            row = DeviceRevocationRow(
                site_id=site_id,
                device_id=device_id,
                device_key=key,
                revoked_from_ms=r.revoked_from_ms,
                statement=signed.encode(),
                received_ms=now_ms(),
            )
        elif r.revoked_from_ms < row.revoked_from_ms:
            row.revoked_from_ms, row.statement = r.revoked_from_ms, signed.encode()
        s.add(row)
        if dev.device_key == key and dev.revoked_ms is None:
            dev.revoked_ms = now_ms()  # checked where the device authenticates (api/auth.py)
            s.add(dev)
        s.flush()
        return device_out(dev), created
