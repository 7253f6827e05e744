"""Shared pieces of the API's bodies: identifier and time types, the request and response
bases (both refuse unknown fields, ``extra="forbid"``), errors and health.

Signed statements travel as JSON objects (their envelope); the service re-encodes them with
RFC 8785 and parses them strictly (crypto.statements.parse_signed), so only the canonical
statement the signer produced is accepted.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from crypto.metadata import MAX_TIME_MS

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
Id = Annotated[StrictStr, Field(pattern=ID_PATTERN, max_length=128)]
TimeMs = Annotated[int, Field(ge=0, le=MAX_TIME_MS, strict=True)]
Hex256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
SignedJSON = Annotated[dict[str, Any], Field(description="a signed statement (envelope)")]
Text512 = Annotated[StrictStr, Field(min_length=1, max_length=512)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeleteResult(Response):
    deleted: int


class ErrorDetail(Response):
    code: str = Field(description="machine-readable reason code (docs/API.md)")
    message: str
    details: Any = None


class ErrorBody(Response):
    error: ErrorDetail


class Health(Response):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
