"""The custodian's cosigning rounds (escrow_service.services.witnessing.Cosigner) against
three real witness processes, quorum 2. A round ends once the quorum's cosignatures verify,
so a witness that stops answering (SIGSTOP: its kernel still accepts the connection, nothing
answers) does not hold up the releases waiting for the round; it is not asked again while
its request is in flight (its size would go out of step), and it cosigns again once it runs.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto.tlog import consistency_proof
from crypto.tlog.cosignature import open_cosigned_checkpoint
from escrow_service.services.witnessing import Cosigner, WitnessConfig
from tests.witness.support import ToyLog, WitnessProc

#: Longer than the whole test: a round that waited for the frozen witness would show.
TIMEOUT_S = 60.0


class ToyStore:
    """A :class:`ToyLog` as the cosigner sees a custodian's log."""

    def __init__(self, toy: ToyLog) -> None:
        self.toy = toy

    def refresh(self) -> int:
        return len(self.toy.leaves)

    def checkpoint(self, size: int | None = None) -> bytes:
        return self.toy.checkpoint(size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(self.toy.leaves, old, new)


@pytest.fixture(scope="module")
def toy() -> ToyLog:
    return ToyLog("camvault.io/custodian/cosigner-test")


@pytest.fixture(scope="module")
def witnesses(toy: ToyLog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[WitnessProc]]:
    workdir: Path = tmp_path_factory.mktemp("cosigner")
    procs = [WitnessProc(f"witness.test/c{i}", workdir, [toy.vkey]) for i in (1, 2, 3)]
    try:
        for w in procs:
            w.start()
        yield procs
    finally:
        for w in procs:
            w.stop()


def _cosigners(toy: ToyLog, note: bytes, configs: list[WitnessConfig]) -> set[str]:
    verifiers = [c.verifier for c in configs]
    opened = open_cosigned_checkpoint(note, [toy.signer.verifier], toy.signer.name, verifiers, 2)
    return set(opened.cosigners)


def _freeze(w: WitnessProc) -> None:
    assert w.proc is not None
    w.proc.send_signal(signal.SIGSTOP)


def _thaw(w: WitnessProc) -> None:
    assert w.proc is not None
    w.proc.send_signal(signal.SIGCONT)


def test_a_frozen_witness_does_not_hold_up_the_round(
    toy: ToyLog, witnesses: list[WitnessProc]
) -> None:
    configs = [WitnessConfig(w.url, w.verifier()) for w in witnesses]
    cosigner = Cosigner(ToyStore(toy), configs, 2, timeout_s=TIMEOUT_S)
    w1, w2, w3 = witnesses
    try:
        toy.add(3)
        first = cosigner.cosigned(3)
        assert first is not None and first[0] == 3
        assert len(_cosigners(toy, first[1], configs)) >= 2

        _freeze(w3)
        try:
            for size in (5, 6, 9):  # every round: w1 and w2; w3 not asked while it hangs
                toy.add(size - len(toy.leaves))
                started = time.monotonic()
                got = cosigner.cosigned(size)
                took = time.monotonic() - started
                assert got is not None and got[0] == size, got
                assert _cosigners(toy, got[1], configs) == {w1.name, w2.name}
                # a round that waited for w3 would end only at its timeout (60 s)
                assert took < TIMEOUT_S / 4, f"round took {took:.1f} s with a frozen witness"
        finally:
            _thaw(w3)

        # w3 answers its old request, then is asked again with a proof from the size it
        # holds; with w1 frozen now, the quorum needs it, and it cosigns the newest size
        _freeze(w1)
        try:
            toy.add(2)
            got = cosigner.cosigned(11)
            assert got is not None and got[0] == 11, got
            assert _cosigners(toy, got[1], configs) == {w2.name, w3.name}
        finally:
            _thaw(w1)
    finally:
        cosigner.close()


def test_a_round_without_the_quorum_gives_nothing_new(
    toy: ToyLog, witnesses: list[WitnessProc]
) -> None:
    """Two of three frozen: the round cannot reach the quorum; the caller gets the older
    cosigned checkpoint only if it covers the size asked, else nothing (never a checkpoint
    with fewer cosignatures than the quorum)."""
    configs = [WitnessConfig(w.url, w.verifier()) for w in witnesses]
    cosigner = Cosigner(ToyStore(toy), configs, 2, timeout_s=2.0)
    w1, w2, _ = witnesses
    try:
        toy.add(1)
        size = len(toy.leaves)
        got = cosigner.cosigned(size)
        assert got is not None and got[0] == size
        _freeze(w1)
        _freeze(w2)
        try:
            toy.add(1)
            assert cosigner.cosigned(size + 1) is None
            older = cosigner.cosigned(size)
            assert older is not None and older[0] == size
        finally:
            _thaw(w1)
            _thaw(w2)
    finally:
        cosigner.close()
