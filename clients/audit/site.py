"""`camvault customer audit`: verify every custodian's log (clients/audit/log.py) and list every
access to the site with who, when and why.

Access notices are collected from both channels: the storage service's inbox (relayed) and
each custodian's own notices API (signed request under the site key). Each is checked
against the log (inclusion, same release), and any release of the site in the log without a
notice is reported, as is a notice the storage service acknowledged to the custodian but
does not show in the inbox (withheld, or an older inbox served again). The checkpoints the
operators' release receipts carried (inbox kind ``release_receipts``, posted by the operator's
client) are cross-checked against each custodian's verified history: one that is not on it
is a ``split_view`` (clients/audit/receipts.py). The last verified
checkpoint per custodian is kept in the state directory and only advanced when nothing was
found.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from clients.api.errors import ServiceRefused
from clients.api.escrow import CustodianApi, CustodianEndpoint
from clients.audit.log import AuditReport, CustodianLog, audit_custodian
from clients.audit.notices import Finding, withheld
from clients.audit.receipts import Shown, cross_check_shown, shown_checkpoints
from clients.common import StateError, write_json
from clients.customer.inbox import read_inbox
from clients.customer.state import CustomerState
from clients.operator.release import WitnessPolicy
from common.http import SignedClient
from crypto.errors import CryptoError


@dataclass(frozen=True, slots=True)
class Access:
    custodian_id: str
    log_index: int
    time_ms: int
    kind: str  # release / refusal, or an end of access (ENDS_OF_ACCESS)
    operator_id: str
    purpose: str
    justification: str
    cameras: list[str]
    released: int
    reason: str | None


@dataclass
class CustodianAudit:
    custodian: CustodianEndpoint
    report: AuditReport | None
    notices: int
    accesses: list[Access] = field(default_factory=list)
    error: str | None = None

    @property
    def findings(self) -> list[Finding]:
        return [] if self.report is None else self.report.findings

    @property
    def ok(self) -> bool:
        return self.error is None and self.report is not None and self.report.ok


def _justification(entry: dict[str, Any]) -> str:
    j = entry.get("justification") or {}
    if "event_id" in j:
        return f"alarm {j.get('event_id')} ({j.get('alarm_type')}) of {j.get('panel_id')}"
    if "consent_id" in j:
        return f"consent {j.get('consent_id')}"
    return "none"


#: Entries that end access: an alarm closed by the ARC, recordings deleted by the customer, a
#: device key the customer revoked.
ENDS_OF_ACCESS = ("alarm-close", "recording-deletion", "device-revocation")


def _access(custodian_id: str, index: int, entry: dict[str, Any]) -> Access | None:
    """The access (release, refusal) or end of access an entry of the site records."""
    kind = str(entry.get("type"))
    time_ms = int(entry.get("time_ms", 0))
    if kind == "alarm-close":
        why = f"alarm {entry.get('event_id')} of {entry.get('panel_id')} closed"
        operator = str(entry.get("operator_id"))
        return Access(
            custodian_id, index, time_ms, kind, operator, "end of access", why, [], 0, None
        )
    if kind == "recording-deletion":
        why = f"{entry.get('recordings')} recording(s) deleted"
        cameras = [str(entry.get("camera_id"))]
        return Access(
            custodian_id, index, time_ms, kind, "customer", "end of access", why, cameras, 0, None
        )
    if kind == "device-revocation":  # a device key refused from then on (alarms, here)
        why = (
            f"{entry.get('kind')} key {entry.get('device_key')} revoked from "
            f"{entry.get('revoked_from_ms')} ms"
        )
        devices = [str(entry.get("device_id"))]
        return Access(
            custodian_id, index, time_ms, kind, "customer", "end of access", why, devices, 0, None
        )
    if kind not in ("release", "refusal"):
        return None
    released = entry.get("released") or {}
    return Access(
        custodian_id,
        index,
        time_ms,
        kind,
        str(entry.get("operator_id")),
        str(entry.get("purpose")),
        _justification(entry),
        list(released.get("cameras", [])),
        int(released.get("count", 0)),
        entry.get("reason"),
    )


def _custodian_notices(
    state: CustomerState, c: CustodianEndpoint, site_id: str
) -> list[tuple[str, bool]]:
    with (
        CustodianApi.of(c) as api,
        SignedClient(c.url, f"customer:{site_id}", state.site_key()) as client,
    ):
        return api.notices(client, site_id)


def audit_site(state: CustomerState) -> list[CustodianAudit]:
    _, site_id = state.site()
    # each custodian's own notices first, then the inbox: a notice a custodian counts as
    # delivered is then already in the inbox read after it (no false notice_withheld)
    direct: dict[str, list[tuple[str, bool]] | str] = {}
    for c in state.config.custodians:
        try:
            direct[c.custodian_id] = _custodian_notices(state, c, site_id)
        except ServiceRefused as exc:
            direct[c.custodian_id] = str(exc)
        except httpx.HTTPError as exc:  # down: the others are still audited
            direct[c.custodian_id] = _unreachable(c, exc)
    relayed: dict[str, list[str]] = {}
    for item in read_inbox(state, kind="access_notice"):
        if item.text is not None:
            relayed.setdefault(str(item.data.get("custodian_id")), []).append(item.text)
    # the checkpoints the operators were shown, for the split-view cross-check
    reports = [i.text for i in read_inbox(state, kind="release_receipts") if i.text is not None]
    shown, report_findings = shown_checkpoints(reports, site_id)
    results = []
    for c in state.config.custodians:
        own = direct[c.custodian_id]
        if isinstance(own, str):
            results.append(CustodianAudit(c, None, 0, error=own))
            continue
        try:
            results.append(
                _audit(
                    state,
                    c,
                    site_id,
                    own,
                    relayed.get(c.custodian_id, []),
                    shown.get(c.custodian_id, []),
                )
            )
        except httpx.HTTPError as exc:  # went down during its audit
            results.append(CustodianAudit(c, None, 0, error=_unreachable(c, exc)))
    first = next((r.report for r in results if r.report is not None), None)
    if first is not None:
        first.findings.extend(report_findings)  # about the reports, reported once
    return results


WITNESSES_FILE = "witnesses.json"
#: findings after which the verified checkpoint is not a base for further cross-checks
LOG_BROKEN = ("log_truncated", "log_inconsistent", "bad_checkpoint", "unwitnessed_checkpoint")


def witness_policy(state: CustomerState) -> WitnessPolicy | None:
    """The site's witnesses, from ``<state>/witnesses.json`` (``{"witnesses": [<verifier
    key>, ...], "quorum": k}``, docs/WITNESS.md); None when the file is absent: the audit then
    checks the log's own checkpoint only."""
    path = state.root / WITNESSES_FILE
    if not path.exists():
        return None
    try:
        return WitnessPolicy.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, CryptoError) as exc:
        raise StateError(f"{path}: not a witness list ({exc})") from None


