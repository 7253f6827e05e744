"""Ends of access decided by a statement: the ARC closes an alarm, the customer deletes
recordings. Both are posted to each custodian, logged, and enforced by the release protocol
from then on (``alarm_closed`` for every request under the alarm, ``recording_deleted`` for
each deleted recording's stanza, for good).

* :class:`AlarmCloseIntake`: an AlarmClose signed by a registered ARC operator (role
  ``operator``: closing is part of handling an alarm, which technicians do not do), posted
  in a request signed by that same operator. A close for an alarm no operator has presented
  yet sticks: the alarm is refused at its first presentation.
* :class:`DeletionIntake`: a RecordingDeletion signed by the site's pinned customer key, like
  a revocation. Its recordings are kept in a table of their own, checked per release item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, select

from crypto.metadata import RecordingMetadata
from crypto.statements import (
    AlarmClose,
    DeviceKind,
    OperatorRole,
    RecordingDeletion,
    SignedStatement,
    parse_signed,
)
from escrow_service.core.auth import Caller
from escrow_service.core.errors import Reason
from escrow_service.db.models import (
    alarm_closes,
    deleted_recordings,
    deletions,
    devices,
    operators,
)
from escrow_service.schemas.release import LogReceipt
from escrow_service.services.custodian import Custodian, stored_key
from escrow_service.services.intake import (
    Logged,
    SiteStatementIntake,
    StatementIntake,
    StatementRefused,
    pinned,
    store_once,
    verified,
)
from escrow_service.services.nonces import NonceStore

#: Recording ids per query (SQLite builds older than 3.32 allow 999 parameters).
CHUNK = 500

RecordingKey = tuple[str, str, str]  # site, camera, recording

_deleted_query = select(
    deleted_recordings.c.site_id, deleted_recordings.c.camera_id, deleted_recordings.c.recording_id
).where(
    deleted_recordings.c.site_id == bindparam("site_id"),
    deleted_recordings.c.camera_id == bindparam("camera_id"),
    deleted_recordings.c.recording_id.in_(bindparam("ids", expanding=True)),
)


def deleted_among(conn: Connection, keys: Iterable[RecordingKey]) -> set[RecordingKey]:
    """Which of these recordings the customer has deleted."""
    by_camera: dict[tuple[str, str], list[str]] = defaultdict(list)
    for site_id, camera_id, recording_id in keys:
        by_camera[(site_id, camera_id)].append(recording_id)
    found: set[RecordingKey] = set()
    for (site_id, camera_id), ids in by_camera.items():
        for i in range(0, len(ids), CHUNK):
            params = {"site_id": site_id, "camera_id": camera_id, "ids": ids[i : i + CHUNK]}
            found.update(tuple(r) for r in conn.execute(_deleted_query, params))
    return found


def recording_key(m: RecordingMetadata) -> RecordingKey:
    return (m.site_id, m.camera_id, m.recording_id)


class AlarmCloseIntake(StatementIntake[AlarmClose]):
    """Close an alarm: signed by a registered ARC operator, posted by that operator."""

    statement = AlarmClose
    entry_type = "alarm-close"

    def __init__(self, custodian: Custodian, nonces: NonceStore) -> None:
        super().__init__(custodian)
        self._nonces = nonces

    def take_from(self, caller: Caller, data: bytes, site_id: str) -> LogReceipt | None:
        """Take the close in ``data`` posted by ``caller`` (a verified request signature):
        the request's nonce is remembered in the same transaction."""
        if caller.kind != "operator":
            raise StatementRefused(Reason.WRONG_PRINCIPAL, "alarms are closed by ARC operators")

        def first(conn: Connection, signed: SignedStatement) -> None:
            claimed = signed.unverified_statement
            if not isinstance(claimed, AlarmClose) or claimed.operator_id != caller.ident:
                raise StatementRefused(
                    Reason.WRONG_PRINCIPAL, "the close is signed for another operator"
                )
            self._nonces.remember_in(conn, caller.keyid, caller.nonce, caller.expires_ms)

        return self.take(data, site_id, first=first)

    def verify(
        self, conn: Connection, signed: SignedStatement, data: bytes, site_id: str | None
    ) -> AlarmClose:
        claimed = signed.unverified_statement
        if not isinstance(claimed, AlarmClose):  # pragma: no cover - checked by parse
            raise StatementRefused(Reason.MALFORMED_REQUEST, "not an AlarmClose")
        row = conn.execute(
            select(operators.c.operator_key, operators.c.role).where(
                operators.c.operator_id == claimed.operator_id
            )
        ).first()
        if row is None:
            raise StatementRefused(
                Reason.OPERATOR_NOT_REGISTERED, f"operator {claimed.operator_id!r} unknown"
            )
        if row.role != OperatorRole.OPERATOR.value:
            raise StatementRefused(Reason.ROLE_NOT_ALLOWED, "alarms are closed by ARC operators")
        close: AlarmClose = verified(signed, stored_key(row.operator_key), AlarmClose)
        if close.site_id != site_id:
            raise StatementRefused(Reason.WRONG_SITE, "the close is for another site")
        pinned(conn, close.site_id)
        kind = conn.execute(
            select(devices.c.kind).where(
                devices.c.site_id == close.site_id, devices.c.device_id == close.panel_id
            )
        ).scalar()
        if kind != DeviceKind.PANEL.value:
            raise StatementRefused(
                Reason.PANEL_NOT_OF_SITE,
                f"{close.panel_id!r} is not an enrolled panel of site {close.site_id!r}",
            )
        return close

    def store(self, conn: Connection, value: AlarmClose, data: bytes, now: int) -> Logged | None:
        key = {"site_id": value.site_id, "panel_id": value.panel_id, "event_id": value.event_id}
        row = {"operator_id": value.operator_id, "closed_ms": now, "statement": data}
        if not store_once(conn, alarm_closes, key, row):
            return None
        return value.site_id, {**key, "operator_id": value.operator_id}


class DeletionIntake(SiteStatementIntake[RecordingDeletion]):
    """Deleted recordings of one camera, signed by the site's pinned customer key."""

    statement = RecordingDeletion
    entry_type = "recording-deletion"
    what = "deletion"

    def store(
        self, conn: Connection, value: RecordingDeletion, data: bytes, now: int
    ) -> Logged | None:
        digest = parse_signed(data).statement_hash()
        row: dict[str, Any] = {
            "site_id": value.site_id,
            "camera_id": value.camera_id,
            "received_ms": now,
            "statement": data,
        }
        if not store_once(conn, deletions, {"statement_sha256": digest}, row):
            return None
        keys = [(value.site_id, value.camera_id, rid) for rid in value.recording_ids]
        held = deleted_among(conn, keys)
        new = [
            {
                "site_id": s,
                "camera_id": c,
                "recording_id": r,
                "deleted_ms": now,
                "statement_sha256": digest,
            }
            for s, c, r in keys
            if (s, c, r) not in held
        ]
        if new:
            conn.execute(deleted_recordings.insert(), new)
        # The entry names the camera and counts; recording ids are never logged publicly.
        return value.site_id, {
            "site_id": value.site_id,
            "camera_id": value.camera_id,
            "recordings": len(keys),
            "newly_deleted": len(new),
        }
