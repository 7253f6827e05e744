"""The customer's retention as an end of access: a RetentionPolicy signed by the site key,
posted to each custodian, logged, and enforced on every release item by the custodian itself
(``retention_expired``), on the recording's ``end_ms`` as its stanza binds it (a changed time
fails the stanza's AEAD) — the storage service's sweeper rule, without trusting the storage
service to have swept.

A later policy replaces an earlier one but never brings back what an earlier one expired:
when a policy is replaced, the horizon it reached (``now - days``) is kept as
``expired_before_ms``, since the storage service has swept those recordings by then and an
operator could only hold their headers from before. The horizon of a request is the larger of
that and the current policy's ``now - days``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select

from crypto.statements import RetentionPolicy
from escrow_service.core.errors import Reason
from escrow_service.db.models import retention
from escrow_service.schemas.release import ItemResult, ReleaseItemIn
from escrow_service.services.intake import Logged, SiteStatementIntake, StatementRefused

DAY_MS = 86_400_000

_policy = select(
    retention.c.retention_days,
    retention.c.expired_before_ms,
    retention.c.issued_at_ms,
    retention.c.statement,
).where(retention.c.site_id == bindparam("site_id"))


def _reached(days: int | None, now: int) -> int | None:
    """What a policy of ``days`` has expired by ``now``: recordings ending before it."""
    return None if days is None else now - days * DAY_MS


def _latest(*horizons: int | None) -> int | None:
    return max((h for h in horizons if h is not None), default=None)


def expired_before(conn: Connection, site_id: str | None, now: int) -> int | None:
    """Recordings of the site ending before this time are past its retention (None: none)."""
    if site_id is None:
        return None
    row = conn.execute(_policy, {"site_id": site_id}).first()
    if row is None:
        return None
    return _latest(row.expired_before_ms, _reached(row.retention_days, now))


def refuse_expired(
    conn: Connection,
    site_id: str | None,
    items: Sequence[ReleaseItemIn],
    results: list[ItemResult | None] | list[ItemResult],
    indexes: list[int],
    now: int,
) -> list[int]:
    """Refuse, in ``results``, each of the items at ``indexes`` past the site's retention
    (``retention_expired``); returns the indexes still passing."""
    horizon = expired_before(conn, site_id, now)
    if horizon is None:
        return indexes
    still = []
    for i in indexes:
        m = items[i].metadata
        if m.end_ms < horizon:
            message = "older than the customer's retention"
            results[i] = ItemResult(m.recording_id, None, Reason.RETENTION_EXPIRED, message)
        else:
            still.append(i)
    return still


class RetentionIntake(SiteStatementIntake[RetentionPolicy]):
    """The site's retention policy, signed by its pinned customer key; the latest wins."""

    statement = RetentionPolicy
    entry_type = "retention-policy"
    what = "retention policy"

    def store(
        self, conn: Connection, value: RetentionPolicy, data: bytes, now: int
    ) -> Logged | None:
        row = conn.execute(_policy, {"site_id": value.site_id}).first()
        values: dict[str, Any] = {
            "retention_days": value.retention_days,
            "issued_at_ms": value.issued_at_ms,
            "received_ms": now,
            "statement": data,
        }
        if row is None:
            values["expired_before_ms"] = None
            conn.execute(retention.insert().values(site_id=value.site_id, **values))
        else:
            if bytes(row.statement) == data:
                return None
            if value.issued_at_ms <= int(row.issued_at_ms):
                raise StatementRefused(
                    Reason.STATEMENT_CONFLICT, "a newer retention policy is held"
                )
            values["expired_before_ms"] = _latest(
                row.expired_before_ms, _reached(row.retention_days, now)
            )
            conn.execute(
                retention.update().where(retention.c.site_id == value.site_id).values(**values)
            )
        return value.site_id, {
            "site_id": value.site_id,
            "retention_days": value.retention_days,
            "expired_before_ms": values["expired_before_ms"],
        }
