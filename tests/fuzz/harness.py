"""Runs one target under hypothesis: the CI test and `make fuzz` share this loop.

:func:`fuzz` draws :func:`~tests.fuzz.engine.mutated` inputs from the target's corpus for
``examples`` runs and returns how many executions ran and which inputs crashed (each crash is
kept, smallest first, so `make fuzz` can save it as a regression case).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.engine import CrashError, Target, exercise, load_corpus, mutated


@dataclass
class Outcome:
    executions: int = 0
    accepted: int = 0
    crashes: list[CrashError] = field(default_factory=list)


def fuzz(target: Target, examples: int, *, shrink: bool = True, database: bool = True) -> Outcome:
    """Run ``examples`` mutated inputs through ``target``; a crash ends the run (hypothesis
    then shrinks it) and is returned, never raised."""
    outcome = Outcome()
    corpus = load_corpus(target)
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])

    # Without the example database each call is a fresh random run, not a replay.
    no_database: dict[str, Any] = {} if database else {"database": None}

    @settings(
        max_examples=examples,
        deadline=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        **no_database,
    )
    @given(mutated(corpus))
    def run(data: bytes) -> None:
        outcome.executions += 1
        try:
            outcome.accepted += exercise(target, data)
        except CrashError as crash:
            outcome.crashes.append(crash)
            raise

    try:
        run()
    except CrashError:
        pass
    except BaseExceptionGroup as group:  # several distinct crashes at once
        if not group.subgroup(CrashError):
            raise
    outcome.crashes.sort(key=lambda c: len(c.data))
    return outcome
