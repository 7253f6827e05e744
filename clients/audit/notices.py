"""Access notices as the customer's audit reads them: parsing (a malformed notice is a
finding, never a crash), what a notice must agree on with its log entry, and which log
entries of the site the customer expects (clients/audit/log.py runs the checks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from common.bodies import loads
from crypto.errors import CryptoError
from crypto.metadata import RecordingMetadata
from crypto.tlog import EMPTY_ROOT, leaf_hash, root_from_leaf_hashes


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the customer must look at. ``kind`` is one of: ``bad_checkpoint``,
    ``log_truncated``, ``log_inconsistent``, ``entries_mismatch``, ``unexpected_release``,
    ``unattributed_release``, ``unexpected_change``, ``notice_not_in_log``,
    ``notice_mismatch``, ``notice_malformed``, ``notice_withheld``, ``split_view``,
    ``unwitnessed_checkpoint``, ``stale_checkpoint``, ``receipts_malformed``
    (docs/WITNESS.md, clients/audit/receipts.py)."""

    kind: str
    index: int | None
    detail: str


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
        obj = loads(text)
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
        if kind == "alarm-close":
            # An ARC operator ended an alarm's access at this custodian: it only ever
            # narrows access, and the entry names who closed it.
            return None
        if entry.get("statement_sha256") in self.statement_hashes:
            return None  # e.g. a recording-deletion this client sent
        return f"{kind} entry the customer did not expect"

    def covers(self, index: int, entry: dict[str, Any]) -> bool:
        return self.problem(index, entry) is None


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


def withheld(direct: Iterable[tuple[str, bool]], relayed: Iterable[str]) -> list[Finding]:
    """The notices a custodian delivered to the storage service (``direct``: its notices and
    whether the service acknowledged each) that the service's inbox does not relay: withheld,
    or an older inbox served again. A notice not delivered yet is not reported: the custodian
    keeps retrying, and the customer has it from the custodian anyway."""
    shown = set()
    for text in relayed:
        try:
            shown.add(parse_notice(text).log_index)
        except NoticeError:
            continue  # reported by parse_notices
    findings = []
    for text, delivered in direct:
        try:
            notice = parse_notice(text)
        except NoticeError:
            continue
        if delivered and notice.log_index not in shown:
            findings.append(
                Finding(
                    "notice_withheld",
                    notice.log_index,
                    f"the storage service took this custodian's access notice (release "
                    f"{notice.release_id} by {notice.operator_id}) and its inbox does not show "
                    "it: withheld or rolled back",
                )
            )
    return findings
