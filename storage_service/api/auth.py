"""Request authentication: HTTP Message Signatures (RFC 9421, Ed25519) on every API request.

``keyid`` names the principal, and the key is looked up from what the service stores, never
from the request:

- ``customer:<site_id>``              the site's pinned customer key (latest verified SiteKeys);
- ``device:<site_id>/<device_id>``    the device key of a customer-signed DeviceEnrollment;
- ``operator:<operator_id>``          the key of an ARC-signed OperatorRegistration;
- ``custodian:<site_id>/<custodian_id>`` the ``log_key`` of that custodian in the site's
  current SiteKeys (custodians deliver access notices to the site's inbox).

The only exception is site creation, whose key comes from the self-signed SiteKeys in the
body (trust on first use, crypto.statements.verify_site_keys). Checks, in order: content type
of a body (415), signature fields (401), freshness within the clock skew (401), Content-Digest
of the body (401), the covered ``@authority`` is this service's (401 ``wrong_authority``:
a request signed for another deployment cannot be replayed here), the key (401
``unknown_key``), the signature over the required components
(401) and finally the nonce, remembered until the signature expires (401 ``replayed_request``).
Tenant isolation is then each route's first line: ``principal.require_customer(site_id)`` etc.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common.asgi import http_request
from common.bodies import JsonError, loads
from common.time import now_ms
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import KeyFormatError, StatementError
from crypto.httpsig import (
    check_content_digest,
    check_times,
    parse_signature,
    verify_request,
)
from crypto.metadata import check_id
from crypto.statements import OperatorRegistration, SignedStatement, SiteKeys, parse_signed
from storage_service.core.errors import ApiError, Reason
from storage_service.core.principal import Principal
from storage_service.core.settings import Settings
from storage_service.core.statements import parse_statement
from storage_service.db.models import Device, Operator, RequestNonce, Site

BASE_COMPONENTS = ("@method", "@authority", "@path", "@query")
BODY_COMPONENTS = ("content-digest", "content-type")
JSON_TYPE = "application/json"


def parse_keyid(keyid: str) -> Principal:
    try:
        kind, _, rest = keyid.partition(":")
        if kind == "customer":
            return Principal("customer", keyid, site_id=check_id(rest, "site"))
        if kind == "operator":
            return Principal("operator", keyid, operator_id=check_id(rest, "operator"))
        site, sep, member = rest.partition("/")
        if kind == "device" and sep:
            site_id, device_id = check_id(site, "site"), check_id(member, "device")
            return Principal("device", keyid, site_id=site_id, device_id=device_id)
        if kind == "custodian" and sep:
            site_id, custodian_id = check_id(site, "site"), check_id(member, "custodian")
            return Principal("custodian", keyid, site_id=site_id, custodian_id=custodian_id)
    except StatementError:
        pass
    raise ApiError(
        Reason.UNKNOWN_KEY,
        "keyid must be customer:<site>, device:<site>/<device>, operator:<id> "
        "or custodian:<site>/<custodian>",
    )


def _stored_key(engine: Engine, p: Principal) -> Ed25519PublicKey:
    with Session(engine) as s:
        text: str | None = None
        if p.kind == "customer":
            site = s.get(Site, p.site_id)
            text = site.customer_signing_key if site is not None else None
        elif p.kind == "device":
            dev = s.get(Device, (p.site_id, p.device_id))
            if dev is not None and dev.revoked_ms is not None:
                raise ApiError(Reason.DEVICE_REVOKED, "this device's enrollment was revoked")
            text = dev.device_key if dev is not None else None
        elif p.kind == "custodian":
            site = s.get(Site, p.site_id)
            if site is not None:
                keys = parse_signed(site.site_keys).unverified_statement
                if isinstance(keys, SiteKeys):
                    for c in keys.custodians:
                        if c.custodian_id == p.custodian_id:
                            text = c.log_key.to_text()
        else:
            op = s.get(Operator, p.operator_id)
            text = op.operator_key if op is not None else None
    if text is None:
        raise ApiError(Reason.UNKNOWN_KEY, f"no key is registered for {p.keyid!r}")
    try:
        return Ed25519PublicKey.from_text(text)
    except KeyFormatError:  # pragma: no cover - stored keys were parsed before storing
        raise ApiError(Reason.UNKNOWN_KEY, "stored key is unusable") from None


def _remember_nonce(engine: Engine, keyid: str, nonce: str, expires_ms: int) -> None:
    try:
        with Session(engine) as s:
            s.add(RequestNonce(keyid=keyid, nonce=nonce, expires_ms=expires_ms))
            s.commit()
    except IntegrityError:
        raise ApiError(Reason.REPLAYED_REQUEST, "this signature nonce was already used") from None


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _normalize_authority(value: str, scheme: str) -> str:
    """Lower case, without the scheme's default port (RFC 9421 section 2.2.3 refers to the
    normalization of RFC 9110 section 4.2.3)."""
    authority = value.strip().lower()
    default = _DEFAULT_PORTS.get(scheme.lower())
    if default is not None and authority.endswith(":" + default):
        authority = authority[: -len(default) - 1]
    return authority


def expected_authority(settings: Settings, request: Request) -> str:
    """The ``@authority`` signatures must cover here: ``public_authority`` if set, else the
    host and port of ``public_url`` if that is set, else the address the request reached
    (``host:port`` of the listening socket)."""
    public = urlsplit(settings.public_url)
    url_set = "public_url" in settings.model_fields_set
    scheme = public.scheme if url_set else request.url.scheme
    if settings.public_authority:
        return _normalize_authority(settings.public_authority, scheme)
    if url_set:
        return _normalize_authority(public.netloc.rsplit("@", 1)[-1], scheme)
    server = request.scope.get("server")
    if not server:
        return ""
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in host else host
    return _normalize_authority(f"{host}:{port}" if port is not None else host, scheme)


def check_authority(settings: Settings, request: Request) -> None:
    """A signature covers the request's Host as ``@authority``; refuse one made for another
    service (another deployment where the same key is enrolled, another port, ...)."""
    scheme = (
        urlsplit(settings.public_url).scheme
        if "public_url" in settings.model_fields_set
        else request.url.scheme
    )
    got = _normalize_authority(request.headers.get("host", ""), scheme)
    want = expected_authority(settings, request)
    if not want or got != want:
        raise ApiError(
            Reason.WRONG_AUTHORITY,
            f"the request was signed for {got!r}; this service is {want!r}",
        )


async def authenticate(request: Request, key_override: Ed25519PublicKey | None = None) -> Principal:
    settings: Settings = request.app.state.settings
    engine: Engine = request.app.state.engine
    body = await request.body()
    if body:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != JSON_TYPE:
            raise ApiError(Reason.UNSUPPORTED_MEDIA_TYPE, f"request bodies must be {JSON_TYPE}")
    parsed = parse_signature(
        request.headers.get("signature-input"), request.headers.get("signature")
    )
    check_times(
        parsed.params,
        now=now_ms() // 1000,
        max_skew_s=settings.clock_skew_s,
        max_lifetime_s=settings.signature_max_lifetime_s,
    )
    required = BASE_COMPONENTS + (BODY_COMPONENTS if body else ())
    if body:
        check_content_digest(request.headers.get("content-digest"), body)
    check_authority(settings, request)
    principal = parse_keyid(parsed.params.keyid)
    key = (
        key_override
        if key_override is not None
        else await run_in_threadpool(_stored_key, engine, principal)
    )
    verify_request(http_request(request), parsed, key, required=required)
    expires_ms = (parsed.params.expires + settings.clock_skew_s + 1) * 1000
    await run_in_threadpool(
        _remember_nonce, engine, parsed.params.keyid, parsed.params.nonce, expires_ms
    )
    request.state.principal = principal
    return principal


async def _signed(request: Request) -> Principal:
    return await authenticate(request)


async def _body_statement(request: Request, field: str) -> SignedStatement | None:
    """The signed statement in the JSON body's ``field`` (parsed, signature not checked), or
    None when there is no such object: authentication then refuses what it can and
    validation reports the body."""
    body = await request.body()
    try:
        obj = loads(body) if body else None
    except JsonError:
        obj = None
    value = obj.get(field) if isinstance(obj, dict) else None
    return parse_statement(value, field) if isinstance(value, dict) else None


async def _site_creation(request: Request) -> Principal:
    """Site creation: the key is the customer key of the self-signed SiteKeys in the body."""
    signed = await _body_statement(request, "site_keys")
    if signed is None:
        return await authenticate(request)
    claimed = signed.unverified_statement
    if not isinstance(claimed, SiteKeys):
        raise ApiError(Reason.SITE_KEYS_INVALID, "site_keys is not a SiteKeys statement")
    principal = await authenticate(request, key_override=claimed.customer_key)
    if principal.kind != "customer" or principal.site_id != claimed.site_id:
        raise ApiError(Reason.WRONG_SITE, "keyid must be customer:<site_id of the SiteKeys>")
    return principal


async def _operator_registration(request: Request) -> Principal:
    """Operator registration: the request is signed with the registered operator key."""
    signed = await _body_statement(request, "registration")
    if signed is None:
        return await authenticate(request)
    claimed = signed.unverified_statement
    if not isinstance(claimed, OperatorRegistration):
        raise ApiError(Reason.OPERATOR_INVALID, "registration is not an OperatorRegistration")
    principal = await authenticate(request, key_override=claimed.operator_key)
    if principal.kind != "operator" or principal.operator_id != claimed.operator_id:
        raise ApiError(
            Reason.WRONG_PRINCIPAL, "keyid must be operator:<operator_id of the registration>"
        )
    return principal


SignedPrincipal = Annotated[Principal, Depends(_signed)]


def same_site(site_id: str, principal: SignedPrincipal) -> None:
    """Tenant isolation before anything else of the request is looked at (even its body):
    every ``/v1/sites/{site_id}/...`` route depends on this."""
    if principal.kind == "operator":
        raise ApiError(Reason.WRONG_PRINCIPAL, "operators have no access to site resources here")
    if principal.site_id != site_id:
        raise ApiError(Reason.WRONG_SITE, "this key belongs to another site")


SameSite = Depends(same_site)
SiteCreator = Annotated[Principal, Depends(_site_creation)]
OperatorRegistrant = Annotated[Principal, Depends(_operator_registration)]
