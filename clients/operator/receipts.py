"""Release-receipt reports: the checkpoints an operator was shown, carried to the customer.

A custodian that forks its log per audience (a *split view*) shows the operator one history
and the customer another. Only the operator has seen the operator's: so the operator's client,
after every release request, posts the checkpoint each custodian put in its receipt (accepted
or refused) to the site's inbox at the storage service, next to the custodians' access
notices. The customer's audit (clients/audit/site.py) cross-checks each one against the
history it verified itself (``clients.audit.log.cross_check_checkpoint``): a checkpoint the
custodian signed that is not on that history is a ``split_view``.

The report needs no signature of its own: every checkpoint in it carries the custodian's log
signature (and its witnesses' cosignatures), so whoever relays it can neither forge nor alter
one; a relay can only drop the report (docs/THREAT_MODEL.md). The storage service accepts it
only from a registered operator (RFC 9421 request signed with the operator's key), which keeps
others from filling the inbox. Bytes: docs/FORMAT.md, "Release-receipt reports".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clients.operator.release import (
    CustodianRefused,
    CustodianRelease,
    NothingReleased,
    Unwitnessed,
)
from common.bodies import loads
from crypto.encoding import b64url_encode

RECEIPTS_TYPE = "camvault/v1/release-receipts"
#: what a receipt says about the custodian's answer
OUTCOMES = ("released", "nothing_released", "refused", "unwitnessed")
MAX_RECEIPTS = 64
MAX_NOTE_CHARS = 8192


class ReceiptsError(ValueError):
    """A report that is not a release-receipt report."""


@dataclass(frozen=True, slots=True)
class Receipt:
    custodian_id: str
    outcome: str
    log_index: int | None
    checkpoint: str  # the signed note as received (cosignature lines included)


@dataclass(frozen=True, slots=True)
class ReceiptReport:
    site_id: str
    operator_id: str
    session_key: str  # base64url, as in the custodians' log entries
    time_ms: int
    receipts: tuple[Receipt, ...]

    def to_text(self) -> str:
        obj = {
            "type": RECEIPTS_TYPE,
            "site_id": self.site_id,
            "operator_id": self.operator_id,
            "session_key": self.session_key,
            "time_ms": self.time_ms,
            "receipts": [
                {
                    "custodian_id": r.custodian_id,
                    "outcome": r.outcome,
                    "log_index": r.log_index,
                    "checkpoint": r.checkpoint,
                }
                for r in self.receipts
            ],
        }
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def report_id(self) -> str:
        """The inbox reference: one report per release request (its session key)."""
        return "rr-" + hashlib.sha256(self.session_key.encode()).hexdigest()[:40]


def new_report(
    site_id: str,
    operator_id: str,
    session_public_key: bytes,
    time_ms: int,
    receipts: Iterable[Receipt],
) -> ReceiptReport:
    return ReceiptReport(
        site_id, operator_id, b64url_encode(session_public_key), time_ms, tuple(receipts)
    )


def _str(obj: dict[str, Any], key: str, limit: int = 256) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ReceiptsError(f"{key} must be a non-empty string of at most {limit} characters")
    return value


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ReceiptsError(f"{what} must be an integer 0..2^63-1")
    return value


def parse_report(text: str) -> ReceiptReport:
    """Parse strictly; :class:`ReceiptsError` says what is wrong."""
    try:
        obj = loads(text)
    except (ValueError, TypeError) as exc:
        raise ReceiptsError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict) or obj.get("type") != RECEIPTS_TYPE:
        raise ReceiptsError(f"not a JSON object of type {RECEIPTS_TYPE}")
    items = obj.get("receipts")
    if not isinstance(items, list) or len(items) > MAX_RECEIPTS:
        raise ReceiptsError(f"receipts must be a list of at most {MAX_RECEIPTS}")
    receipts = []
    for item in items:
        if not isinstance(item, dict):
            raise ReceiptsError("a receipt is not a JSON object")
        outcome = _str(item, "outcome")
        if outcome not in OUTCOMES:
            raise ReceiptsError(f"unknown outcome {outcome!r}")
        index = item.get("log_index")
        receipts.append(
            Receipt(
                _str(item, "custodian_id"),
                outcome,
                None if index is None else _int(index, "log_index"),
                _str(item, "checkpoint", MAX_NOTE_CHARS),
            )
        )
    return ReceiptReport(
        _str(obj, "site_id"),
        _str(obj, "operator_id"),
        _str(obj, "session_key"),
        _int(obj.get("time_ms"), "time_ms"),
        tuple(receipts),
    )


def receipt_of(custodian_id: str, error: Exception) -> Receipt | None:
    """The receipt a custodian's refusal carried, if any (its checkpoint is evidence too)."""
    if isinstance(error, Unwitnessed):
        return Receipt(custodian_id, "unwitnessed", None, error.checkpoint.decode("utf-8"))
    if isinstance(error, NothingReleased):
        rel = error.release
        return Receipt(
            custodian_id, "nothing_released", rel.log_index, rel.checkpoint.decode("utf-8")
        )
    if isinstance(error, CustodianRefused) and isinstance(error.log, dict):
        note, index = error.log.get("checkpoint"), error.log.get("index")
        if isinstance(note, str):
            return Receipt(custodian_id, "refused", index if isinstance(index, int) else None, note)
    return None


def collect_receipts(
    releases: Iterable[CustodianRelease], errors: Mapping[str, Exception]
) -> list[Receipt]:
    """Every checkpoint the custodians' answers carried: releases used or not, refusals."""
    out = [
        Receipt(r.custodian_id, "released", r.log_index, r.checkpoint.decode("utf-8"))
        for r in releases
    ]
    for cid, exc in errors.items():
        got = receipt_of(cid, exc)
        if got is not None:
            out.append(got)
    return out
