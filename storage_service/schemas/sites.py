"""Bodies of the site, device and operator routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from storage_service.schemas.base import Request, Response, SignedJSON


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


class RevokeDevice(Request):
    revocation: SignedJSON


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
