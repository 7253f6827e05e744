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
  to a stored notice (a release is recorded in these tables in its log entry's transaction).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from common.fsck import Problem, Report
from crypto.errors import CryptoError
from crypto.tlog import NoteVerifier, entry_leaf_hash, open_checkpoint, root_from_leaf_hashes
from escrow_service.db.models import log_entries, notices, outbox


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


def _entry_problem(idx: int, kind: str, data: bytes) -> str | None:
    try:
        entry: Any = json.loads(data)
    except ValueError:
        return "entry is not JSON"
    if not isinstance(entry, dict):
        return "entry is not a JSON object"
    if entry.get("index") != idx:
        return f"entry names index {entry.get('index')!r}"
    if entry.get("type") != kind:
        return f"entry type {entry.get('type')!r}, row kind {kind!r}"
    return None


def _check_log(
    rows: Sequence[Any], out: list[Problem]
) -> tuple[list[bytes], dict[int, tuple[str, str | None]]]:
    """Stored and recomputed leaf hashes of the gapless prefix, and (type, site) by index."""
    leaves: list[bytes] = []
    logged: dict[int, tuple[str, str | None]] = {}
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
        bad = _entry_problem(idx, kind, data)
        if bad is not None:
            out.append(Problem(Kind.ENTRY_INVALID, {"index": idx}, bad))
        if idx == len(leaves):
            leaves.append(entry_leaf_hash(data))
        logged[idx] = (kind, site_id)
    return leaves, logged


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
        rows = conn.execute(
            select(log.idx, log.leaf_hash, log.entry, log.kind, log.site_id).order_by(log.idx)
        ).all()
        notice_rows = conn.execute(
            select(notices.c.id, notices.c.site_id, notices.c.log_index)
        ).all()
        outbox_ids = conn.execute(select(outbox.c.notice_id)).scalars().all()
    report.checked.update(entries=len(rows), notices=len(notice_rows))
    report.checked["checkpoints"] = len(checkpoints)
    leaves, logged = _check_log(rows, report.problems)
    _check_checkpoints(checkpoints, verifiers, origin, leaves, report.problems)
    for notice_id, site_id, index in notice_rows:
        kind, logged_site = logged.get(index, (None, None))
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
