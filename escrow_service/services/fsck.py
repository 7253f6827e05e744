"""Read-only consistency check of one custodian's database.

:func:`check` reads the transparency log table and the notice tables and returns every
problem it finds; it never writes. What counts as consistent:

- the log's indexes run from 0 without a gap; each row's leaf hash is
  ``crypto.tlog.entry_leaf_hash`` of its stored entry bytes, and the entry names its own
  index and type;
- every signed checkpoint given (published by the custodian, kept by an auditor or an
  operator) verifies with the custodian's log key and its root equals the Merkle tree
  recomputed from the stored entries at its size (crypto.tlog); a checkpoint larger than the
  log means entries were lost;
- every access notice refers to a logged ``release`` entry of its site, and every outbox row
  to a stored notice (a release is recorded in these tables in its log entry's transaction);
- every statement the custodian holds (site keys, device enrollments, operator
  registrations, revocations, alarm cancels, alarm closes, recording deletions, the retention
  policy in force, and the
  deletion each deleted recording names) has the log entry of its type naming its hash:
  intake stores and logs a statement in one transaction (services/intake.py);
- every logged end of access (revocation, alarm cancel, alarm close, recording deletion) is
  still held: a row lost after its entry would let releases through that the log says end.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.engine import Engine

from common.fsck import Problem, Report
from crypto.errors import CryptoError
from crypto.statements import parse_signed
from crypto.tlog import NoteVerifier, entry_leaf_hash, open_checkpoint, root_from_leaf_hashes
from escrow_service.db.models import (
    alarm_cancels,
    alarm_closes,
    deleted_recordings,
    deletions,
    devices,
    log_entries,
    notices,
    operators,
    outbox,
    retention,
    revocations,
    sites,
)


class Kind(StrEnum):
    """What is wrong; the first word of each output line of `camvault admin fsck-custodian`."""

    LOG_GAP = "log_gap"  # indexes missing from the stored log
    LEAF_MISMATCH = "leaf_mismatch"  # stored leaf hash is not the hash of the stored entry
    ENTRY_INVALID = "entry_invalid"  # entry bytes are not a JSON object naming its index/type
    CHECKPOINT_INVALID = "checkpoint_invalid"  # signature or format of a given checkpoint
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # root differs from the recomputed tree
    CHECKPOINT_BEYOND_LOG = "checkpoint_beyond_log"  # a signed size the log no longer has
    NOTICE_WITHOUT_ENTRY = "notice_without_entry"  # a notice of a release that is not logged
    OUTBOX_WITHOUT_NOTICE = "outbox_without_notice"  # an outbox row with no notice
    STATEMENT_WITHOUT_ENTRY = "statement_without_entry"  # a held statement nobody can audit
    END_NOT_HELD = "end_not_held"  # a logged end of access whose row is gone


#: Each statement table, the column of its exact statement bytes, the type of its log entry.
STATEMENTS: tuple[tuple[Table, str, str], ...] = (
    (sites, "site_keys", "site-keys"),
    (devices, "statement", "device-enrollment"),
    (operators, "statement", "operator-registration"),
    (revocations, "statement", "revocation"),
    (alarm_cancels, "statement", "alarm-cancel"),
    (alarm_closes, "statement", "alarm-close"),
    (deletions, "statement", "recording-deletion"),
    (retention, "statement", "retention-policy"),
)
#: The ends of access that take effect once: entry type -> (table, the entry fields that
#: are the row's key). A deletion's row is keyed by the hash its entry names.
ENDS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "revocation": (revocations, ("site_id", "consent_id")),
    "alarm-cancel": (alarm_cancels, ("site_id", "panel_id", "event_id")),
    "alarm-close": (alarm_closes, ("site_id", "panel_id", "event_id")),
}


def _parse_entry(idx: int, kind: str, data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The entry as a JSON object, or what is wrong with it."""
    try:
        entry: Any = json.loads(data)
    except ValueError:
        return None, "entry is not JSON"
    if not isinstance(entry, dict):
        return None, "entry is not a JSON object"
    if entry.get("index") != idx:
        return entry, f"entry names index {entry.get('index')!r}"
    if entry.get("type") != kind:
        return entry, f"entry type {entry.get('type')!r}, row kind {kind!r}"
    return entry, None


