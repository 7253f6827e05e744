"""Tenant checks of the routes that ARC operators and custodians share with a site.

``SiteScope`` is the first dependency of every such ``/v1/sites/{site_id}/...`` route: a
customer, device or custodian key of another site is refused (403 ``wrong_site``) before the
body is read, exactly like ``api.auth.SameSite``; operator keys pass (the ARC serves every site)
and each route then checks the operator's role and, for recordings, a justification.
"""

from __future__ import annotations

from fastapi import Depends

from storage_service.api.auth import SignedPrincipal
from storage_service.core.errors import ApiError, Reason


def site_scope(site_id: str, principal: SignedPrincipal) -> None:
    if principal.kind == "operator":
        return
    if principal.site_id != site_id:
        raise ApiError(Reason.WRONG_SITE, "this key belongs to another site")


SiteScope = Depends(site_scope)
