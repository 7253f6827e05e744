"""Bodies of the upload, commit and recording routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictStr

from crypto.metadata import RecordingKind
from storage_service.schemas.base import Hex256, Id, Request, Response, SignedJSON, TimeMs


class UploadRequest(Request):
    recording_id: Id
    kind: RecordingKind
    start_ms: TimeMs
    end_ms: TimeMs
    payload_size: Annotated[int, Field(ge=0, strict=True)]
    multipart: StrictBool = False
    part_size: Annotated[int, Field(ge=1, strict=True)] | None = None
    part_checksums: StrictBool = Field(
        False,
        description="multipart only: ask for part checksums (each part PUT carries "
        "x-amz-checksum-sha256, the commit lists each part's sha256); granted when the "
        "store supports them (UploadOut.part_checksum)",
    )
    payload_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None,
        description="single PUT only: the payload's SHA-256 (hex; the manifest's "
        "payload_sha256): the PUT URL then takes only those bytes, sent with "
        "x-amz-checksum-sha256, and the commit needs no copy; granted when the store "
        "supports it (UploadOut.payload_checksum)",
    )


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
    part_checksum: Literal["sha256"] | None = None
    payload_checksum: Literal["sha256"] | None = None


class CompletedPartIn(Request):
    part_number: Annotated[int, Field(ge=1, le=10_000, strict=True)]
    etag: Annotated[str, Field(min_length=1, max_length=128)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


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


class ReplaceHeader(Request):
    header: Annotated[StrictStr, Field(min_length=1, description="the re-wrapped age header")]
