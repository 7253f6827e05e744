"""Access notices of a site, for its customer (also pushed to the storage service's inbox)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from escrow_service.api.deps import AuthDep, ServiceDep
from escrow_service.api.params import check_index
from escrow_service.schemas.responses import NoticeOut, NoticesOut

router = APIRouter(prefix="/v1/sites", tags=["notices"])


@router.get("/{site_id}/notices")
def site_notices(
    site_id: str,
    auth: AuthDep,
    service: ServiceDep,
    after: int = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> NoticesOut:
    """The site's notices with id above ``after``, oldest first (customer-signed request)."""
    check_index("after", after)
    auth.customer(site_id)
    rows = service.notices.for_site(site_id, after, limit)
    return NoticesOut(notices=[NoticeOut(**row) for row in rows])
