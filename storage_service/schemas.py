"""Request and response bodies of the API. Requests refuse unknown fields (``extra="forbid"``).

Signed statements travel as JSON objects (their envelope); the service re-encodes them with
RFC 8785 and parses them strictly (crypto.statements.parse_signed), so only the canonical
statement the signer produced is accepted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from crypto.metadata import MAX_TIME_MS, RecordingKind

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
Id = Annotated[StrictStr, Field(pattern=ID_PATTERN, max_length=128)]
TimeMs = Annotated[int, Field(ge=0, le=MAX_TIME_MS, strict=True)]
Hex256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
SignedJSON = Annotated[dict[str, Any], Field(description="a signed statement (envelope)")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- sites and devices ------------------------------------------------------------------------


class CreateSite(Request):
    site_keys: SignedJSON
    retention_days: Annotated[int, Field(ge=1, le=36500, strict=True)] | None = None


class UpdateSiteKeys(Request):
    site_keys: SignedJSON


class SetRetention(Request):
    retention_days: Annotated[int, Field(ge=1, le=36500, strict=True)] | None


class SiteOut(Response):
    site_id: str
    keys_version: int
    site_keys: SignedJSON
    retention_days: int | None


class EnrollDevice(Request):
    enrollment: SignedJSON


class DeviceOut(Response):
    device_id: str
    kind: str
    model: str
    device_key: str
    enrollment: SignedJSON
    last_sequence: int | None
    last_manifest_sha256: str | None
    revoked: bool


class DeviceList(Response):
    items: list[DeviceOut]


class RegisterOperator(Request):
    registration: SignedJSON


class OperatorOut(Response):
    operator_id: str
    role: str
    operator_key: str


# --- uploads ---------------------------------------------------------------------------------


class UploadRequest(Request):
    recording_id: Id
    kind: RecordingKind
    start_ms: TimeMs
    end_ms: TimeMs
    payload_size: Annotated[int, Field(ge=0, strict=True)]
    multipart: StrictBool = False
    part_size: Annotated[int, Field(ge=1, strict=True)] | None = None


class PartURL(Response):
    part_number: int
    url: str


class UploadOut(Response):
    upload_id: str
    mode: Literal["single", "multipart"]
    expires_ms: int
    put_url: str | None = None
    part_size: int | None = None
    parts: list[PartURL] | None = None


class CompletedPartIn(Request):
    part_number: Annotated[int, Field(ge=1, le=10_000, strict=True)]
    etag: Annotated[str, Field(min_length=1, max_length=128)]


class CommitRequest(Request):
    upload_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    header: Annotated[StrictStr, Field(min_length=1, description="the age header, standard base64")]
    manifest: SignedJSON
    parts: list[CompletedPartIn] | None = None


# --- recordings ------------------------------------------------------------------------------


class RecordingOut(Response):
    camera_id: str
    recording_id: str
    kind: str
    start_ms: int
    end_ms: int
    payload_size: int
    payload_sha256: Hex256
    sequence: int
    manifest_sha256: Hex256
    manifest: SignedJSON
    status: Literal["committed", "deleted"]
    committed_ms: int
    deleted_ms: int | None
    deleted_reason: str | None


class RecordingDetail(RecordingOut):
    header: str | None = Field(description="age header, standard base64 (null once deleted)")
    download_url: str | None
    download_expires_ms: int | None


class RecordingPage(Response):
    items: list[RecordingOut]
    next_cursor: str | None


class DeleteResult(Response):
    deleted: int


class ReplaceHeader(Request):
    header: Annotated[StrictStr, Field(min_length=1, description="the re-wrapped age header")]


class ErrorDetail(Response):
    code: str = Field(description="machine-readable reason code (docs/API.md)")
    message: str
    details: Any = None


class ErrorBody(Response):
    error: ErrorDetail


class Health(Response):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
