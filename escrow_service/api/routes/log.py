"""The transparency log: checkpoint, entries, RFC 9162 proofs, and a site's own entries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from crypto.errors import LogProofError
from escrow_service.api.deps import AuthDep, ServiceDep, SettingsDep
from escrow_service.api.params import check_index
from escrow_service.core.errors import Reason, Refusal
from escrow_service.schemas.responses import ConsistencyOut, EntriesOut, InclusionOut, proof_json
from escrow_service.services.escrow import EscrowService

router = APIRouter(tags=["log"])


def _check_size(service: EscrowService, size: int) -> None:
    if size > service.log.size():
        raise Refusal(Reason.INVALID_RANGE, f"tree size {size} is beyond the log")


@router.get("/v1/log/checkpoint", response_class=PlainTextResponse)
def checkpoint(service: ServiceDep) -> PlainTextResponse:
    """The latest checkpoint, a C2SP signed note."""
    return PlainTextResponse(service.log.checkpoint().decode("utf-8"))


@router.get("/v1/log/cosigned-checkpoint", response_class=PlainTextResponse)
def cosigned_checkpoint(
    service: ServiceDep,
    size: Annotated[int, Query(ge=0, description="at least this many entries")] = 0,
) -> PlainTextResponse:
    """The latest checkpoint cosigned by a quorum of this custodian's witnesses: the signed
    note with the witnesses' cosignature lines appended (C2SP tlog-cosignature). If it covers
    fewer than ``size`` entries (or none is cosigned yet), a cosigning round runs first."""
    if service.cosigner is None:
        raise Refusal(Reason.NOT_FOUND, "this custodian has no witnesses configured")
    _check_size(service, size)
    got = service.cosigner.cosigned(max(size, 1) if service.cosigner.latest() is None else size)
    if got is None:
        raise Refusal(Reason.NOT_FOUND, "no checkpoint cosigned by a quorum of the witnesses")
    return PlainTextResponse(got[1].decode("utf-8"))


@router.get("/v1/log/entries")
def entries(start: int, end: int, service: ServiceDep, settings: SettingsDep) -> EntriesOut:
    """Entries ``[start, end)``, exact bytes as strings."""
    check_index("start", start)
    check_index("end", end, low=1)
    if end <= start or end - start > settings.max_entries_page:
        raise Refusal(
            Reason.INVALID_RANGE,
            f"need start < end and at most {settings.max_entries_page} entries",
        )
    if start > service.log.size():
        raise Refusal(Reason.INVALID_RANGE, f"start {start} is beyond the log")
    return EntriesOut.of(service.log.entries(start, end))


@router.get("/v1/log/inclusion")
def inclusion(
    tree_size: int,
    service: ServiceDep,
    index: int | None = None,
    leaf_hash: str | None = None,
) -> InclusionOut:
    """RFC 9162 inclusion proof of the entry at ``index`` or with ``leaf_hash`` (hex)."""
    check_index("tree_size", tree_size, low=1)
    if index is not None:
        check_index("index", index)
    _check_size(service, tree_size)
    if index is None:
        try:
            leaf = bytes.fromhex(leaf_hash or "")
        except ValueError:
            raise Refusal(Reason.MALFORMED_REQUEST, "leaf_hash must be hex") from None
        if len(leaf) != 32:
            raise Refusal(Reason.MALFORMED_REQUEST, "give index or leaf_hash (64 hex digits)")
        index = service.log.index_of(leaf)
        if index is None:
            raise Refusal(Reason.NOT_FOUND, "no entry with this leaf hash")
    if index >= tree_size:
        raise Refusal(Reason.INVALID_RANGE, f"index {index} is not below tree size")
    proof = service.log.inclusion_proof(index, tree_size)
    return InclusionOut(index=index, tree_size=tree_size, proof=proof_json(proof))


@router.get("/v1/log/consistency")
def consistency(old: int, new: int, service: ServiceDep) -> ConsistencyOut:
    """RFC 9162 consistency proof between the tree sizes ``old`` and ``new``."""
    check_index("old", old)
    check_index("new", new)
    if old > new:
        raise Refusal(Reason.INVALID_RANGE, "old must not exceed new")
    _check_size(service, new)
    try:
        proof = service.log.consistency_proof(old, new)
    except LogProofError as exc:
        raise Refusal(Reason.INVALID_RANGE, str(exc)) from None
    return ConsistencyOut(old=old, new=new, proof=proof_json(proof))


@router.get("/v1/sites/{site_id}/log-entries")
def site_entries(
    site_id: str,
    auth: AuthDep,
    service: ServiceDep,
    after: int = -1,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> EntriesOut:
    """The site's entries after index ``after`` (customer-signed request)."""
    check_index("after", after, low=-1)
    auth.customer(site_id)
    return EntriesOut.of(service.log.site_entries(site_id, after, limit))
