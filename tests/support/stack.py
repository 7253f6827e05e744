"""The whole system as a deployment runs it, for the attack, load and crash suites: the
storage service on PostgreSQL + MinIO and three custodians (t = 2), each on its own
PostgreSQL database, all real processes. `stack` is shared by the tests of a module; each
test makes its own customer (site) with `setup_customer`."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.customer_world import World, running_world
from tests.support.services import MinioServer, PostgresServer


@pytest.fixture(scope="module")
def stack(minio: MinioServer, postgres: PostgresServer) -> Iterator[World]:
    workdir = Path(tempfile.mkdtemp(prefix="camvault-stack-"))
    try:
        with running_world(workdir, postgres=postgres, minio=minio) as world:
            yield world
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
