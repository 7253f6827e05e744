"""Customer-side verification of a custodian's transparency log (used by the customer CLI).

What the customer's client checks, per custodian, each time it audits:

1. the latest checkpoint is signed by the custodian's log key (C2SP signed note);
2. it is consistent with the last checkpoint this client saw (RFC 9162 consistency proof):
   no entry the client may have relied on was rewritten or removed; a smaller tree is a
   truncation;
3. every entry appended since then is fetched and hashed into the client's saved compact
   range (the right-border subtree hashes of the verified tree), and the result must equal
   the new checkpoint's root: the entries shown are exactly the entries logged;
4. every entry concerning the site is either expected or reported: a release must be
   matched, by its log index and one to one, by an access notice the client holds that
   agrees with it (site, release id, operator, Merkle root and count of the recordings); a
   refusal must release nothing (count 0, empty root, no cameras); a key, device or
   settings change must be a statement the customer signed;
5. a release or refusal that names no site (``site_id`` null) but records released
   recordings is reported (``unattributed_release``): a genuine release always names the
   site whose statement justified it, so such an entry cannot be attributed and nobody's
   audit would otherwise look at it;
6. each access notice received is parsed on its own (a malformed one is reported as
   ``notice_malformed`` and the audit goes on), is included in the log and agrees with
   its entry.

Entries labelled with ANOTHER site id are not this site's to judge: that site's own audit
reports them (it holds no notice for them). A custodian that logs a release of this site's
recordings under another real site's id is therefore caught only if that site audits; see
docs/THREAT_MODEL.md (the operator's client refuses such a mislabelled receipt).

The state (last verified size, root and compact range) is a small JSON file whose path the
caller passes in; it is only advanced when the log checks (1-5) find nothing wrong. Notice
findings (6) do not hold it back: they are about the notice, not about the log.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from clients.api.errors import ServiceRefused, check
from clients.api.escrow import CustodianApi, retrying
from clients.audit.notices import (
    Expected,
    Finding,
    Notice,
    NoticeError,
    notice_problems,
    parse_notice,
    parse_notices,
    releases_nothing,
)
from common.bodies import loads
from crypto.encoding import b64decode_padded, b64encode_padded
from crypto.errors import CryptoError, LogProofError
from crypto.tlog import (
    EMPTY_ROOT,
    entry_leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from crypto.tlog.cosignature import CosignedCheckpoint, QuorumError, open_cosigned_checkpoint
from crypto.tlog.note import Checkpoint, NoteVerifier, open_checkpoint

if TYPE_CHECKING:
    from clients.operator.release import WitnessPolicy

#: what the network or the custodian's refusal raises while the audit reads the log
READ_ERRORS = (httpx.HTTPError, ServiceRefused)


@dataclass
class AuditState:
    origin: str
    size: int
    root: bytes
    border: list[tuple[bytes, int]]  # compact range: (subtree hash, leaves), sizes decreasing

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root": b64encode_padded(self.root),
            "border": [[b64encode_padded(h), n] for h, n in self.border],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> AuditState:
        return cls(
            str(obj["origin"]),
            int(obj["size"]),
            b64decode_padded(obj["root"]),
            [(b64decode_padded(h), int(n)) for h, n in obj["border"]],
        )

    @classmethod
    def load(cls, path: Path) -> AuditState | None:
        if not path.exists():
            return None
        return cls.from_json(json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), sort_keys=True))
        os.replace(tmp, path)


def _append(border: list[tuple[bytes, int]], leaf: bytes) -> None:
    node, size = leaf, 1
    while border and border[-1][1] == size:
        left, _ = border.pop()
        node, size = node_hash(left, node), size * 2
    border.append((node, size))


def _border_root(border: list[tuple[bytes, int]]) -> bytes:
    if not border:
        return EMPTY_ROOT
    root = border[-1][0]
    for left, _ in reversed(border[:-1]):
        root = node_hash(left, root)
    return root


@dataclass
class AuditReport:
    custodian_url: str
    checkpoint: Checkpoint | None
    findings: list[Finding]
    site_entries: list[tuple[int, dict[str, Any]]]

    @property
    def ok(self) -> bool:
        return not self.findings


class CustodianLog:
    """Read access to one custodian's log API (:class:`~clients.api.escrow.CustodianApi`),
    checkpoints verified under its log key. With ``witnesses``, the audited checkpoint is the
    custodian's latest cosigned one (``GET /v1/log/cosigned-checkpoint``) and must carry the
    cosignatures of a quorum of them (else the finding ``unwitnessed_checkpoint``)."""

    def __init__(
        self,
        url: str,
        origin: str,
        verifier: NoteVerifier,
        *,
        timeout: float = 30.0,
        witnesses: WitnessPolicy | None = None,
    ):
        self.url = url
        self.origin = origin
        self.verifier = verifier
        self.witnesses = witnesses
        self.cosigned: CosignedCheckpoint | None = None
        self.now_s = 0
        self.api = CustodianApi(url, timeout=timeout)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> CustodianLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def checkpoint(self) -> Checkpoint:
        if self.witnesses is None:
            return open_checkpoint(self.api.checkpoint(), [self.verifier], self.origin)
        resp = retrying(lambda: self.api.http.get("/v1/log/cosigned-checkpoint"))
        check(resp, self.api.service, (200,))
        w = self.witnesses
        self.now_s = int(time.time())
        self.cosigned = open_cosigned_checkpoint(
            resp.content, [self.verifier], self.origin, w.witnesses, w.quorum, now_s=self.now_s
        )
        return self.cosigned.checkpoint

    def staleness(self) -> Finding | None:
        """``stale_checkpoint`` if the cosigned checkpoint just read was not cosigned by the
        quorum within the policy's ``max_age_s``: the custodian may be freezing this client's
        view (serving an old checkpoint forever, so that nothing it appends is ever seen)."""
        if self.witnesses is None or self.cosigned is None:
            return None
        as_of = self.witnesses.fresh_as_of(self.cosigned.cosigners)
        age = self.now_s - as_of
        if age <= self.witnesses.max_age_s:
            return None
        return Finding(
            "stale_checkpoint",
            self.cosigned.checkpoint.size,
            f"the newest checkpoint served (size {self.cosigned.checkpoint.size}) was last "
            f"cosigned by {self.witnesses.quorum} witnesses {age} s ago, more than the "
            f"{self.witnesses.max_age_s} s allowed: a frozen view, or its witnesses are down",
        )

    def consistency(self, old: int, new: int) -> list[bytes]:
        return self.api.consistency(old, new)

    def inclusion(self, index: int, tree_size: int) -> list[bytes]:
        return self.api.inclusion(index, tree_size)

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        return self.api.entries(start, end)


def audit_log(log: CustodianLog, state_path: Path, site_id: str, expected: Expected) -> AuditReport:
    """Checks 1-4 of the module docstring; advances the saved state only when all pass."""
    findings: list[Finding] = []
    site_entries: list[tuple[int, dict[str, Any]]] = []
    try:
        cp = log.checkpoint()
    except QuorumError as exc:
        return AuditReport(log.url, None, [Finding("unwitnessed_checkpoint", None, str(exc))], [])
    except (CryptoError, *READ_ERRORS) as exc:
        return AuditReport(log.url, None, [Finding("bad_checkpoint", None, str(exc))], [])
    stale = log.staleness()
    if stale is not None:  # reported; the log under it is still checked
        findings.append(stale)
    state = AuditState.load(state_path) or AuditState(log.origin, 0, EMPTY_ROOT, [])
    if cp.size < state.size:
        findings.append(
            Finding(
                "log_truncated",
                cp.size,
                f"log shrank from {state.size} to {cp.size} entries since the last audit",
            )
        )
        return AuditReport(log.url, cp, findings, site_entries)
    try:
        proof = log.consistency(state.size, cp.size)
        verify_consistency(state.size, cp.size, state.root, cp.root_hash, proof)
    except (LogProofError, *READ_ERRORS, ValueError) as exc:
        findings.append(
            Finding(
                "log_inconsistent",
                state.size,
                f"checkpoint of size {cp.size} does not extend the one of size "
                f"{state.size} seen before: history was rewritten ({exc})",
            )
        )
        return AuditReport(log.url, cp, findings, site_entries)
    border = list(state.border)
    if _border_root(border) != state.root:
        findings.append(Finding("entries_mismatch", None, "saved state is corrupt"))
        return AuditReport(log.url, cp, findings, site_entries)
    rows = log.entries(state.size, cp.size)
    expected_index = state.size
    for index, data in rows:
        if index != expected_index:
            break
        _append(border, entry_leaf_hash(data))
        expected_index += 1
        try:
            entry = loads(data)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            findings.append(Finding("entries_mismatch", index, "entry is not a JSON object"))
            continue
        kind = entry.get("type")
        if kind in ("release", "refusal") and entry.get("site_id") is None:
            if kind == "release" or not releases_nothing(entry):
                findings.append(
                    Finding(
                        "unattributed_release",
                        index,
                        f"{kind} entry that names no site but records released recordings",
                    )
                )
            continue
        if entry.get("site_id") == site_id:
            site_entries.append((index, entry))
            problem = expected.problem(index, entry)
            if problem is not None:
                finding = (
                    "unexpected_release" if kind in ("release", "refusal") else "unexpected_change"
                )
                findings.append(Finding(finding, index, problem))
    if expected_index != cp.size or _border_root(border) != cp.root_hash:
        findings.append(
            Finding(
                "entries_mismatch",
                None,
                "the entries served do not hash to the checkpoint's root",
            )
        )
    if not findings:
        AuditState(log.origin, cp.size, cp.root_hash, border).save(state_path)
    return AuditReport(log.url, cp, findings, site_entries)


def verify_notice(log: CustodianLog, notice_text: str, checkpoint: Checkpoint) -> list[Finding]:
    """Check 6 for one notice given as text (a malformed notice is a finding, not a crash)."""
    try:
        notice = parse_notice(notice_text)
    except NoticeError as exc:
        return [Finding("notice_malformed", None, str(exc))]
    return verify_parsed_notice(log, notice, checkpoint)


def verify_parsed_notice(
    log: CustodianLog, notice: Notice, checkpoint: Checkpoint
) -> list[Finding]:
    """The notice's log entry is in the log under ``checkpoint`` and says the same (site,
    release id, operator, and the Merkle root and count of the recordings it lists)."""
    index = notice.log_index
    if index >= checkpoint.size:
        return [Finding("notice_not_in_log", index, "notice points beyond the checkpoint")]
    try:
        rows = log.entries(index, index + 1)
        if not rows or rows[0][0] != index:
            return [Finding("notice_not_in_log", index, "entry missing")]
        data = rows[0][1]
        proof = log.inclusion(index, checkpoint.size)
        verify_inclusion(entry_leaf_hash(data), index, checkpoint.size, proof, checkpoint.root_hash)
    except (LogProofError, *READ_ERRORS, KeyError, TypeError, ValueError) as exc:
        return [Finding("notice_not_in_log", index, str(exc))]
    try:
        entry = loads(data)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        return [Finding("notice_mismatch", index, "the logged entry is not a JSON object")]
    return [Finding("notice_mismatch", index, p) for p in notice_problems(notice, entry)]


def cross_check_checkpoint(
    log: CustodianLog, note: bytes | str, checkpoint: Checkpoint
) -> list[Finding]:
    """Compare a checkpoint of this custodian obtained by someone else (for instance the one
    in an operator's release receipt, ``CustodianRelease.checkpoint``) with the one this
    audit verified: both must be signed by the custodian's log key and lie on one history
    (RFC 9162 consistency proof between them). A custodian that shows the operator one log
    and the customer another cannot pass this (``split_view``).

    Without such an exchange a split view is NOT detected: see docs/THREAT_MODEL.md.
    """
    data = note.encode("utf-8") if isinstance(note, str) else note
    try:
        other = open_checkpoint(data, [log.verifier], log.origin)
    except CryptoError as exc:
        return [Finding("bad_checkpoint", None, f"checkpoint given to check: {exc}")]
    small, big = sorted((other, checkpoint), key=lambda c: c.size)
    if small.size == big.size:
        if small.root_hash != big.root_hash:
            return [Finding("split_view", other.size, "two signed roots for the same tree size")]
        return []
    try:
        proof = log.consistency(small.size, big.size)
        verify_consistency(small.size, big.size, small.root_hash, big.root_hash, proof)
    except (LogProofError, *READ_ERRORS, KeyError, TypeError, ValueError) as exc:
        return [
            Finding(
                "split_view",
                other.size,
                f"checkpoints of size {small.size} and {big.size} are not on one history ({exc})",
            )
        ]
    return []


def audit_custodian(
    log: CustodianLog,
    state_path: Path,
    site_id: str,
    notices: Iterable[str],
    statement_hashes: Iterable[str] = (),
) -> AuditReport:
    """The whole audit of one custodian: log checks plus every notice received."""
    parsed, notice_findings = parse_notices(notices, site_id)
    expected = Expected(notices=parsed, statement_hashes=set(statement_hashes))
    report = audit_log(log, state_path, site_id, expected)
    report.findings.extend(notice_findings)
    if report.checkpoint is not None and not any(
        f.kind in ("log_truncated", "log_inconsistent", "bad_checkpoint") for f in report.findings
    ):
        for notice in parsed.values():
            report.findings.extend(verify_parsed_notice(log, notice, report.checkpoint))
    return report
