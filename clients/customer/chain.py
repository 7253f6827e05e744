"""What the storage service lists of a camera, checked against the camera's signed chain.

A listing's fields (times, sequence, kind, sizes, order) are the service's word; only the
manifests are the camera's. Before a command acts on a camera's recordings (``list``,
``download`` or ``export`` of a range, ``verify``), the client reads that camera's whole
listing, tombstones included, and checks:

- the chain (:func:`crypto.statements.verify_chain`): each manifest signed by the camera key
  the customer enrolled, for this site and camera; sequences 0..n without gap or repeat,
  each linking to the hash of the one before. A dropped, inserted, replayed or substituted
  recording breaks it;
- its end: not below the highest sequence this device verified before (``chain_heads`` in
  the state), so newest recordings hidden from a device that had seen them are reported;
- the listing: every listed field equal to its manifest's (a recording moved in time or
  relabelled), in the order the API promises (newest first by start time).

The whole listing of each camera concerned is read every time (metadata only: no header,
no payload). Keeping the last verified manifest hash too (crypto.statements.ChainAnchor) and
listing only what follows it would make this incremental; the API has no sequence filter yet.

Then the camera's signed chain head (docs/CHAIN_HEADS.md, :func:`check_heads`): signed by the
camera key the customer enrolled, for this site and camera; the listing must reach it (its
sequence listed, with its hash: else ``recordings_hidden`` or ``chain_head_mismatch``), and it
must be fresh (not older than the interval it promises plus a margin, not older than a head
this device verified before, not missing once one was seen: else
``camera_silent_or_hidden``). A head that fails its signature is ``chain_head_invalid``.

What this cannot see (docs/THREAT_MODEL.md, "Storage operator"): a camera that has never
posted a head to a device that never saw one (reported as ``no_chain_head``, not a finding:
cameras from before chain heads post none), and a recording listed as deleted that was not
(a tombstone keeps its manifest; who deleted it is the service's word).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from clients.api.errors import ClientError, ServiceRefused, check
from clients.api.storage import StorageApi
from clients.common import StateError, read_config, signed_from_json, write_json
from clients.customer.state import CustomerState
from common.time import now_ms
from crypto.errors import CryptoError
from crypto.statements import ChainHead, Manifest, SignedStatement, verify, verify_chain

#: the listed fields that must equal the signed manifest's
FIELDS = (
    "camera_id",
    "recording_id",
    "kind",
    "start_ms",
    "end_ms",
    "sequence",
    "payload_size",
    "payload_sha256",
    "manifest_sha256",
)


class ChainBrokenError(ClientError):
    """The service's listing of a camera contradicts the camera's signed manifests."""


@dataclass
class CameraChain:
    """One camera's listing (newest first, tombstones included) and what is wrong with it."""

    camera_id: str
    items: list[dict[str, Any]]
    problems: list[str]
    top: int | None  # highest sequence listed

    @property
    def ok(self) -> bool:
        return not self.problems

    def committed(self, from_ms: int | None, to_ms: int | None) -> list[dict[str, Any]]:
        """The committed recordings starting in [from_ms, to_ms), newest first."""
        return [
            i
            for i in self.items
            if i.get("status") == "committed"
            and (from_ms is None or i["start_ms"] >= from_ms)
            and (to_ms is None or i["start_ms"] < to_ms)
        ]


def _signed(manifest: Manifest, signed: SignedStatement) -> tuple[Any, ...]:
    return (
        manifest.camera_id,
        manifest.recording_id,
        manifest.kind.value,
        manifest.start_ms,
        manifest.end_ms,
        manifest.sequence,
        manifest.payload_size,
        manifest.payload_sha256.hex(),
        signed.statement_hash().hex(),
    )


