"""Security review: a signed request is bound to the service it was signed for.

``@authority`` (RFC 9421 section 2.2.3) is covered by every signature, but it is only worth
something if the service compares it with its own public authority: otherwise a request
captured at one camvault deployment (say staging, where the same customer key is enrolled)
could be replayed to another. Each test sends a correctly signed request whose covered
authority is not the service's and expects 401 ``wrong_authority`` with nothing stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from common.http import SignedClient
from crypto.age.x25519 import X25519Identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import CustodianKey
from crypto.siteid import site_id_for
from storage_service.core.errors import STATUS, Reason
from tests.storage.support import (
    CustomerSite,
    Service,
    create_site,
    make_service,
    site_keys_statement,
    snapshot,
)


def _service(
    request: pytest.FixtureRequest, drop_public_url: bool = False, **extra: str
) -> Iterator[Service]:
    workdir = request.getfixturevalue("tmp_path_factory").mktemp("svc-authority")
    svc = make_service(workdir, None, None, **extra)
    if drop_public_url:
        del svc.env["CAMVAULT_PUBLIC_URL"]
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    """public_url = http://127.0.0.1:<port>, as every storage test service."""
    yield from _service(request)


@pytest.fixture(scope="module")
def behind_proxy(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from _service(request, CAMVAULT_PUBLIC_URL="https://Vault.Example")


@pytest.fixture(scope="module")
def explicit(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from _service(request, CAMVAULT_PUBLIC_AUTHORITY="api.vault.example:8443")


@pytest.fixture(scope="module")
def unconfigured(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from _service(request, drop_public_url=True)


def _send_signed_for(
    svc: Service,
    authority_url: str,
    keyid: str,
    key: Ed25519SigningKey,
    method: str,
    path: str,
    **kwargs: Any,
) -> httpx.Response:
    """Sign a request as a client of ``authority_url`` would, then deliver it to ``svc``
    unchanged (Host header and all): what an attacker replaying a captured request does."""
    client = SignedClient(authority_url, keyid, key)
    try:
        req = client.build(method, path, **kwargs)
    finally:
        client.close()
    req.url = httpx.URL(svc.url + req.url.raw_path.decode("ascii"))
    with httpx.Client() as http:
        return http.send(req)


def _new_site_request(svc: Service, authority_url: str) -> httpx.Response:
    key = Ed25519SigningKey.generate()
    sid = site_id_for(key.public_key, f"site-{uuid.uuid4().hex[:10]}")
    statement = site_keys_statement(
        sid, key, X25519Identity.generate(), [CustodianKey.generate() for _ in range(3)]
    )
    return _send_signed_for(
        svc,
        authority_url,
        f"customer:{sid}",
        key,
        "POST",
        "/v1/sites",
        json={"site_keys": statement.to_json()},
    )


def _wrong_authority(r: httpx.Response, signed_for: str) -> None:
    assert r.status_code == 401, r.text
    error = r.json()["error"]
    assert error["code"] == "wrong_authority"
    assert signed_for in error["message"]


def test_reason_code_is_401() -> None:
    assert STATUS[Reason.WRONG_AUTHORITY] == 401


@pytest.fixture
def site(svc: Service) -> Iterator[CustomerSite]:
    s = create_site(svc.url)
    yield s
    s.close()


def test_request_signed_for_another_service_is_refused(svc: Service, site: CustomerSite) -> None:
    path = f"/v1/sites/{site.site_id}/retention"
    before = snapshot(svc)
    r = _send_signed_for(
        svc,
        "https://staging.vault.example",
        f"customer:{site.site_id}",
        site.key,
        "PUT",
        path,
        json={"retention_days": 3},
    )
    _wrong_authority(r, "staging.vault.example")
    assert snapshot(svc) == before, "a refused request changed what is stored"
    # the same request signed for this service is accepted
    r = _send_signed_for(
        svc, svc.url, f"customer:{site.site_id}", site.key, "PUT", path, json={"retention_days": 3}
    )
    assert r.status_code == 200, r.text


def test_same_host_other_port_is_refused(svc: Service, site: CustomerSite) -> None:
    port = int(svc.url.rsplit(":", 1)[1])
    r = _send_signed_for(
        svc,
        f"http://127.0.0.1:{port + 1}",
        f"customer:{site.site_id}",
        site.key,
        "GET",
        f"/v1/sites/{site.site_id}",
    )
    _wrong_authority(r, f"127.0.0.1:{port + 1}")


def test_site_creation_is_bound_too(svc: Service) -> None:
    _wrong_authority(_new_site_request(svc, "http://other.example"), "other.example")


def test_public_url_gives_the_authority(behind_proxy: Service) -> None:
    """Behind a reverse proxy the service is reached as public_url's host (case-insensitive,
    the scheme's default port optional), not as the address it is bound to."""
    _wrong_authority(_new_site_request(behind_proxy, behind_proxy.url), "127.0.0.1")
    _wrong_authority(_new_site_request(behind_proxy, "https://vault.example:8443"), ":8443")
    assert _new_site_request(behind_proxy, "https://vault.example").status_code == 201
    assert _new_site_request(behind_proxy, "https://VAULT.example:443").status_code == 201


def test_explicit_public_authority(explicit: Service) -> None:
    _wrong_authority(_new_site_request(explicit, explicit.url), "127.0.0.1")
    assert _new_site_request(explicit, "https://api.vault.example:8443").status_code == 201


def test_without_public_url_the_bound_address_is_the_authority(unconfigured: Service) -> None:
    assert "public_url" not in unconfigured.settings.model_fields_set
    assert _new_site_request(unconfigured, unconfigured.url).status_code == 201
    port = unconfigured.url.rsplit(":", 1)[1]
    _wrong_authority(
        _new_site_request(unconfigured, f"http://vault.example:{port}"), "vault.example"
    )
