"""Every attacker-facing parser under mutation fuzzing (tests/fuzz/targets.py), time-boxed
for CI: FUZZ_EXAMPLES inputs per target (default 300). `make fuzz` runs them for longer.

A crash is an exception outside the parser's documented error types; the test fails with
the shrunk input, which then goes into tests/fuzz/corpus/<target>/ as a regression case.
"""

from __future__ import annotations

import os

import pytest

from tests.fuzz.engine import exercise, load_corpus
from tests.fuzz.harness import fuzz
from tests.fuzz.targets import TARGETS, target_names

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))


@pytest.mark.parametrize("name", target_names())
def test_corpus_replays_cleanly(name: str) -> None:
    """Every stored input (seeds and past crashes) is accepted or refused with a documented
    error, and at least one seed is accepted: the target reaches past the parser's refusals."""
    target = TARGETS[name]
    corpus = load_corpus(target)
    assert corpus, f"no corpus in {target.corpus_dir}"
    accepted = [exercise(target, data) for data in corpus]
    assert any(accepted), f"{name}: no stored input is accepted, the target tests nothing"


@pytest.mark.parametrize("name", target_names())
def test_mutations_raise_only_documented_errors(name: str) -> None:
    outcome = fuzz(TARGETS[name], EXAMPLES)
    assert not outcome.crashes, "\n".join(str(c) for c in outcome.crashes[:3])
    assert outcome.executions >= EXAMPLES // 2