def _listing_problems(listed: list[tuple[dict[str, Any], SignedStatement]]) -> list[str]:
    """Listed fields that differ from the manifest, and a listing out of its promised order."""
    problems = []
    previous: tuple[str, int] | None = None
    for item, signed in listed:
        m = signed.unverified_statement
        if not isinstance(m, Manifest):
            continue  # verify_chain reports it
        rid = m.recording_id
        diff = [
            f"{name} {item.get(name)!r} (signed {want!r})"
            for name, want in zip(FIELDS, _signed(m, signed), strict=True)
            if item.get(name) != want
        ]
        if diff:
            problems.append(f"relabelled: {rid}: the listing says {', '.join(diff)}")
        if previous is not None and m.start_ms > previous[1]:
            problems.append(
                f"reordered: {rid} is listed after {previous[0]} but starts later "
                "(the service lists newest first)"
            )
        previous = (rid, m.start_ms)
    return problems


def read_chain(state: CustomerState, storage: StorageApi, camera_id: str) -> CameraChain:
    """List one enrolled camera's recordings and check them (see the module docstring)."""
    _, site_id = state.site()
    key = state.camera_keys(camera_id)  # rotated-out and revoked keys too
    if key is None:
        raise ClientError(f"{camera_id} is not a camera this customer enrolled")
    items = list(storage.recordings(site_id, camera_id=camera_id, include_deleted=True))
    problems: list[str] = []
    listed: list[tuple[dict[str, Any], SignedStatement]] = []
    for item in items:
        try:
            listed.append((item, signed_from_json(item.get("manifest"))))
        except (CryptoError, ValueError, TypeError) as exc:
            problems.append(f"not-a-manifest: {item.get('recording_id')!r}: {exc}")

    def seq(pair: tuple[dict[str, Any], SignedStatement]) -> int:
        m = pair[1].unverified_statement
        return m.sequence if isinstance(m, Manifest) else -1

    by_sequence = sorted(listed, key=seq)
    for p in verify_chain(
        [s for _, s in by_sequence],
        key,
        site_id=site_id,
        camera_id=camera_id,
        expected_last_sequence=state.config.chain_heads.get(camera_id),
    ):
        named = (
            ""
            if p.index is None
            else f" (listed as {by_sequence[p.index][0].get('recording_id')!r})"
        )
        problems.append(f"{p.kind.value}: {p.detail}{named}")
    problems += _listing_problems(listed)
    top = max((seq(p) for p in listed), default=None)
    return CameraChain(camera_id, items, problems, top if top is not None and top >= 0 else None)


def cameras(state: CustomerState, camera_id: str | None) -> list[str]:
    """The enrolled cameras a command concerns (one, or all)."""
    if camera_id is not None:
        if state.camera_key(camera_id) is None:
            raise ClientError(f"{camera_id} is not a camera this customer enrolled")
        return [camera_id]
    return [d for d, info in sorted(state.config.devices.items()) if info["kind"] == "camera"]


def remember(state: CustomerState, chain: CameraChain) -> None:
    """Keep how far this camera's chain verified (only from a chain that checked)."""
    if chain.ok and chain.top is not None:
        heads = state.config.chain_heads
        heads[chain.camera_id] = max(chain.top, heads.get(chain.camera_id, -1))


def verified_chains(
    state: CustomerState, storage: StorageApi, camera_id: str | None
) -> list[CameraChain]:
    """Each concerned camera's chain, checked; :class:`ChainBrokenError` naming every camera whose
    listing contradicts its manifests (the heads of the others are still kept)."""
    chains = [read_chain(state, storage, cam) for cam in cameras(state, camera_id)]
    for chain in chains:
        remember(state, chain)
    state.save()
    broken = [c for c in chains if not c.ok]
    if broken:
        raise ChainBrokenError(
            "the storage service's listing contradicts the cameras' signed manifests: "
            + "; ".join(f"{c.camera_id}: {p}" for c in broken for p in c.problems)
        )
    return chains


# --- chain heads (docs/CHAIN_HEADS.md) ---------------------------------------------------------

#: What a head may be late by beyond the interval its camera promises (clock skew, a missed
#: post, the upload backlog of a camera back online): ``--head-margin`` of the CLI.
DEFAULT_HEAD_MARGIN_S = 60
#: The newest head this device verified per camera (the state directory's file).
HEADS_FILE = "chain_heads.json"


