"""Bodies of the consent routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from crypto.statements import ConsentScope
from storage_service.schemas.base import Id, Request, Response, SignedJSON, Text512, TimeMs


class ConsentRequestIn(Request):
    cameras: Annotated[list[Id], Field(min_length=1, max_length=256)]
    scope: Annotated[list[ConsentScope], Field(min_length=1, max_length=3)]
    recordings_from_ms: TimeMs
    recordings_to_ms: TimeMs
    duration_s: Annotated[int, Field(ge=60, le=7 * 86400, strict=True)]
    reason: Text512


class ConsentRequestOut(Response):
    request_id: str
    site_id: str
    operator_id: str
    cameras: list[str]
    scope: list[str]
    recordings_from_ms: int
    recordings_to_ms: int
    duration_s: int
    reason: str
    created_ms: int
    state: Literal["pending", "approved", "refused"]
    decided_ms: int | None
    consent_id: str | None
    refusal_reason: str | None


class ConsentRequestList(Response):
    items: list[ConsentRequestOut]


class ConsentIn(Request):
    consent: SignedJSON = Field(description="Consent signed by the site's customer key")
    request_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None


class ConsentRefusalIn(Request):
    request_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    reason: Text512 | None = None


class RevocationIn(Request):
    revocation: SignedJSON = Field(description="Revocation signed by the site's customer key")


class ConsentOut(Response):
    site_id: str
    consent_id: str
    request_id: str | None
    grantee_id: str
    not_before_ms: int
    not_after_ms: int
    created_ms: int
    revoked: bool
    revoked_ms: int | None
    consent: SignedJSON
    revocation: SignedJSON | None


class ConsentList(Response):
    items: list[ConsentOut]
