"""FastAPI dependencies: the custodian's services and settings (on app.state), the request
body within its size limit (refused by its Content-Length before it is read, or as soon as a
chunked body passes the limit), and request authentication (RFC 9421 signatures).

The dependencies are ``async``: they do no blocking work, and a sync one would cost a hop to
the thread pool each; the routes are sync (database and crypto work runs in the pool).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel

from common.asgi import http_request
from common.bodies import BodyTooLarge, check_length, read_capped
from common.time import now_ms
from escrow_service.core.auth import Caller, authenticate, claimed_keyid
from escrow_service.core.errors import Reason, Refusal
from escrow_service.core.settings import EscrowSettings
from escrow_service.schemas.requests import parse_body
from escrow_service.services.escrow import EscrowService


async def _service(request: Request) -> EscrowService:
    service: EscrowService = request.app.state.service
    return service


async def _settings(request: Request) -> EscrowSettings:
    settings: EscrowSettings = request.app.state.settings
    return settings


ServiceDep = Annotated[EscrowService, Depends(_service)]
SettingsDep = Annotated[EscrowSettings, Depends(_settings)]


async def bounded_body(request: Request, settings: SettingsDep) -> bytes | None:
    """The body, or None when it is larger than ``max_body_bytes`` (not read then)."""
    limit = settings.max_body_bytes
    try:
        check_length(request.headers.raw, limit)
        return await read_capped(request.stream(), limit)
    except BodyTooLarge:
        return None


RawBodyDep = Annotated[bytes | None, Depends(bounded_body)]
"""The request body, or None when it is larger than ``max_body_bytes`` (not read then); a
release refuses that itself, to log the refusal."""


def too_large(settings: EscrowSettings) -> Refusal:
    """The refusal of a body larger than ``max_body_bytes``."""
    return Refusal(Reason.BATCH_TOO_LARGE, f"body larger than {settings.max_body_bytes} bytes")


async def _body(body: RawBodyDep, settings: SettingsDep) -> bytes:
    if body is None:
        raise too_large(settings)
    return body


BodyDep = Annotated[bytes, Depends(_body)]
"""The request body, refused as ``batch_too_large`` beyond ``max_body_bytes``."""


class RequestAuth:
    """Verifies who signed the request. Routes call it where the check belongs in their order
    of checks (after the query is checked, before the body is decoded)."""

    def __init__(self, request: Request, service: EscrowService, settings: EscrowSettings) -> None:
        self._request = request
        self._service = service
        self._settings = settings

    def claimed_operator(self) -> str | None:
        """The operator id the request claims to be from, before anything is verified."""
        claimed = claimed_keyid(http_request(self._request))
        return claimed[1] if claimed and claimed[0] == "operator" else None

    def caller(self, body: bytes) -> Caller:
        """The verified signer of the request (its nonce is not yet remembered)."""
        settings = self._settings
        return authenticate(
            http_request(self._request),
            body,
            self._service.key_for,
            now_s=now_ms() // 1000,
            clock_skew_s=settings.clock_skew_s,
            max_lifetime_s=settings.signature_max_lifetime_s,
            authorities=settings.authorities,
        )

    def customer(self, site_id: str, body: bytes = b"") -> Caller:
        """The site's customer, verified, with the request nonce remembered."""
        caller = self.caller(body)
        if caller.kind != "customer" or caller.ident != site_id:
            raise Refusal(Reason.WRONG_PRINCIPAL, "only this site's customer may do this")
        self._service.nonces.remember(caller.keyid, caller.nonce, caller.expires_ms)
        return caller


async def _auth(request: Request, service: ServiceDep, settings: SettingsDep) -> RequestAuth:
    return RequestAuth(request, service, settings)


AuthDep = Annotated[RequestAuth, Depends(_auth)]


M = TypeVar("M", bound=BaseModel)


def json_body(model: type[M]) -> Any:
    """A dependency giving the body (within its size limit) as ``model``; refused as
    ``malformed_request`` when it is not JSON or does not fit."""

    async def parse(body: BodyDep) -> M:
        return parse_body(model, body)

    return Depends(parse)
