"""kill -9 at random points of upload / commit / release / delete / sweep cycles, then fsck
and a check that nothing acknowledged was lost (tests/reliability/crash_support.py).

The seed is printed; ``CRASH_SEED=<seed>`` replays a run, ``CRASH_ITERATIONS`` sets its
length (CI: a handful; ``make crash``: the full campaign). The system runs on a PostgreSQL
and a MinIO of each test alone (``postgres_private``, ``minio_private``): they are killed too.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.customer_world import World, running_world, setup_customer, setup_operator
from tests.reliability.crash_support import Campaign, seed_from_env
from tests.support.services import MinioServer, PostgresServer

ITERATIONS = int(os.environ.get("CRASH_ITERATIONS", "8"))


@pytest.fixture
def world(
    tmp_path: Path, postgres_private: PostgresServer, minio_private: MinioServer
) -> Iterator[World]:
    with running_world(
        tmp_path / "world",
        postgres=postgres_private,
        minio=minio_private,
        # Uploads left behind by a crash expire (and are swept) within the campaign.
        CAMVAULT_UPLOAD_EXPIRY_S="20",
    ) as w:
        yield w


def _campaign(
    world: World,
    tmp_path: Path,
    pg: PostgresServer,
    minio: MinioServer,
    victims: tuple[str, ...],
    iterations: int,
) -> None:
    seed = seed_from_env()
    print(f"\ncrash campaign: CRASH_SEED={seed} iterations={iterations} victims={victims}")
    work = tmp_path / "campaign"
    work.mkdir()
    c = Campaign(
        world,
        pg,
        minio,
        setup_customer(world, tmp_path),
        setup_operator(world, tmp_path),
        random.Random(seed),
        work,
        victims=victims,
    )
    try:
        for n in range(iterations):
            c.iteration(n)
        counts = c.verify()
    except BaseException:
        print("\n".join(c.log))
        print(f"replay with CRASH_SEED={seed}")
        raise
    summary = {
        "seed": seed,
        "iterations": iterations,
        "kills": dict(sorted(c.kills.items())),
        "actions": dict(sorted(c.actions.items())),
        "retried": dict(sorted(c.retried.items())),
        **counts,
    }
    print("crash campaign result: " + json.dumps(summary, sort_keys=True))
    out = os.environ.get("CRASH_REPORT")
    if out:
        with open(out, "a") as fh:
            fh.write(json.dumps(summary, sort_keys=True) + "\n")
    assert counts["inconsistencies"] == 0 and counts["recordings_lost"] == 0
    assert sum(c.kills.values()) == iterations
    assert counts["recordings_acknowledged"] > 0


def test_kill_anything(
    world: World,
    tmp_path: Path,
    postgres_private: PostgresServer,
    minio_private: MinioServer,
) -> None:
    """The storage service, one custodian, PostgreSQL or MinIO, killed at a random point."""
    victims = ("storage", "c1", "c2", "c3", "postgres", "minio")
    _campaign(world, tmp_path, postgres_private, minio_private, victims, ITERATIONS)
