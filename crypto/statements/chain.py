"""The manifest chain of a camera: links, gaps, forks and truncation (verify_chain)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from crypto.ed25519 import (
    Ed25519PublicKey,
)
from crypto.errors import SignatureError, StatementError
from crypto.statements.bodies import Manifest
from crypto.statements.devices import DeviceKeys
from crypto.statements.envelope import SignedStatement, verify
from crypto.statements.fields import MAX_COUNTER, check_int, check_sha256

# --- manifest chain ---------------------------------------------------------------------------


def manifest_hash(signed: SignedStatement) -> bytes:
    """SHA-256 of a signed manifest's canonical envelope: what the next manifest links to."""
    if not isinstance(signed.unverified_statement, Manifest):
        raise StatementError(f"statement type is {signed.statement_type}, expected {Manifest.TYPE}")
    return signed.statement_hash()


class ChainProblemKind(StrEnum):
    BAD_SIGNATURE = "bad-signature"  # not signed by this camera's key (foreign / forged)
    NOT_A_MANIFEST = "not-a-manifest"  # another statement type in the list
    WRONG_CAMERA = "wrong-camera"  # validly signed but for another site or camera
    OUT_OF_ORDER = "out-of-order"  # sequence goes backwards: reordering
    DUPLICATE_SEQUENCE = "duplicate-sequence"  # a sequence number appears more than once
    MISSING = "missing"  # a gap in the sequence numbers: deletion
    PREV_HASH_MISMATCH = "prev-hash-mismatch"  # link broken: insertion or substitution
    TRUNCATED = "truncated"  # fewer manifests than the camera is known to have made
    DEVICE_REVOKED = "device-revoked"  # signed by a camera key at/after its revocation


@dataclass(frozen=True, slots=True)
class ChainProblem:
    kind: ChainProblemKind
    index: int | None  # position in the list given, if the problem is about one entry
    sequence: int | None  # the sequence number concerned (first one, for ranges)
    detail: str


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """The last manifest of this camera already verified earlier (for incremental checks)."""

    sequence: int
    manifest_hash: bytes

    def __post_init__(self) -> None:
        check_int(self.sequence, "chain anchor: sequence", 0, MAX_COUNTER)
        check_sha256(self.manifest_hash, "chain anchor: manifest_hash")


def verify_chain(
    manifests: Sequence[SignedStatement],
    camera_key: Ed25519PublicKey | DeviceKeys,
    *,
    site_id: str,
    camera_id: str,
    anchor: ChainAnchor | None = None,
    expected_last_sequence: int | None = None,
) -> list[ChainProblem]:
    """Check one camera's manifests, in the order the storage service returned them.

    Returns every problem found (empty list: the chain is intact). Without ``anchor`` the chain
    must start at sequence 0; with it, at ``anchor.sequence + 1`` linking to its hash. Deletion
    of the newest manifests is only detectable with ``expected_last_sequence`` (the highest
    sequence number the camera is known to have used, e.g. from its own status report).
    With :class:`DeviceKeys`, a manifest of a rotated-out key verifies under that key, and one
    signed (``issued_at_ms``) at or after its key's revocation is ``device-revoked``.
    """
    keys = DeviceKeys.of(camera_key)
    problems: list[ChainProblem] = []

    def report(k: ChainProblemKind, i: int | None, seq: int | None, detail: str) -> None:
        problems.append(ChainProblem(k, i, seq, detail))

    entries: list[tuple[int, Manifest, bytes]] = []
    for i, signed in enumerate(manifests):
        try:
            m = verify(signed, keys.key_for(signed), Manifest)
        except SignatureError as exc:
            report(ChainProblemKind.BAD_SIGNATURE, i, None, str(exc))
            continue
        except StatementError as exc:
            report(ChainProblemKind.NOT_A_MANIFEST, i, None, str(exc))
            continue
        revoked_from = keys.revoked_at(signed.signer, m.issued_at_ms)
        if revoked_from is not None:
            report(
                ChainProblemKind.DEVICE_REVOKED,
                i,
                m.sequence,
                f"manifest signed at {m.issued_at_ms} by a key of camera {camera_id} "
                f"revoked from {revoked_from}",
            )
            continue
        if m.site_id != site_id or m.camera_id != camera_id:
            report(
                ChainProblemKind.WRONG_CAMERA,
                i,
                m.sequence,
                f"manifest of {m.site_id}/{m.camera_id}, expected {site_id}/{camera_id}",
            )
            continue
        entries.append((i, m, signed.statement_hash()))

    start = 0 if anchor is None else anchor.sequence + 1
    last: int | None = None
    by_seq: dict[int, list[tuple[int, Manifest, bytes]]] = {}
    for i, m, h in entries:
        if m.sequence < start:
            report(
                ChainProblemKind.OUT_OF_ORDER,
                i,
                m.sequence,
                f"sequence {m.sequence} is at or before the anchor (next expected {start})",
            )
            continue
        if last is not None and m.sequence < last:
            report(
                ChainProblemKind.OUT_OF_ORDER, i, m.sequence, f"sequence {m.sequence} after {last}"
            )
        last = m.sequence
        by_seq.setdefault(m.sequence, []).append((i, m, h))

    for seq, group in sorted(by_seq.items()):
        if len(group) > 1:
            distinct = {h for _, _, h in group}
            how = (
                "the same manifest listed again"
                if len(distinct) == 1
                else f"{len(distinct)} different manifests (fork or substitution)"
            )
            report(
                ChainProblemKind.DUPLICATE_SEQUENCE,
                group[1][0],
                seq,
                f"sequence {seq} appears {len(group)} times: {how}",
            )

    top = max(by_seq, default=start - 1)
    expected = start
    for seq in sorted(by_seq):
        if seq > expected:
            report(
                ChainProblemKind.MISSING,
                None,
                expected,
                f"sequence {expected}..{seq - 1} missing (deleted)",
            )
        expected = seq + 1
    if expected_last_sequence is not None and expected_last_sequence > top:
        report(
            ChainProblemKind.TRUNCATED,
            None,
            top + 1,
            f"sequence {top + 1}..{expected_last_sequence} missing at the end (deleted)",
        )

    for seq, group in sorted(by_seq.items()):
        if seq == 0:
            continue  # parsing guarantees prev_manifest_sha256 is null for sequence 0
        if anchor is not None and seq - 1 == anchor.sequence:
            allowed = {anchor.manifest_hash}
        elif seq - 1 in by_seq:
            allowed = {h for _, _, h in by_seq[seq - 1]}
        else:
            continue  # predecessor missing: already reported
        for i, m, _ in group:
            if m.prev_manifest_sha256 not in allowed:
                report(
                    ChainProblemKind.PREV_HASH_MISMATCH,
                    i,
                    seq,
                    f"sequence {seq} does not link to the manifest with sequence {seq - 1}",
                )
    return problems
