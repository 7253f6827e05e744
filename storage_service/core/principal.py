"""Who signed a request: the principal named by its ``keyid`` (see
:mod:`storage_service.api.auth`), with the tenant checks every site route starts with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from storage_service.core.errors import ApiError, Reason


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["customer", "device", "operator", "custodian"]
    keyid: str
    site_id: str | None = None
    device_id: str | None = None
    operator_id: str | None = None
    custodian_id: str | None = None

    def require_customer(self, site_id: str) -> None:
        if self.kind != "customer":
            raise ApiError(
                Reason.WRONG_PRINCIPAL, f"only the site's customer may do this ({self.kind})"
            )
        if self.site_id != site_id:
            raise ApiError(Reason.WRONG_SITE, "this key belongs to another site")

    def require_device(self, site_id: str, device_id: str) -> None:
        if self.kind != "device":
            raise ApiError(
                Reason.WRONG_PRINCIPAL, f"only the device itself may do this ({self.kind})"
            )
        if self.site_id != site_id:
            raise ApiError(Reason.WRONG_SITE, "this key belongs to another site")
        if self.device_id != device_id:
            raise ApiError(Reason.WRONG_PRINCIPAL, "this key belongs to another device")

    def require_site_member(self, site_id: str) -> None:
        """The site's customer or one of its devices."""
        if self.kind not in ("customer", "device"):
            raise ApiError(
                Reason.WRONG_PRINCIPAL, f"only the site's customer or devices ({self.kind})"
            )
        if self.site_id != site_id:
            raise ApiError(Reason.WRONG_SITE, "this key belongs to another site")
