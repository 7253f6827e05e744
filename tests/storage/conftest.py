"""The storage service as a real uvicorn process, on PostgreSQL + MinIO and on the embedded
defaults (SQLite + local directory, presigned URLs served by the API itself)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.storage.support import Service, make_service
from tests.support.services import MinioServer, PostgresServer


def _start(request: pytest.FixtureRequest, kind: str, **extra: str) -> Iterator[Service]:
    workdir = request.getfixturevalue("tmp_path_factory").mktemp(f"svc-{kind}")
    if kind == "pg_minio":
        minio: MinioServer = request.getfixturevalue("minio")
        pg: PostgresServer = request.getfixturevalue("postgres")
        tag = uuid.uuid4().hex[:10]
        svc = make_service(
            workdir, pg.create_database(f"st_{tag}"), minio.settings_env(f"st-{tag}"), **extra
        )
    else:
        svc = make_service(workdir, None, None, **extra)
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="module", params=["embedded", "pg_minio"])
def service(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from _start(request, request.param)


@pytest.fixture(scope="module")
def embedded(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from _start(request, "embedded")


@pytest.fixture(scope="module")
def pg_minio(request: pytest.FixtureRequest) -> Iterator[Service]:
    yield from _start(request, "pg_minio")
