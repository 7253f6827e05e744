"""`make fuzz`: every parser target for FUZZ_SECONDS each (default 60), in batches of fresh
random hypothesis runs; prints executions, accepted inputs and crashes per target, saves each
crashing input to tests/fuzz/corpus/<target>/crash-<sha256> and exits 1 if any crashed.

    FUZZ_SECONDS=300 make fuzz                 # longer
    .venv/bin/python -m tests.fuzz.run note    # one target
"""

from __future__ import annotations

import os
import sys
import time

from tests.fuzz.engine import save_input
from tests.fuzz.harness import Outcome, fuzz
from tests.fuzz.targets import TARGETS, target_names

BATCH = 2000


def fuzz_for(name: str, seconds: float) -> Outcome:
    total = Outcome()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not total.crashes:
        batch = fuzz(TARGETS[name], BATCH, database=False)
        total.executions += batch.executions
        total.accepted += batch.accepted
        total.crashes.extend(batch.crashes)
    return total


def main(names: list[str]) -> int:
    seconds = float(os.environ.get("FUZZ_SECONDS", "60"))
    crashed = 0
    print(f"{'target':<20} {'executions':>10} {'accepted':>9} {'exec/s':>7}  crashes")
    for name in names or target_names():
        start = time.monotonic()
        outcome = fuzz_for(name, seconds)
        rate = outcome.executions / max(time.monotonic() - start, 1e-9)
        saved = [save_input(TARGETS[name], c.data, "crash") for c in outcome.crashes[:1]]
        crashed += bool(saved)
        counts = f"{outcome.executions:>10} {outcome.accepted:>9} {rate:>7.0f}"
        print(f"{name:<20} {counts}  {len(saved)}")
        for path in saved:
            print(f"    {outcome.crashes[0]}\n    saved {path}")
    print(f"{crashed} target(s) crashed")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