class HeadCode(StrEnum):
    """The reason codes of the chain-head check (``--json``)."""

    RECORDINGS_HIDDEN = "recordings_hidden"  # the listing stops short of the signed head
    CHAIN_HEAD_MISMATCH = "chain_head_mismatch"  # the head names another manifest than listed
    CAMERA_SILENT_OR_HIDDEN = "camera_silent_or_hidden"  # head too old, rolled back or missing
    CHAIN_HEAD_INVALID = "chain_head_invalid"  # not signed by the enrolled camera key, ...
    NO_CHAIN_HEAD = "no_chain_head"  # a note: no head ever posted or seen (not a finding)


@dataclass
class HeadCheck:
    """One camera's chain head as served, and what is wrong with it."""

    camera_id: str
    head: ChainHead | None = None
    findings: list[tuple[HeadCode, str]] = field(default_factory=list)
    note: HeadCode | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, code: HeadCode, detail: str) -> None:
        self.findings.append((code, detail))

    def summary(self, now: int) -> str:
        """One line on a head that checked (the findings have their own lines)."""
        if self.head is None:
            return "no chain head yet (the camera has posted none)"
        h = self.head
        where = "no manifest yet" if h.sequence is None else f"sequence {h.sequence}"
        age = max(0, now - h.issued_at_ms) // 1000
        return f"chain head: {where}, signed {age} s ago (promised every {h.interval_s} s)"

    def to_json(self) -> dict[str, Any]:
        h = self.head
        return {
            "camera_id": self.camera_id,
            "ok": self.ok,
            "head": None
            if h is None
            else {
                "sequence": h.sequence,
                "manifest_sha256": None if h.manifest_sha256 is None else h.manifest_sha256.hex(),
                "issued_at_ms": h.issued_at_ms,
                "interval_s": h.interval_s,
            },
            "findings": [{"code": str(c), "detail": d} for c, d in self.findings],
            "note": None if self.note is None else str(self.note),
        }


def _seen_heads(state: CustomerState) -> dict[str, dict[str, Any]]:
    path = state.root / HEADS_FILE
    if not path.exists():
        return {}
    try:
        data = read_config(path)
    except StateError:
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def fetch_head(storage: StorageApi, site_id: str, camera_id: str) -> Any | None:
    """The service's answer for the camera's head (None: it holds none)."""
    resp = storage.client.request("GET", f"/v1/sites/{site_id}/cameras/{camera_id}/chain-head")
    try:
        answer = check(resp, storage.service, (200,))
    except ServiceRefused as exc:
        if exc.status == 404 and exc.code == "chain_head_not_found":
            return None
        raise
    return "" if answer is None else answer  # a 200 without JSON: not a head


