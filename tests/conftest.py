"""Session fixtures: the real servers the test suite runs against.

MinIO, PostgreSQL and age are started (or located) by tests/support/services.py. When one is
missing or fails to start, the fixture raises and the tests using it ERROR: CI fails, it never
skips.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.services import MinioServer, PostgresServer, ServiceError, age_binaries


@pytest.fixture(scope="session")
def minio() -> Iterator[MinioServer]:
    """A single-node MinIO shared by the session (use unique bucket names per test)."""
    server = MinioServer()
    try:
        server.start()
    except ServiceError as exc:
        server.close()
        pytest.fail(f"MinIO could not be started: {exc}", pytrace=False)
    yield server
    server.close()


@pytest.fixture
def minio_private() -> Iterator[MinioServer]:
    """A MinIO of this test alone, which the test may stop and restart."""
    server = MinioServer()
    try:
        server.start()
    except ServiceError as exc:
        server.close()
        pytest.fail(f"MinIO could not be started: {exc}", pytrace=False)
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for the session."""
    server = PostgresServer()
    try:
        server.start()
    except ServiceError as exc:
        server.close()
        pytest.fail(f"PostgreSQL could not be started: {exc}", pytrace=False)
    yield server
    server.close()


@pytest.fixture
def postgres_private() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test alone, which the test may kill (``kill()``: SIGKILL of the
    postmaster) and restart on the same data directory (``start()``). Its commits survive
    such a crash; the session ``postgres`` is shared and must never be killed."""
    server = PostgresServer(crash_safe=True)
    try:
        server.start()
    except ServiceError as exc:
        server.close()
        pytest.fail(f"PostgreSQL could not be started: {exc}", pytrace=False)
    yield server
    server.close()


@pytest.fixture(scope="session")
def age_cli() -> tuple[str, str]:
    """Paths of the real `age` and `age-keygen` programs."""
    try:
        return age_binaries()
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
