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

What this cannot see (docs/THREAT_MODEL.md, "Storage operator"): recordings newer than
anything this device verified, hidden from it from the start (cameras do not sign chain
heads yet), and a recording listed as deleted that was not (a tombstone keeps its manifest;
who deleted it is the service's word).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clients.api.errors import ClientError
from clients.api.storage import StorageApi
from clients.common import signed_from_json
from clients.customer.state import CustomerState
from crypto.errors import CryptoError
from crypto.statements import Manifest, SignedStatement, verify_chain

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
    key = state.camera_key(camera_id)
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
