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

import base64
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from crypto.errors import CryptoError, LogProofError
from crypto.metadata import RecordingMetadata
from crypto.note import Checkpoint, NoteVerifier, open_checkpoint
from crypto.tlog import (
    EMPTY_ROOT,
    entry_leaf_hash,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the customer must look at. ``kind`` is one of: ``bad_checkpoint``,
    ``log_truncated``, ``log_inconsistent``, ``entries_mismatch``, ``unexpected_release``,
    ``unattributed_release``, ``unexpected_change``, ``notice_not_in_log``,
    ``notice_mismatch``, ``notice_malformed``, ``split_view``."""

    kind: str
    index: int | None
    detail: str


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
            "root": base64.b64encode(self.root).decode(),
            "border": [[base64.b64encode(h).decode(), n] for h, n in self.border],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> AuditState:
        return cls(
            str(obj["origin"]),
            int(obj["size"]),
            base64.b64decode(obj["root"]),
            [(base64.b64decode(h), int(n)) for h, n in obj["border"]],
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


EMPTY_RELEASED_ROOT = EMPTY_ROOT.hex()
MAX_INDEX = 2**63 - 1


class NoticeError(ValueError):
    """An access notice that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Notice:
    """An access notice, parsed. ``recordings_root`` is computed from the recordings it
    lists; ``claimed_root`` is the root it states."""

    text: str
    log_index: int
    site_id: str
    release_id: str
    operator_id: str | None
    recordings: tuple[RecordingMetadata, ...]
    recordings_root: str
    claimed_root: object


def parse_notice(text: str) -> Notice:
    """Parse one access notice (as delivered by a custodian); raises :class:`NoticeError`."""
    try:
        obj = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise NoticeError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise NoticeError("not a JSON object")
    index = obj.get("log_index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= MAX_INDEX:
        raise NoticeError("log_index must be an integer 0..2^63-1")
    for key in ("site_id", "release_id"):
        if not isinstance(obj.get(key), str):
            raise NoticeError(f"{key} must be a string")
    operator = obj.get("operator_id")
    if operator is not None and not isinstance(operator, str):
        raise NoticeError("operator_id must be a string")
    recs = obj.get("recordings")
    if not isinstance(recs, list):
        raise NoticeError("recordings must be a list")
    try:
        metas = tuple(RecordingMetadata.from_json(m) for m in recs)
    except CryptoError as exc:
        raise NoticeError(f"recordings: {exc}") from None
    root = root_from_leaf_hashes([leaf_hash(m.associated_data()) for m in metas]).hex()
    return Notice(
        text,
        index,
        obj["site_id"],
        obj["release_id"],
        operator,
        metas,
        root,
        obj.get("released_root"),
    )


def notice_problems(notice: Notice, entry: dict[str, Any]) -> list[str]:
    """How the logged entry and the notice disagree (empty: they describe one release)."""
    problems = []
    for key, want in (
        ("type", "release"),
        ("site_id", notice.site_id),
        ("release_id", notice.release_id),
        ("operator_id", notice.operator_id),
    ):
        if entry.get(key) != want:
            problems.append(f"{key}: entry has {entry.get(key)!r}, notice {want!r}")
    if any(m.site_id != notice.site_id for m in notice.recordings):
        problems.append("the notice lists recordings of another site")
    released = entry.get("released")
    released = released if isinstance(released, dict) else {}
    if released.get("root") != notice.recordings_root or notice.claimed_root != (
        notice.recordings_root
    ):
        problems.append("the recordings listed do not match the entry's released root")
    if released.get("count") != len(notice.recordings):
        problems.append("the entry's released count is not the number of recordings listed")
    return problems


def releases_nothing(entry: dict[str, Any]) -> bool:
    """A release/refusal entry that records no released recording at all."""
    released = entry.get("released")
    return (
        isinstance(released, dict)
        and released.get("count") == 0
        and released.get("root") == EMPTY_RELEASED_ROOT
        and not released.get("cameras")
    )


@dataclass
class Expected:
    """What the customer knows happened at its site."""

    notices: dict[int, Notice] = field(default_factory=dict)  # by log index, parsed
    statement_hashes: set[str] = field(default_factory=set)  # SHA-256 of statements it signed
    allow: Callable[[dict[str, Any]], bool] | None = None  # any further rule of the caller

    def problem(self, index: int, entry: dict[str, Any]) -> str | None:
        """Why this entry of the site is not expected (None: it is)."""
        if self.allow is not None and self.allow(entry):
            return None
        kind = entry.get("type")
        if kind == "refusal":
            if releases_nothing(entry):
                return None  # nothing was released; still visible in the report's entries
            return "a refusal entry that records released recordings"
        if kind == "release":
            notice = self.notices.get(index)
            if notice is None:
                return "a release the customer holds no access notice for"
            problems = notice_problems(notice, entry)
            if problems:
                return "the access notice for this index disagrees: " + "; ".join(problems)
            return None
        if entry.get("statement_sha256") in self.statement_hashes:
            return None
        return f"{kind} entry the customer did not expect"

    def covers(self, index: int, entry: dict[str, Any]) -> bool:
        return self.problem(index, entry) is None


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
    """Read access to one custodian's log API."""

    def __init__(self, url: str, origin: str, verifier: NoteVerifier, *, timeout: float = 30.0):
        self.url = url
        self.origin = origin
        self.verifier = verifier
        self.http = httpx.Client(base_url=url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CustodianLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        resp = self.http.get(path, params=params)
        resp.raise_for_status()
        return resp.json()

    def checkpoint(self) -> Checkpoint:
        resp = self.http.get("/v1/log/checkpoint")
        resp.raise_for_status()
        return open_checkpoint(resp.content, [self.verifier], self.origin)

    def consistency(self, old: int, new: int) -> list[bytes]:
        data = self._get("/v1/log/consistency", old=old, new=new)
        return [base64.b64decode(h) for h in data["proof"]]

    def inclusion(self, index: int, tree_size: int) -> list[bytes]:
        data = self._get("/v1/log/inclusion", index=index, tree_size=tree_size)
        return [base64.b64decode(h) for h in data["proof"]]

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        pos = start
        while pos < end:
            stop = min(end, pos + PAGE)
            data = self._get("/v1/log/entries", start=pos, end=stop)
            page = [(int(e["index"]), str(e["entry"]).encode("utf-8")) for e in data["entries"]]
            out.extend(page)
            if len(page) != stop - pos:
                break
            pos = stop
        return out


def audit_log(log: CustodianLog, state_path: Path, site_id: str, expected: Expected) -> AuditReport:
    """Checks 1-4 of the module docstring; advances the saved state only when all pass."""
    findings: list[Finding] = []
    site_entries: list[tuple[int, dict[str, Any]]] = []
    try:
        cp = log.checkpoint()
    except (CryptoError, httpx.HTTPError) as exc:
        return AuditReport(log.url, None, [Finding("bad_checkpoint", None, str(exc))], [])
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
    except (LogProofError, httpx.HTTPError, ValueError) as exc:
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
            entry = json.loads(data)
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
    except (LogProofError, httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
        return [Finding("notice_not_in_log", index, str(exc))]
    try:
        entry = json.loads(data)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        return [Finding("notice_mismatch", index, "the logged entry is not a JSON object")]
    return [Finding("notice_mismatch", index, p) for p in notice_problems(notice, entry)]


def parse_notices(texts: Iterable[str], site_id: str) -> tuple[dict[int, Notice], list[Finding]]:
    """Parse each notice on its own. Returns the usable ones by log index (one notice per
    index: a second, different notice for an index already claimed is a mismatch) and the
    findings about the others."""
    notices: dict[int, Notice] = {}
    findings: list[Finding] = []
    for text in texts:
        try:
            notice = parse_notice(text)
        except NoticeError as exc:
            findings.append(Finding("notice_malformed", None, str(exc)))
            continue
        if notice.site_id != site_id:
            findings.append(
                Finding("notice_mismatch", notice.log_index, "the notice is for another site")
            )
            continue
        held = notices.get(notice.log_index)
        if held is not None:
            if held.text != text:
                findings.append(
                    Finding(
                        "notice_mismatch",
                        notice.log_index,
                        "two different notices claim the same log entry",
                    )
                )
            continue
        notices[notice.log_index] = notice
    return notices, findings


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
    except (LogProofError, httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
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
