"""Schema fuzzing (schemathesis) of both services' OpenAPI documents, against real processes:
the storage service on PostgreSQL + MinIO, one custodian on PostgreSQL.

Every generated request is signed (RFC 9421) by the principal of its operation (one in five
by another principal), and its path ids are mostly real ones (a site, camera, panel,
recording, alarm that exist), so requests reach the handlers rather than stopping at the
signature check. Cases come from the schemas' examples and from positive and negative
generation. Checks: no 5xx; every status is documented for the operation; the body and
content type match what the schema documents for that status.

CI: FUZZ_SCHEMA_EXAMPLES per operation and mode (default 3); `make fuzz` runs more, with the
coverage phase (FUZZ_SCHEMA_PHASES).
The run ends with the tally (cases, 5xx, statuses per service), printed and asserted.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from clients.api.escrow import CustodianEndpoint
from crypto.ed25519 import Ed25519SigningKey
from crypto.escrow import CustodianKey
from tests.escrow.harness import Cluster, CustodianProc, Site, register_operator
from tests.fuzz.schema_support import TALLY, SignedAuth, World
from tests.storage.support import Service, create_site, make_service
from tests.storage.support_arc import ARC_ENV, enroll_panel, operator
from tests.support.services import MinioServer, PostgresServer

EXAMPLES = int(os.environ.get("FUZZ_SCHEMA_EXAMPLES", "3"))
# `make fuzz` adds schemathesis' coverage phase (boundary and type-violating values per field).
PHASES = os.environ.get("FUZZ_SCHEMA_PHASES", "examples,fuzzing").split(",")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Generated load must meet the handlers, not the per-address limit of unauthenticated routes.
NO_RATE_LIMIT = "1000000"


def _configure(schema: Any) -> Any:
    schema.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        max_examples=EXAMPLES,
    )
    schema.config.phases.update(phases=PHASES)
    return schema


# --- the storage service ----------------------------------------------------------------------


def _storage_principal(method: str, path: str) -> str:
    """Who calls an operation of the storage service (docs/API.md)."""
    if path.startswith(("/v1/alarms", "/v1/consent", "/v1/operators")) or "/arc/" in path:
        return "operator"
    if path == "/v1/sites/{site_id}/consent-requests" and method == "POST":
        return "operator"
    if path.endswith(("/uploads", "/commit", "/smart-alerts", "/telemetry", "/alarm-state")):
        return "camera"
    if path.endswith("/chain-head") and method == "POST":
        return "camera"
    if path.startswith("/v1/sites/{site_id}/alarms") and method == "POST":
        return "panel"
    return "customer"


@pytest.fixture(scope="module")
def storage(
    minio: MinioServer, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, dict[str, World]]]:
    tag = uuid.uuid4().hex[:10]
    service = make_service(
        tmp_path_factory.mktemp("fuzz-storage"),
        postgres.create_database(f"fz_{tag}"),
        minio.settings_env(f"fz-{tag}"),
        **ARC_ENV,
        CAMVAULT_RATE_LIMIT_PER_S=NO_RATE_LIMIT,
        CAMVAULT_RATE_LIMIT_BURST=NO_RATE_LIMIT,
    ).start()
    try:
        worlds = {"main": _storage_world(service), "victim": _storage_world(service)}
        yield service, worlds
    finally:
        service.stop()


def _storage_world(service: Service) -> World:
    """A site with a camera that has uploaded a recording, a panel that raised an alarm, and
    an operator."""
    site = create_site(service.url)
    camera = site.enroll_camera()
    recording = camera.record(b"fuzz " * 100)
    assert camera.upload(recording).status_code == 201
    panel = enroll_panel(site)
    alarm = panel.raise_alarm()
    op = operator(service)
    return World(
        principals={
            "customer": SignedAuth(site.client.keyid, site.key),
            "camera": SignedAuth(camera.client.keyid, camera.key),
            "panel": SignedAuth(panel.client.keyid, panel.key),
            "operator": SignedAuth(op.keyid, op.key),
        },
        ids={
            "site_id": [site.site_id],
            "camera_id": [camera.camera_id],
            "device_id": [camera.camera_id, panel.panel_id],
            "recording_id": [recording.recording_id],
            "alarm_id": [str(alarm["alarm_id"])],
        },
    )


#: Server-sent event streams (docs/API.md): open until the client leaves, so read for 5 s.
STREAMS = {"/v1/alarms/{alarm_id}/feed", "/v1/sites/{site_id}/inbox/stream"}

#: Operations that end a site or a device: they get a site of their own (the "victim"), so
#: the other operations keep reaching a live site.
DESTRUCTIVE = {
    ("DELETE", "/v1/sites/{site_id}"),
    ("DELETE", "/v1/sites/{site_id}/devices/{device_id}"),
}


@pytest.fixture(scope="module")
def storage_schema(storage: tuple[Service, dict[str, World]]) -> Any:
    service, _ = storage
    return _configure(schemathesis.openapi.from_url(service.url + "/openapi.json"))


storage_api = schemathesis.pytest.from_fixture("storage_schema")


@storage_api.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_storage_api(case: Any, storage: tuple[Service, dict[str, World]]) -> None:
    _, worlds = storage
    world = worlds["victim" if (case.method, case.path) in DESTRUCTIVE else "main"]
    world.fill_path(case.path_parameters or {})
    auth = world.auth_for(_storage_principal(case.method, case.path))
    # schemathesis reads an event stream until the timeout, then checks what it got.
    response = case.call(auth=auth, timeout=5 if case.path in STREAMS else 30)
    TALLY.add("storage", response)
    case.validate_response(response, checks=CHECKS)


# --- a custodian ------------------------------------------------------------------------------


def _custodian_principal(path: str) -> str:
    return "operator" if path.startswith("/v1/releases") else "customer"


@pytest.fixture(scope="module")
def custodian(postgres: PostgresServer) -> Iterator[tuple[CustodianProc, World]]:
    arc = Ed25519SigningKey.generate()
    workdir = Path(tempfile.mkdtemp(prefix="camvault-fuzz-escrow-"))
    proc = CustodianProc(
        "c1",
        workdir,
        postgres.create_database(f"fz_escrow_{uuid.uuid4().hex[:8]}"),
        {
            "CAMVAULT_ESCROW_ARC_PUBLIC_KEY": arc.public_key.to_text(),
            "CAMVAULT_ESCROW_RATE_LIMIT_PER_S": NO_RATE_LIMIT,
            "CAMVAULT_ESCROW_RATE_LIMIT_BURST": NO_RATE_LIMIT,
        },
    )
    proc.start()
    try:
        cluster = _one_of_three(proc, arc)
        site = Site("site-fuzz")
        site.enroll(cluster)
        op_key = register_operator(cluster, "op-fuzz")
        world = World(
            principals={
                "customer": SignedAuth(f"customer:{site.site_id}", site.customer_key),
                "operator": SignedAuth("operator:op-fuzz", op_key),
            },
            ids={"site_id": [site.site_id]},
        )
        yield proc, world
    finally:
        proc.stop()


def _one_of_three(proc: CustodianProc, arc: Ed25519SigningKey) -> Cluster:
    """A cluster whose site keys name three custodians (t = 2) of which only ``proc`` runs:
    the fuzzing needs one real custodian, the site keys a valid set."""
    cluster = Cluster("postgres", [proc], arc)
    others = [
        CustodianEndpoint(
            custodian_id=f"c{i}",
            url=f"http://127.0.0.1:{9 + i}",
            escrow_key=CustodianKey.generate().public_key(),
            log_key=Ed25519SigningKey.generate().public_key,
        )
        for i in (2, 3)
    ]
    real = proc.endpoint()
    cluster.endpoints = lambda: [real, *others]  # type: ignore[method-assign]
    return cluster


@pytest.fixture(scope="module")
def custodian_schema(custodian: tuple[CustodianProc, World]) -> Any:
    proc, _ = custodian
    return _configure(schemathesis.openapi.from_url(proc.url + "/openapi.json"))


custodian_api = schemathesis.pytest.from_fixture("custodian_schema")


@custodian_api.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_custodian_api(case: Any, custodian: tuple[CustodianProc, World]) -> None:
    _, world = custodian
    world.fill_path(case.path_parameters or {})
    auth = world.auth_for(_custodian_principal(case.path))
    response = case.call(auth=auth, timeout=30)
    TALLY.add("custodian", response)
    case.validate_response(response, checks=CHECKS)


def test_zz_tally(
    storage: tuple[Service, dict[str, World]], custodian: tuple[CustodianProc, World]
) -> None:
    """Runs after the two fuzz tests (file order): both services were fuzzed, no 5xx, and
    both are still healthy."""
    print("\nschema fuzzing:\n" + TALLY.render())
    for name in ("storage", "custodian"):
        assert TALLY.cases[name] > 0, f"no {name} case ran"
        assert TALLY.server_errors(name) == 0
    assert httpx.get(storage[0].url + "/readyz", timeout=10).status_code == 200
    assert httpx.get(custodian[0].url + "/healthz", timeout=10).status_code == 200
