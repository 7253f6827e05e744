"""Bodies of the chain-head routes (docs/CHAIN_HEADS.md)."""

from __future__ import annotations

from storage_service.schemas.base import Request, Response, SignedJSON


class PostChainHead(Request):
    head: SignedJSON


class ChainHeadOut(Response):
    head: SignedJSON
    received_ms: int
