"""What the log entry of one release request says: the record filled in as checks proceed,
and the entry fields computed from it and the per-item results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crypto.encoding import b64url_encode
from crypto.metadata import RecordingMetadata
from crypto.statements import AlarmEvent, Consent, SignedStatement
from crypto.tlog import leaf_hash, root_from_leaf_hashes
from escrow_service.schemas.release import ItemResult


@dataclass
class ReleaseRecord:
    """What the log entry of one release request says, filled in as checks proceed."""

    release_id: str
    time_ms: int
    operator_id: str | None = None
    operator_verified: bool = False
    purpose: str | None = None
    site_id: str | None = None
    session_key: bytes | None = None
    justification: dict[str, Any] | None = None
    item_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # Computed while the opener works: leaf hash of each item's metadata AD (request order),
    # and the released-set root if every item that passed the policy is released.
    leaves: list[bytes] | None = None
    root_if_all_pass: tuple[list[int], bytes] | None = None


def statement_summary(signed: SignedStatement) -> dict[str, Any]:
    """The justification as the log entry names it: type, hash and identifying fields."""
    st = signed.unverified_statement
    out: dict[str, Any] = {"sha256": signed.statement_hash().hex(), "type": signed.statement_type}
    if isinstance(st, AlarmEvent):
        out.update(
            panel_id=st.panel_id,
            event_id=st.event_id,
            counter=st.counter,
            alarm_type=st.alarm_type.value,
            triggered_at_ms=st.triggered_at_ms,
        )
    elif isinstance(st, Consent):
        out.update(consent_id=st.consent_id, not_after_ms=st.not_after_ms)
    return out


def safe_text(value: object, limit: int = 64) -> str | None:
    """``value`` if it is short printable text (fit to be logged as given), else None."""
    if isinstance(value, str) and 0 < len(value) <= limit and value.isprintable():
        return value
    return None


def request_fields(
    rec: ReleaseRecord, items: Sequence[ItemResult], metas: Sequence[RecordingMetadata]
) -> dict[str, Any]:
    """The entry fields of a release or refusal: who asked, why, what was released (count,
    released-set root, cameras, time span) and what was refused (count per reason)."""
    indexes = [i for i, r in enumerate(items) if r.sealed_share is not None]
    released = [metas[i] for i in indexes]
    reasons = Counter(r.reason.value for r in items if r.reason is not None)
    if rec.root_if_all_pass is not None and rec.root_if_all_pass[0] == indexes:
        root = rec.root_if_all_pass[1]
    elif rec.leaves is not None and len(rec.leaves) == len(metas):
        root = root_from_leaf_hashes([rec.leaves[i] for i in indexes])
    else:
        root = root_from_leaf_hashes([leaf_hash(m.associated_data()) for m in released])
    return {
        "release_id": rec.release_id,
        "site_id": rec.site_id,
        "operator_id": rec.operator_id,
        "operator_verified": rec.operator_verified,
        "purpose": rec.purpose,
        "justification": rec.justification,
        "session_key": None if rec.session_key is None else b64url_encode(rec.session_key),
        "requested": rec.item_count,
        "released": {
            "count": len(released),
            "root": root.hex(),
            "cameras": sorted({m.camera_id for m in released}),
            "from_ms": min((m.start_ms for m in released), default=None),
            "to_ms": max((m.end_ms for m in released), default=None),
        },
        "refused": {"count": sum(reasons.values()), "reasons": dict(sorted(reasons.items()))},
    }