def _listed_hashes(chain: CameraChain) -> dict[int, bytes]:
    """sequence -> manifest hash of the listed manifests (tombstones included)."""
    out: dict[int, bytes] = {}
    for item in chain.items:
        try:
            signed = signed_from_json(item.get("manifest"))
        except (CryptoError, ValueError, TypeError):
            continue  # read_chain reports it
        m = signed.unverified_statement
        if isinstance(m, Manifest):
            out.setdefault(m.sequence, signed.statement_hash())
    return out


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_head(
    state: CustomerState,
    chain: CameraChain,
    answer: Any | None,
    *,
    now: int,
    margin_s: int,
    seen: dict[str, Any] | None,
) -> HeadCheck:
    """Check one camera's served head (``answer``: the service's JSON, None when it holds none)
    against its listing (``chain``, read and checked by :func:`read_chain`), the clock and
    the newest head this device verified before (``seen``)."""
    _, site_id = state.site()
    cam = chain.camera_id
    res = HeadCheck(cam)
    key = state.camera_key(cam)
    if key is None:  # pragma: no cover - read_chain refused it already
        raise ClientError(f"{cam} is not a camera this customer enrolled")
    if answer is None:
        if seen is not None:
            res.add(
                HeadCode.CAMERA_SILENT_OR_HIDDEN,
                f"the service holds no chain head of {cam}, but this device verified one "
                f"signed at {_when(int(seen['issued_at_ms']))}",
            )
        else:
            res.note = HeadCode.NO_CHAIN_HEAD
        return res
    try:
        if not isinstance(answer, dict):
            raise ValueError("the answer is not a JSON object")
        head = verify(signed_from_json(answer.get("head")), key, ChainHead)
        if head.site_id != site_id or head.camera_id != cam:
            raise ValueError(f"the head is for {head.site_id}/{head.camera_id}")
    except (CryptoError, ValueError, TypeError) as exc:
        res.add(HeadCode.CHAIN_HEAD_INVALID, f"the chain head served for {cam}: {exc}")
        return res
    res.head = head
    # the listing must reach the head
    if head.sequence is not None:
        listed = _listed_hashes(chain)
        top = max(listed, default=None)
        if head.sequence not in listed:
            shown = "nothing" if top is None else f"up to sequence {top}"
            first = 0 if top is None else top + 1
            res.add(
                HeadCode.RECORDINGS_HIDDEN,
                f"{cam} signed a chain head at sequence {head.sequence} "
                f"({_when(head.issued_at_ms)}) but the service lists {shown}: "
                f"sequence {first}..{head.sequence} hidden",
            )
        elif listed[head.sequence] != head.manifest_sha256:
            res.add(
                HeadCode.CHAIN_HEAD_MISMATCH,
                f"{cam}'s chain head names another manifest than the one listed at "
                f"sequence {head.sequence}",
            )
    # ... and be fresh
    deadline = head.issued_at_ms + head.interval_s * 1000 + margin_s * 1000
    if now > deadline:
        res.add(
            HeadCode.CAMERA_SILENT_OR_HIDDEN,
            f"{cam}'s newest chain head was signed at {_when(head.issued_at_ms)}, "
            f"{(now - head.issued_at_ms) // 1000} s ago (it promises one every "
            f"{head.interval_s} s, margin {margin_s} s): the camera is silent or its "
            "newer heads and recordings are hidden",
        )
    if seen is not None:
        seen_seq = seen.get("sequence")
        seen_at = int(seen["issued_at_ms"])
        if head.issued_at_ms < seen_at or (
            isinstance(seen_seq, int) and (head.sequence is None or head.sequence < seen_seq)
        ):
            res.add(
                HeadCode.CAMERA_SILENT_OR_HIDDEN,
                f"the service serves an older chain head of {cam} (signed "
                f"{_when(head.issued_at_ms)}) than this device verified "
                f"(signed {_when(seen_at)}, sequence {seen_seq})",
            )
    return res


def check_heads(
    state: CustomerState,
    storage: StorageApi,
    camera_ids: list[str],
    *,
    margin_s: int = DEFAULT_HEAD_MARGIN_S,
    now: int | None = None,
) -> list[HeadCheck]:
    """:func:`check_head` for each camera: its head is fetched BEFORE its listing is read
    (an honest camera posts a head only once the manifests it names are committed, so a
    listing read afterwards reaches it even while the camera records); the newest head
    verified per camera is kept in the state directory (never moved backwards)."""
    _, site_id = state.site()
    at = now_ms() if now is None else now
    seen = _seen_heads(state)
    out = []
    for cam in camera_ids:
        try:
            answer = fetch_head(storage, site_id, cam)
        except ServiceRefused as exc:
            # refusing to serve the head hides it as well as serving none
            refused = HeadCheck(cam)
            refused.add(
                HeadCode.CAMERA_SILENT_OR_HIDDEN,
                f"the service refused to serve {cam}'s chain head ({exc.status} {exc.code})",
            )
            out.append(refused)
            continue
        chain = read_chain(state, storage, cam)
        res = check_head(state, chain, answer, now=at, margin_s=margin_s, seen=seen.get(cam))
        h = res.head
        before = seen.get(cam)
        if h is not None and (before is None or h.issued_at_ms > int(before["issued_at_ms"])):
            seen[cam] = {"sequence": h.sequence, "issued_at_ms": h.issued_at_ms}
        out.append(res)
    write_json(state.root / HEADS_FILE, seen)
    return out


def head_checks(
    state: CustomerState, camera_id: str | None, margin_s: int = DEFAULT_HEAD_MARGIN_S
) -> list[HeadCheck]:
    """Check each concerned camera's chain head against its listing (the ``verify`` and
    ``list`` commands, after their own chain checks)."""
    with state.storage() as storage:
        return check_heads(state, storage, cameras(state, camera_id), margin_s=margin_s)
