"""Customer-side verification of a custodian's transparency log (used by the customer CLI).

What the customer's client checks, per custodian, each time it audits:

1. the latest checkpoint is signed by the custodian's log key (C2SP signed note);
2. it is consistent with the last checkpoint this client saw (RFC 9162 consistency proof):
   no entry the client may have relied on was rewritten or removed; a smaller tree is a
   truncation;
3. every entry appended since then is fetched and hashed into the client's saved compact
   range (the right-border subtree hashes of the verified tree), and the result must equal
   the new checkpoint's root: the entries shown are exactly the entries logged;
4. every entry concerning the site is either expected (a release the client holds a notice
   for, a key or device statement the customer signed) or reported;
5. each access notice received is included in the log and agrees with its entry.

The state (last verified size, root and compact range) is a small JSON file whose path the
caller passes in; it is only advanced when the audit finds nothing wrong.
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
    ``unexpected_change``, ``notice_not_in_log``, ``notice_mismatch``."""

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


@dataclass
class Expected:
    """What the customer knows happened at its site."""

    release_ids: set[str] = field(default_factory=set)  # from access notices received
    statement_hashes: set[str] = field(default_factory=set)  # SHA-256 of statements it signed
    allow: Callable[[dict[str, Any]], bool] | None = None  # any further rule of the caller

    def covers(self, entry: dict[str, Any]) -> bool:
        if self.allow is not None and self.allow(entry):
            return True
        kind = entry.get("type")
        if kind == "refusal":
            return True  # nothing was released; still visible in the report's entries
        if kind == "release":
            return entry.get("release_id") in self.release_ids
        return entry.get("statement_sha256") in self.statement_hashes


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
            findings.append(Finding("entries_mismatch", index, "entry is not JSON"))
            continue
        if entry.get("site_id") == site_id:
            site_entries.append((index, entry))
            if not expected.covers(entry):
                kind = (
                    "unexpected_release"
                    if entry.get("type") == "release"
                    else ("unexpected_change")
                )
                findings.append(
                    Finding(kind, index, f"{entry.get('type')} entry the customer did not expect")
                )
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
    """Check 5: the notice's log entry is in the log under ``checkpoint`` and says the same
    (site, release id, operator, and the Merkle root of the recordings it lists)."""
    notice = json.loads(notice_text)
    index = int(notice["log_index"])
    if index >= checkpoint.size:
        return [Finding("notice_not_in_log", index, "notice points beyond the checkpoint")]
    rows = log.entries(index, index + 1)
    if not rows:
        return [Finding("notice_not_in_log", index, "entry missing")]
    data = rows[0][1]
    try:
        proof = log.inclusion(index, checkpoint.size)
        verify_inclusion(entry_leaf_hash(data), index, checkpoint.size, proof, checkpoint.root_hash)
    except (LogProofError, httpx.HTTPError) as exc:
        return [Finding("notice_not_in_log", index, str(exc))]
    entry = json.loads(data)
    metas = [RecordingMetadata.from_json(m) for m in notice["recordings"]]
    root = root_from_leaf_hashes([leaf_hash(m.associated_data()) for m in metas]).hex()
    problems = []
    for key, want in (
        ("type", "release"),
        ("site_id", notice["site_id"]),
        ("release_id", notice["release_id"]),
        ("operator_id", notice["operator_id"]),
    ):
        if entry.get(key) != want:
            problems.append(f"{key}: entry has {entry.get(key)!r}, notice {want!r}")
    if entry.get("released", {}).get("root") != root or notice.get("released_root") != root:
        problems.append("the recordings listed do not match the entry's released root")
    return [Finding("notice_mismatch", index, p) for p in problems]


def audit_custodian(
    log: CustodianLog,
    state_path: Path,
    site_id: str,
    notices: Iterable[str],
    statement_hashes: Iterable[str] = (),
) -> AuditReport:
    """The whole audit of one custodian: log checks plus every notice received."""
    notice_list = list(notices)
    expected = Expected(
        release_ids={json.loads(n)["release_id"] for n in notice_list},
        statement_hashes=set(statement_hashes),
    )
    report = audit_log(log, state_path, site_id, expected)
    if report.checkpoint is not None and not any(
        f.kind in ("log_truncated", "log_inconsistent", "bad_checkpoint") for f in report.findings
    ):
        for n in notice_list:
            report.findings.extend(verify_notice(log, n, report.checkpoint))
    return report
