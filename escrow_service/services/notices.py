"""Access notices: written with the release's log entry (and an outbox row for delivery), and
read back by the site's customer."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from crypto.metadata import RecordingMetadata
from escrow_service.db.models import notices
from escrow_service.services.custodian import Custodian
from escrow_service.services.queries import Q
from escrow_service.services.record import ReleaseRecord

NOTICE_TYPE = "camvault/v1/access-notice"

#: The notices' INSERT returning their ids in the order of the rows (one statement for a
#: release group's notices: SQLAlchemy's "insertmanyvalues").
_NOTICE_INSERT_IDS = Q.notice_insert.returning(notices.c.id, sort_by_parameter_order=True)


class Notices:
    """Access notices of released recordings, per site."""

    def __init__(self, custodian: Custodian) -> None:
        self._custodian = custodian

    def queue(
        self,
        conn: Connection,
        rec: ReleaseRecord,
        index: int,
        fields: Mapping[str, Any],
        released: Sequence[RecordingMetadata],
    ) -> None:
        """Write the notice of a release logged at ``index`` and its outbox row, in the
        release's transaction (a notice can be late, never lost)."""
        self.queue_many(conn, [(rec, index, fields, released)])

    def queue_many(
        self,
        conn: Connection,
        releases: Sequence[
            tuple[ReleaseRecord, int, Mapping[str, Any], Sequence[RecordingMetadata]]
        ],
    ) -> None:
        """:meth:`queue` for several releases (a release group): two statements in all."""
        if not releases:
            return
        rows = [
            {
                "site_id": rec.site_id,
                "log_index": index,
                "body": self._body(rec, index, fields, released),
                "created_ms": rec.time_ms,
            }
            for rec, index, fields, released in releases
        ]
        ids = conn.execute(_NOTICE_INSERT_IDS, rows).scalars().all()
        if len(ids) != len(rows):  # pragma: no cover
            raise RuntimeError("notice ids not returned")
        conn.execute(
            Q.outbox_insert,
            [
                {
                    "notice_id": notice_id,
                    "attempts": 0,
                    "next_attempt_ms": rec.time_ms,
                    "last_error": None,
                }
                for notice_id, (rec, *_) in zip(ids, releases, strict=True)
            ],
        )

    def _body(
        self,
        rec: ReleaseRecord,
        index: int,
        fields: Mapping[str, Any],
        released: Sequence[RecordingMetadata],
    ) -> str:
        keys = self._custodian.keys
        notice = {
            "type": NOTICE_TYPE,
            "custodian_id": keys.custodian_id,
            "origin": keys.origin,
            "site_id": rec.site_id,
            "log_index": index,
            "time_ms": rec.time_ms,
            "release_id": rec.release_id,
            "operator_id": rec.operator_id,
            "purpose": rec.purpose,
            "justification": rec.justification,
            "cameras": fields["released"]["cameras"],
            "from_ms": fields["released"]["from_ms"],
            "to_ms": fields["released"]["to_ms"],
            "released_root": fields["released"]["root"],
            "recordings": [m.to_json() for m in released],
        }
        return json.dumps(notice, sort_keys=True, separators=(",", ":"))

    def for_site(self, site_id: str, after_id: int, limit: int) -> list[dict[str, Any]]:
        """The site's notices with id above ``after_id``, oldest first."""
        with self._custodian.engine.connect() as conn:
            rows = conn.execute(
                select(notices.c.id, notices.c.body, notices.c.delivered_ms)
                .where(notices.c.site_id == site_id, notices.c.id > after_id)
                .order_by(notices.c.id)
                .limit(limit)
            ).all()
        return [
            {"id": int(r.id), "notice": r.body, "delivered": r.delivered_ms is not None}
            for r in rows
        ]
