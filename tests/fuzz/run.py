"""`make fuzz`: every parser target for FUZZ_SECONDS each (default 60), split between the two
engines: hypothesis mutation (batches of fresh random runs) and, half the time, atheris
coverage-guided (tests/fuzz/atheris_run.py, one process per target). Prints executions,
accepted inputs and crashes per target; each crashing input is saved to
tests/fuzz/corpus/<target>/crash-<sha256>; exits 1 if any target crashed.

    FUZZ_SECONDS=300 make fuzz                 # longer
    .venv/bin/python -m tests.fuzz.run note    # one target
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time

from tests.fuzz.engine import save_input
from tests.fuzz.harness import Outcome, fuzz
from tests.fuzz.targets import TARGETS, target_names

BATCH = 2000
HAVE_ATHERIS = importlib.util.find_spec("atheris") is not None


def hypothesis_for(name: str, seconds: float) -> Outcome:
    total = Outcome()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not total.crashes:
        batch = fuzz(TARGETS[name], BATCH, database=False)
        total.executions += batch.executions
        total.accepted += batch.accepted
        total.crashes.extend(batch.crashes)
    return total


def atheris_for(name: str, seconds: int) -> tuple[int, bool, str]:
    """Executions, whether it crashed, and the tail of its output."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.atheris_run", name, str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    out = proc.stdout + proc.stderr
    runs = [int(n) for n in re.findall(r"(?:Done|#)(\d+)\s+(?:runs|\w)", out)]
    return max(runs, default=0), proc.returncode != 0, out[-3000:]


def main(names: list[str]) -> int:
    seconds = float(os.environ.get("FUZZ_SECONDS", "60"))
    share = seconds / 2 if HAVE_ATHERIS else seconds
    if not HAVE_ATHERIS:
        print("atheris is not installed: hypothesis mutation only")
    crashed = 0
    print(f"{'target':<18} {'hypothesis':>10} {'accepted':>8} {'atheris':>9}  crashes")
    for name in names or target_names():
        outcome = hypothesis_for(name, share)
        saved = [save_input(TARGETS[name], c.data, "crash") for c in outcome.crashes[:1]]
        a_runs, a_crashed, a_out = atheris_for(name, int(share)) if HAVE_ATHERIS else (0, False, "")
        crashes = len(saved) + a_crashed
        crashed += bool(crashes)
        counts = f"{outcome.executions:>10} {outcome.accepted:>8} {a_runs:>9}"
        print(f"{name:<18} {counts}  {crashes}", flush=True)
        for path in saved:
            print(f"    hypothesis: {outcome.crashes[0]}\n    saved {path}")
        if a_crashed:
            tail = "\n".join("      " + line for line in a_out.splitlines()[-25:])
            print(f"    atheris:\n{tail}")
    print(f"{crashed} target(s) crashed")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
