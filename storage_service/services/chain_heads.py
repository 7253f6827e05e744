"""The latest camera-signed ChainHead of each camera (docs/CHAIN_HEADS.md).

A head is accepted from an enrolled, non-revoked camera of the site, signed by its enrolled
device key, for this site and camera, not issued in the future (beyond the clock skew), naming
the manifest the service holds under its sequence (when it holds one), and not going
backwards: a lower sequence, or a time not after the stored head's, is refused with
``chain_head_not_newer``. Only the latest head is kept; the customer's client checks that
the recordings it is shown reach it, and that it is fresh.
"""

from __future__ import annotations

import hmac

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from common.time import now_ms
from crypto.ed25519 import Ed25519PublicKey
from crypto.statements import ChainHead, verify
from storage_service.core.errors import ApiError, Reason
from storage_service.core.statements import parse_statement, statement_json, statement_refusals
from storage_service.db.engine import session_scope
from storage_service.db.models import Recording, StoredChainHead
from storage_service.schemas.chain_heads import ChainHeadOut
from storage_service.services.devices import get_camera, get_device


def head_out(row: StoredChainHead) -> ChainHeadOut:
    return ChainHeadOut(head=statement_json(row.head), received_ms=row.received_ms)


def _position(sequence: int | None) -> int:
    return -1 if sequence is None else sequence


def post(
    engine: Engine, site_id: str, camera_id: str, head: dict[str, object], skew_s: int
) -> tuple[ChainHeadOut, bool]:
    """Store ``head`` as the camera's latest; returns (stored head, whether it changed).
    Re-sending the stored head is a no-op."""
    signed = parse_statement(dict(head), "head")
    data = signed.encode()
    now = now_ms()
    with session_scope(engine) as s:
        dev = get_camera(s, site_id, camera_id)  # unknown, not a camera, revoked: refused
        with statement_refusals("head", Reason.CHAIN_HEAD_INVALID):
            h = verify(signed, Ed25519PublicKey.from_text(dev.device_key), ChainHead)
        if h.site_id != site_id or h.camera_id != camera_id:
            raise ApiError(
                Reason.CHAIN_HEAD_INVALID,
                f"head is for {h.site_id}/{h.camera_id}, posted for {site_id}/{camera_id}",
            )
        if h.issued_at_ms > now + skew_s * 1000:
            raise ApiError(Reason.CHAIN_HEAD_INVALID, "head is issued in the future")
        if h.sequence is not None:
            held = s.exec(
                select(Recording.manifest_sha256).where(
                    col(Recording.site_id) == site_id,
                    col(Recording.camera_id) == camera_id,
                    col(Recording.sequence) == h.sequence,
                )
            ).first()
            if held is not None and h.manifest_sha256 != held:
                raise ApiError(
                    Reason.CHAIN_HEAD_INVALID,
                    f"head names another manifest than the camera's #{h.sequence} held here",
                )
        stored = s.get(StoredChainHead, (site_id, camera_id))
        if stored is not None:
            if hmac.compare_digest(stored.head, data):
                return head_out(stored), False
            if _position(h.sequence) < _position(stored.sequence):
                raise ApiError(
                    Reason.CHAIN_HEAD_NOT_NEWER,
                    f"head names sequence {h.sequence}, below the stored head's {stored.sequence}",
                )
            if h.issued_at_ms <= stored.issued_at_ms:
                raise ApiError(
                    Reason.CHAIN_HEAD_NOT_NEWER,
                    f"head issued at {h.issued_at_ms} ms, not after the stored head's "
                    f"{stored.issued_at_ms} ms",
                )
            if h.sequence == stored.sequence and h.manifest_sha256 != stored.manifest_sha256:
                raise ApiError(
                    Reason.CHAIN_HEAD_INVALID,
                    f"head names another manifest #{h.sequence} than the stored head",
                )
        else:
            stored = StoredChainHead(
                site_id=site_id,
                camera_id=camera_id,
                issued_at_ms=0,
                interval_s=1,
                head=b"",
                received_ms=0,
            )
        stored.sequence = h.sequence
        stored.manifest_sha256 = h.manifest_sha256
        stored.issued_at_ms = h.issued_at_ms
        stored.interval_s = h.interval_s
        stored.head = data
        stored.received_ms = now
        s.add(stored)
        s.flush()
        return head_out(stored), True


def read(engine: Engine, site_id: str, camera_id: str) -> ChainHeadOut:
    with Session(engine) as s:
        get_device(s, site_id, camera_id)
        row = s.get(StoredChainHead, (site_id, camera_id))
        if row is None:
            raise ApiError(
                Reason.CHAIN_HEAD_NOT_FOUND, f"camera {camera_id!r} has posted no chain head"
            )
        return head_out(row)
