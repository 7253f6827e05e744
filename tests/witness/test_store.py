"""The witness keeps each log's latest cosigned state in memory, and the database stays the
authority: two witness processes sharing one database (two Witness objects on one SQLite
file here) never cosign a fork or a rollback because one of them remembered an old state."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from crypto.tlog.cosignature import CosignatureSigner
from tests.witness.support import ToyLog
from witness_service.store import Store, make_engine
from witness_service.witness import Witness


@pytest.fixture
def pair(tmp_path: Path) -> tuple[ToyLog, Witness, Witness]:
    toy = ToyLog("camvault.io/custodian/store-test")
    signer = CosignatureSigner.generate("witness.test/shared")
    url = f"sqlite:///{tmp_path / 'witness.db'}"

    def witness() -> Witness:
        store = Store(make_engine(url))
        return Witness(signer, {toy.signer.name: [toy.signer.verifier]}, store, lambda: 1_000)

    return toy, witness(), witness()


def test_a_state_moved_by_the_other_process_is_read_again(
    pair: tuple[ToyLog, Witness, Witness],
) -> None:
    toy, a, b = pair
    toy.add(3)
    assert a.add_checkpoint(toy.request(0)).status == 200
    toy.add(2)
    assert b.add_checkpoint(toy.request(3)).status == 200  # b had nothing in memory
    toy.add(2)
    # a remembers 3; the request's old size 5 is what the database holds: cosigned
    assert a.add_checkpoint(toy.request(5)).status == 200
    # and a request from a's remembered size is told the database's size
    toy.add(1)
    answer = b.add_checkpoint(toy.request(3))
    assert (answer.status, answer.body, answer.reason) == (409, b"7\n", "size_conflict")


def test_a_fork_against_a_remembered_state_is_not_cosigned(
    pair: tuple[ToyLog, Witness, Witness],
) -> None:
    """a remembers size 7; b then cosigns size 9. A fork that agrees with the log up to 7 and
    differs after (valid proof from a's remembered root) reaches a: the compare-and-set finds
    9, not 7, and a answers with the size, never a cosignature of the fork."""
    toy, a, b = pair
    toy.add(7)
    assert a.add_checkpoint(toy.request(0)).status == 200
    fork = copy.deepcopy(toy)
    toy.add(2)
    assert b.add_checkpoint(toy.request(7)).status == 200
    fork.add(2, tag="forked ")
    answer = a.add_checkpoint(fork.request(7))
    assert (answer.status, answer.body, answer.reason) == (409, b"9\n", "size_conflict")
    # told the size, the fork is asked from 9: same size, another root, kept as evidence
    answer = a.add_checkpoint(fork.request(9))
    assert (answer.status, answer.reason) == (409, "fork")
    assert [r for r, _, _ in a.store.evidence(toy.signer.name)] == ["fork"]
    # the honest log goes on, at either process
    toy.add(1)
    assert a.add_checkpoint(toy.request(9)).status == 200
