"""CORS of a custodian (``CAMVAULT_ESCROW_CORS_ORIGINS``) for the web app, which the storage
service serves from another origin: preflights from a listed origin answered with exactly the
methods and headers the app uses, nothing for any other origin, no CORS header at all without
the setting, and authentication untouched (a signed request with an Origin still verifies as
from the CLI, an unsigned one is still refused). A bad value stops the start with one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from escrow_service.core.settings import EscrowSettings
from tests.escrow.conftest import make_cluster
from tests.escrow.harness import Cluster, CustodianProc, Site
from tests.storage.support import CAMVAULT

APP = "http://127.0.0.1:8443"  # the storage service's origin, which serves the web app
OTHER = "https://evil.example"
SENT_HEADERS = "content-type,content-digest,signature,signature-input,idempotency-key"


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Cluster:
    # Also a second listed origin, with a default port and upper case: stored normalized.
    origins = f"{APP}, HTTPS://App.Example.com:443"
    return make_cluster("sqlite", request, {"CAMVAULT_ESCROW_CORS_ORIGINS": origins})


@pytest.fixture(scope="module")
def site(cluster: Cluster) -> Site:
    s = Site("cors")
    s.enroll(cluster)
    return s


@pytest.fixture(scope="module")
def plain() -> Iterator[CustodianProc]:
    """A custodian without the setting."""
    work = Path(tempfile.mkdtemp(prefix="camvault-escrow-"))
    proc = CustodianProc("c1", work, f"sqlite:///{work / 'c1' / 'escrow.db'}", {})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
        shutil.rmtree(work, ignore_errors=True)


def preflight(
    url: str, origin: str, method: str = "POST", headers: str = SENT_HEADERS
) -> httpx.Response:
    return httpx.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
        timeout=10,
    )


def cors_headers(resp: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


@pytest.mark.parametrize("origin", [APP, "https://app.example.com"])
def test_preflight_from_a_listed_origin(cluster: Cluster, origin: str) -> None:
    resp = preflight(cluster.custodians[0].url + "/v1/releases", origin)
    assert resp.status_code == 200, resp.text
    assert resp.headers["access-control-allow-origin"] == origin
    methods = {m.strip() for m in resp.headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "POST"}
    allowed = {h.strip() for h in resp.headers["access-control-allow-headers"].split(",")}
    assert set(SENT_HEADERS.split(",")) <= {h.lower() for h in allowed}
    assert resp.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in resp.headers


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        (OTHER, "POST", SENT_HEADERS),  # another origin
        (APP + ":1", "POST", SENT_HEADERS),  # another port is another origin
        ("https://127.0.0.1:8443", "POST", SENT_HEADERS),  # another scheme too
        (APP, "DELETE", SENT_HEADERS),  # a method the app does not use
        (APP, "POST", "authorization"),  # a header the app does not send
        (APP, "POST", "cookie"),
    ],
)
def test_preflight_refused(cluster: Cluster, origin: str, method: str, headers: str) -> None:
    resp = preflight(cluster.custodians[0].url + "/v1/releases", origin, method, headers)
    assert resp.status_code == 400
    if origin != APP:
        assert "access-control-allow-origin" not in resp.headers


def test_simple_request_from_another_origin_gets_no_allow_origin(cluster: Cluster) -> None:
    url = cluster.custodians[0].url + "/v1/custodian"
    mine = httpx.get(url, headers={"Origin": APP}, timeout=10)
    assert mine.status_code == 200
    assert mine.headers["access-control-allow-origin"] == APP
    assert "access-control-allow-credentials" not in mine.headers
    other = httpx.get(url, headers={"Origin": OTHER}, timeout=10)
    assert other.status_code == 200  # CORS is the browser's to enforce: no header, no read
    assert cors_headers(other) == {}


def test_signed_request_with_an_origin_still_verifies(cluster: Cluster, site: Site) -> None:
    proc = cluster.custodians[1]
    with site.customer_client(proc.url) as client:
        req = client.build("GET", f"/v1/sites/{site.site_id}/notices")
        req.headers["Origin"] = APP
        resp = client.http.send(req)
    assert resp.status_code == 200, resp.text
    assert resp.headers["access-control-allow-origin"] == APP
    assert "notices" in resp.json()


def test_cors_opens_nothing(cluster: Cluster, site: Site) -> None:
    """Unsigned, or signed for another custodian's address: still refused, with the reason
    readable by the page (the allow-origin header is on the refusal)."""
    proc = cluster.custodians[0]
    path = f"/v1/sites/{site.site_id}/notices"
    resp = httpx.get(proc.url + path, headers={"Origin": APP}, timeout=10)
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "bad_request_signature"
    assert resp.headers["access-control-allow-origin"] == APP
    # signed for custodian c2 (its @authority, its Host), replayed to c1 with a listed Origin
    with site.customer_client(cluster.custodians[1].url) as client:
        req = client.build("GET", path)
    headers = {**req.headers, "Origin": APP}
    assert headers["host"] != proc.url.removeprefix("http://")
    with httpx.Client() as http:
        resp = http.send(httpx.Request("GET", proc.url + path, headers=headers))
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "wrong_authority"


def test_no_setting_no_cors_headers(plain: CustodianProc) -> None:
    resp = preflight(plain.url + "/v1/releases", APP)
    assert resp.status_code == 405
    assert cors_headers(resp) == {}
    resp = httpx.get(plain.url + "/v1/custodian", headers={"Origin": APP}, timeout=10)
    assert resp.status_code == 200
    assert cors_headers(resp) == {}


def test_settings_normalize() -> None:
    s = EscrowSettings(cors_origins=" https://A.example:443 ,http://b.example:8080,,")
    assert s.cors_origin_list == ["https://a.example", "http://b.example:8080"]
    assert EscrowSettings().cors_origin_list == []


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("https://app.example.com/", "no path"),
        ("https://app.example.com/app", "no path"),
        ("app.example.com", "not an http(s) origin"),
        ("ftp://app.example.com", "not an http(s) origin"),
        ("*", "'*' is not allowed"),
        ("https://app.example.com,null", "not an http(s) origin"),
        ("https://user@app.example.com", "no path, query, user"),
        ("https://app.example.com:99999", "not an origin"),
        ("https://app.example.com https://evil.example", "not an origin"),  # one per comma
        ("https://app.example.com\r\nx-evil: 1", "not an origin"),
    ],
)
def test_bad_setting_stops_the_start_with_one_line(tmp_path: Path, value: str, why: str) -> None:
    proc = subprocess.run(
        [str(CAMVAULT), "serve", "escrow", "--id", "c1", "--port", "1"],
        env={**os.environ, "CAMVAULT_ESCROW_CORS_ORIGINS": value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("camvault: error: CAMVAULT_ESCROW_CORS_ORIGINS: "), proc.stderr
    assert why in proc.stderr
    assert proc.stderr.count("\n") <= 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "camvault-data").exists()  # stopped before anything was made


@pytest.mark.parametrize(
    ("module", "setting", "value"),
    [
        ("escrow_service", "CAMVAULT_ESCROW_WITNESS_QUORUM", "abc"),
        ("escrow_service", "CAMVAULT_ESCROW_CORS_ORIGINS", "*"),
        ("witness_service", "CAMVAULT_WITNESS_DATABASE_URL", "nope://"),
    ],
)
def test_python_m_entry_points_say_a_bad_setting_in_one_line(
    tmp_path: Path, module: str, setting: str, value: str
) -> None:
    """``python -m escrow_service`` / ``witness_service`` (what a container runs) stop on a
    bad setting as ``camvault serve`` does: one line naming it, exit 2, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", module, "--port", "1"],
        env={**os.environ, setting: value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"camvault: error: {setting}: "), proc.stderr
    assert proc.stderr.count("\n") <= 1 and "Traceback" not in proc.stderr