class _Logged:
    """What the log says, gathered in one pass: (type, site) by index, the statement hashes
    logged per entry type, and the entries of ends of access."""

    def __init__(self) -> None:
        self.by_index: dict[int, tuple[str, str | None]] = {}
        self.statements: dict[str, set[str]] = defaultdict(set)
        self.ends: list[tuple[int, str, dict[str, Any]]] = []

    def add(self, idx: int, kind: str, site_id: str | None, entry: dict[str, Any] | None) -> None:
        self.by_index[idx] = (kind, site_id)
        digest = None if entry is None else entry.get("statement_sha256")
        if isinstance(digest, str):
            self.statements[kind].add(digest)
            if kind in ENDS or kind == "recording-deletion":
                self.ends.append((idx, kind, entry or {}))


def _check_log(rows: Iterable[Any], out: list[Problem]) -> tuple[list[bytes], _Logged]:
    """Recomputed leaf hashes of the gapless prefix, and what the entries say."""
    leaves: list[bytes] = []
    logged = _Logged()
    expected = 0
    for idx, leaf, data, kind, site_id in rows:
        if idx != expected:
            detail = f"indexes {expected}..{idx - 1} missing"
            out.append(Problem(Kind.LOG_GAP, {"index": expected}, detail))
        expected = idx + 1
        data = bytes(data)
        if entry_leaf_hash(data) != bytes(leaf):
            detail = "stored leaf hash is not the hash of the stored entry"
            out.append(Problem(Kind.LEAF_MISMATCH, {"index": idx}, detail))
        entry, bad = _parse_entry(idx, kind, data)
        if bad is not None:
            out.append(Problem(Kind.ENTRY_INVALID, {"index": idx}, bad))
        if idx == len(leaves):
            leaves.append(entry_leaf_hash(data))
        logged.add(idx, kind, site_id, entry)
    return leaves, logged


def _statement_hash(data: bytes) -> str | None:
    try:
        return parse_signed(bytes(data)).statement_hash().hex()
    except (CryptoError, ValueError):
        return None


def _check_statements(conn: Connection, logged: _Logged, out: list[Problem]) -> int:
    """Every held statement has its entry; returns how many statements were checked."""
    checked = 0
    for table, column, kind in STATEMENTS:
        keys = [c.name for c in table.primary_key.columns]
        query = select(table.c[column], *(table.c[k] for k in keys))
        for data, *key in conn.execution_options(yield_per=1000).execute(query):
            checked += 1
            digest = _statement_hash(data)
            if digest is None or digest not in logged.statements[kind]:
                ids: dict[str, str | int] = {"type": kind}
                for name, value in zip(keys, key, strict=True):
                    ids[name] = value.hex() if isinstance(value, bytes) else value
                detail = f"no {kind} entry names this statement's hash"
                out.append(Problem(Kind.STATEMENT_WITHOUT_ENTRY, ids, detail))
    deleted = deleted_recordings.c
    query = select(
        deleted.site_id, deleted.camera_id, deleted.recording_id, deleted.statement_sha256
    )
    for site_id, camera_id, recording_id, digest in conn.execution_options(yield_per=1000).execute(
        query
    ):
        checked += 1
        if bytes(digest).hex() not in logged.statements["recording-deletion"]:
            ids = {"type": "recording-deletion", "site": site_id, "camera": camera_id}
            ids["recording"] = recording_id
            detail = "deleted by a deletion no recording-deletion entry names"
            out.append(Problem(Kind.STATEMENT_WITHOUT_ENTRY, ids, detail))
    return checked


