"""Three real custodian processes (t = 2) per backend: SQLite files and PostgreSQL databases."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crypto.ed25519 import Ed25519SigningKey
from tests.escrow.harness import Cluster, CustodianProc
from tests.support.services import PostgresServer

_counter = itertools.count()


def make_cluster(
    backend: str, request: pytest.FixtureRequest, env: dict[str, str] | None = None
) -> Cluster:
    workdir = Path(tempfile.mkdtemp(prefix="camvault-escrow-"))
    arc = Ed25519SigningKey.generate()
    n = next(_counter)
    custodians = []
    for i in (1, 2, 3):
        cid = f"c{i}"
        if backend == "postgres":
            pg: PostgresServer = request.getfixturevalue("postgres")
            url = pg.create_database(f"escrow_{n}_{cid}")
        else:
            url = f"sqlite:///{workdir / cid / 'escrow.db'}"
        extra = {"CAMVAULT_ESCROW_ARC_PUBLIC_KEY": arc.public_key.to_text(), **(env or {})}
        custodians.append(CustodianProc(cid, workdir, url, extra))
    cluster = Cluster(backend, custodians, arc)
    try:
        for c in custodians:
            c.start()
    except Exception:
        cluster.close()
        raise

    def cleanup() -> None:
        cluster.close()
        shutil.rmtree(workdir, ignore_errors=True)

    request.addfinalizer(cleanup)
    return cluster


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Shared by the tests of a module (each test uses its own site ids)."""
    yield make_cluster(request.param, request)


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_cluster(request: pytest.FixtureRequest) -> Callable[..., Cluster]:
    """A cluster of this test alone (it may stop, restart or tamper with custodians)."""

    def make(env: dict[str, str] | None = None) -> Cluster:
        return make_cluster(request.param, request, env)

    return make
