"""Sites: creation from a self-signed SiteKeys, key changes signed by the pinned key, the
retention policy, and deletion of everything of a site."""

from __future__ import annotations

import hmac
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from common.time import now_ms
from crypto.siteid import SiteIdError
from crypto.statements import (
    AlarmCancel,
    Consent,
    Revocation,
    SignedStatement,
    SiteKeys,
    parse_signed,
    verify,
    verify_site_keys,
)
from storage_service.core.errors import ApiError, Reason
from storage_service.core.statements import parse_statement, statement_json, statement_refusals
from storage_service.db.engine import session_scope
from storage_service.db.models import Device, Recording, Site, SiteSettings, Upload, utcnow
from storage_service.db.sqlite import purge_wal
from storage_service.schemas.sites import SiteOut
from storage_service.services.deletion import enqueue, enqueue_recordings


def _verified(signed: SignedStatement, pinned: SiteKeys | None) -> SiteKeys:
    """The SiteKeys under the pinning rule; a first SiteKeys whose site id is not bound to its
    customer key (crypto.siteid: no squatting of another customer's id) is
    ``site_id_not_bound``."""
    with statement_refusals("site_keys", Reason.SITE_KEYS_INVALID):
        try:
            return verify_site_keys(signed, pinned)
        except SiteIdError as exc:
            raise ApiError(Reason.SITE_ID_NOT_BOUND, f"site_keys: {exc}") from None


def pinned_site_keys(site: Site) -> SiteKeys:
    stmt = parse_signed(site.site_keys).unverified_statement
    if not isinstance(stmt, SiteKeys):  # pragma: no cover - only SiteKeys are stored
        raise TypeError("stored site_keys is not a SiteKeys statement")
    return stmt


#: Statements of a site that its customer signs with the pinned customer key.
CustomerStatement = TypeVar("CustomerStatement", Consent, Revocation, AlarmCancel)


def verify_customer_statement(
    site: Site, signed: SignedStatement, cls: type[CustomerStatement], what: str
) -> CustomerStatement:
    """``signed`` as a ``cls`` of this site under its pinned customer key; refused as
    ``statement_signature_invalid``, ``statement_invalid`` or ``wrong_site``."""
    with statement_refusals(what):
        stmt = verify(signed, pinned_site_keys(site).customer_key, cls)
    if stmt.site_id != site.id:
        raise ApiError(Reason.WRONG_SITE, f"the {what} is for another site")
    return stmt


def site_out(site: Site, settings_row: SiteSettings | None) -> SiteOut:
    return SiteOut(
        site_id=site.id,
        keys_version=site.keys_version,
        site_keys=statement_json(site.site_keys),
        retention_days=settings_row.retention_days if settings_row else None,
    )


def create_site(
    engine: Engine, site_keys: dict[str, Any], retention_days: int | None
) -> tuple[SiteOut, bool]:
    """Create the site; returns (site, created). Re-sending the same statement is a no-op."""
    signed = parse_statement(site_keys, "site_keys")
    keys = _verified(signed, None)
    data = signed.encode()
    with session_scope(engine) as s:
        existing = s.get(Site, keys.site_id)
        if existing is not None:
            if hmac.compare_digest(existing.site_keys, data):
                return site_out(existing, s.get(SiteSettings, existing.id)), False
            raise ApiError(Reason.SITE_EXISTS, f"site {keys.site_id!r} already exists")
        site = Site(
            id=keys.site_id,
            customer_signing_key=keys.customer_key.to_text(),
            keys_version=keys.version,
            site_keys=data,
        )
        row = SiteSettings(site_id=keys.site_id, retention_days=retention_days)
        s.add(site)
        s.flush()
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            raise ApiError(Reason.SITE_EXISTS, f"site {keys.site_id!r} already exists") from None
        return site_out(site, row), True


def get_site(s: Session, site_id: str) -> Site:
    site = s.get(Site, site_id)
    if site is None:
        raise ApiError(Reason.SITE_NOT_FOUND, f"no site {site_id!r}")
    return site


def read_site(engine: Engine, site_id: str) -> SiteOut:
    with Session(engine) as s:
        site = get_site(s, site_id)
        return site_out(site, s.get(SiteSettings, site_id))


def update_keys(engine: Engine, site_id: str, site_keys: dict[str, Any]) -> SiteOut:
    signed = parse_statement(site_keys, "site_keys")
    data = signed.encode()
    with session_scope(engine) as s:
        site = get_site(s, site_id)
        if hmac.compare_digest(site.site_keys, data):
            return site_out(site, s.get(SiteSettings, site_id))  # retried request
        keys = _verified(signed, pinned_site_keys(site))
        result = s.execute(
            sa.update(Site)
            .where(col(Site.id) == site_id, col(Site.keys_version) == site.keys_version)
            .values(
                customer_signing_key=keys.customer_key.to_text(),
                keys_version=keys.version,
                site_keys=data,
                updated_at=utcnow(),
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(Reason.SITE_KEYS_CONFLICT, "site keys changed concurrently; retry")
        s.expire_all()
        return site_out(get_site(s, site_id), s.get(SiteSettings, site_id))


def set_retention(engine: Engine, site_id: str, retention_days: int | None) -> SiteOut:
    with session_scope(engine) as s:
        site = get_site(s, site_id)
        row = s.get(SiteSettings, site_id)
        if row is None:
            row = SiteSettings(site_id=site_id)
        row.retention_days = retention_days
        s.add(row)
        s.flush()
        return site_out(site, row)


def delete_site(engine: Engine, site_id: str) -> int:
    """Delete the site and every row of it in one transaction; its objects (recordings and
    unfinished uploads) are queued for the sweeper. Returns the number of recordings."""
    with session_scope(engine) as s:
        site = get_site(s, site_id)
        now = now_ms()
        live = sa.and_(col(Recording.site_id) == site_id, col(Recording.deleted_ms).is_(None))
        count = enqueue_recordings(s, live, now)
        for u in s.exec(select(Upload).where(Upload.site_id == site_id)).all():
            enqueue(s, u.object_key, u.multipart_upload_id, now)
        for model in (Recording, Upload, Device, SiteSettings):
            s.execute(sa.delete(model).where(model.site_id == site_id))  # type: ignore[arg-type]
        s.delete(site)
    purge_wal(engine)
    return count