def _check_ends(conn: Connection, logged: _Logged, out: list[Problem]) -> None:
    """Every logged end of access is still held."""
    for idx, kind, entry in logged.ends:
        if kind == "recording-deletion":
            try:
                digest = bytes.fromhex(str(entry.get("statement_sha256")))
            except ValueError:
                digest = b""
            held = conn.execute(
                select(deletions.c.site_id).where(deletions.c.statement_sha256 == digest)
            ).first()
        else:
            table, fields = ENDS[kind]
            held = conn.execute(
                select(table.c[fields[0]]).where(*(table.c[f] == entry.get(f) for f in fields))
            ).first()
        if held is None:
            detail = f"the {kind} logged here is no longer held: releases would ignore it"
            out.append(Problem(Kind.END_NOT_HELD, {"index": idx, "type": kind}, detail))


def _check_checkpoints(
    checkpoints: Iterable[tuple[str, bytes]],
    verifiers: Sequence[NoteVerifier],
    origin: str,
    leaves: list[bytes],
    out: list[Problem],
) -> None:
    for name, note in checkpoints:
        ids: dict[str, str | int] = {"checkpoint": name}
        try:
            cp = open_checkpoint(note, verifiers, origin)
        except (CryptoError, ValueError) as exc:
            out.append(Problem(Kind.CHECKPOINT_INVALID, ids, str(exc)))
            continue
        ids["size"] = cp.size
        if cp.size > len(leaves):
            detail = f"signed size {cp.size}, the stored log has {len(leaves)} contiguous entries"
            out.append(Problem(Kind.CHECKPOINT_BEYOND_LOG, ids, detail))
        elif root_from_leaf_hashes(leaves[: cp.size]) != cp.root_hash:
            detail = "the signed root differs from the tree of the stored entries"
            out.append(Problem(Kind.CHECKPOINT_MISMATCH, ids, detail))


def check(
    engine: Engine,
    *,
    origin: str,
    verifiers: Sequence[NoteVerifier] = (),
    checkpoints: Sequence[tuple[str, bytes]] = (),
) -> Report:
    """Every inconsistency in the custodian database at ``engine`` (read-only).

    ``checkpoints`` are (name, signed note) pairs checked against the log ``origin`` with
    ``verifiers`` (the custodian's log keys)."""
    report = Report()
    log = log_entries.c
    with engine.connect() as conn:
        rows = conn.execution_options(yield_per=1000).execute(
            select(log.idx, log.leaf_hash, log.entry, log.kind, log.site_id).order_by(log.idx)
        )
        leaves, logged = _check_log(rows, report.problems)
        statements = _check_statements(conn, logged, report.problems)
        _check_ends(conn, logged, report.problems)
        notice_rows = conn.execute(
            select(notices.c.id, notices.c.site_id, notices.c.log_index)
        ).all()
        outbox_ids = conn.execute(select(outbox.c.notice_id)).scalars().all()
    report.checked.update(entries=len(logged.by_index), notices=len(notice_rows))
    report.checked["statements"] = statements
    report.checked["checkpoints"] = len(checkpoints)
    _check_checkpoints(checkpoints, verifiers, origin, leaves, report.problems)
    for notice_id, site_id, index in notice_rows:
        kind, logged_site = logged.by_index.get(index, (None, None))
        if kind != "release" or logged_site != site_id:
            ids: dict[str, str | int] = {"notice": notice_id, "site": site_id, "index": index}
            detail = "no release entry of this site at the notice's log index"
            report.problems.append(Problem(Kind.NOTICE_WITHOUT_ENTRY, ids, detail))
    known = {n for n, _, _ in notice_rows}
    for notice_id in outbox_ids:
        if notice_id not in known:
            detail = "outbox row of a notice that is not stored"
            report.problems.append(
                Problem(Kind.OUTBOX_WITHOUT_NOTICE, {"notice": notice_id}, detail)
            )
    return report