def _unreachable(c: CustodianEndpoint, exc: httpx.HTTPError) -> str:
    reason = str(exc) or type(exc).__name__
    return f"unreachable at {c.url} ({reason}): its log was not checked"


def _audit(
    state: CustomerState,
    c: CustodianEndpoint,
    site_id: str,
    direct: list[tuple[str, bool]],
    mine: list[str],
    shown: list[Shown],
) -> CustodianAudit:
    """One custodian's audit, given its own notices and those the inbox relays for it."""
    # both channels, exact texts: identical copies count once, a relayed notice that differs
    # from the custodian's own is a finding (clients/audit/log.py parse_notices), and so is
    # one the storage service took from the custodian but does not relay
    notices = [text for text, _ in direct] + mine
    with CustodianLog(c.url, c.origin, c.verifier, witnesses=witness_policy(state)) as log:
        report = audit_custodian(
            log, state.audit_path(c.custodian_id), site_id, notices, state.config.signed
        )
        if report.checkpoint is not None and not any(f.kind in LOG_BROKEN for f in report.findings):
            report.findings.extend(cross_check_shown(log, shown, report.checkpoint))
    report.findings.extend(withheld(direct, mine))
    audit = CustodianAudit(c, report, len(set(notices)))
    for index, entry in report.site_entries:
        access = _access(c.custodian_id, index, entry)
        if access is not None:
            audit.accesses.append(access)
    history = state.audit_path(c.custodian_id).with_suffix(".accesses.json")
    known = json.loads(history.read_text()) if history.exists() else []
    if report.ok:
        have = {a["log_index"] for a in known}
        known += [asdict(a) for a in audit.accesses if a.log_index not in have]
        write_json(history, known)
    have = {a.log_index for a in audit.accesses}
    audit.accesses = [Access(**a) for a in known if a["log_index"] not in have] + [*audit.accesses]
    return audit
