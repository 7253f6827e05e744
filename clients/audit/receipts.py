"""The customer's side of the operators' release-receipt reports (format and why:
clients/operator/receipts.py): every checkpoint an operator was shown by a custodian is
cross-checked against the history the customer's own audit verified for that custodian.

* a report that does not parse, is about another site, or holds a checkpoint that the
  custodian's log key did not sign: ``receipts_malformed`` (not the custodian's doing: anyone
  who relays the report could have spoiled it);
* a checkpoint the custodian did sign that is not on the customer's history (same size and
  another root, or no consistency proof between the two): ``split_view``
  (``clients.audit.log.cross_check_checkpoint``) -- the custodian signed two histories, and
  the operator was shown the other one.

Identical checkpoints (several releases between two log appends) are checked once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from clients.audit.log import CustodianLog, cross_check_checkpoint
from clients.audit.notices import Finding
from clients.operator.receipts import ReceiptsError, parse_report
from crypto.errors import CryptoError
from crypto.tlog.note import Checkpoint, open_checkpoint


@dataclass(frozen=True, slots=True)
class Shown:
    """One checkpoint an operator says a custodian showed it."""

    operator_id: str
    release: str  # what it was for, for the finding's text
    checkpoint: str


def shown_checkpoints(
    texts: Iterable[str], site_id: str
) -> tuple[dict[str, list[Shown]], list[Finding]]:
    """The reports' checkpoints by custodian id, and the findings about unusable reports."""
    by_custodian: dict[str, list[Shown]] = {}
    findings: list[Finding] = []
    for text in texts:
        try:
            report = parse_report(text)
        except ReceiptsError as exc:
            findings.append(Finding("receipts_malformed", None, f"release receipts: {exc}"))
            continue
        if report.site_id != site_id:
            findings.append(
                Finding("receipts_malformed", None, "release receipts for another site")
            )
            continue
        for r in report.receipts:
            what = f"{r.outcome} receipt of operator {report.operator_id}"
            if r.log_index is not None:
                what += f" (log index {r.log_index})"
            by_custodian.setdefault(r.custodian_id, []).append(
                Shown(report.operator_id, what, r.checkpoint)
            )
    return by_custodian, findings


def cross_check_shown(
    log: CustodianLog, shown: Iterable[Shown], checkpoint: Checkpoint
) -> list[Finding]:
    """Each checkpoint an operator was shown, against the one this audit verified."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for s in shown:
        if s.checkpoint in seen:
            continue
        seen.add(s.checkpoint)
        try:
            open_checkpoint(s.checkpoint.encode("utf-8"), [log.verifier], log.origin)
        except CryptoError as exc:
            findings.append(
                Finding(
                    "receipts_malformed",
                    None,
                    f"{s.release}: the checkpoint is not signed by this custodian ({exc})",
                )
            )
            continue
        for f in cross_check_checkpoint(log, s.checkpoint, checkpoint):
            findings.append(Finding(f.kind, f.index, f"{s.release}: {f.detail}"))
    return findings
