"""Regenerate every test-vector file: runs tests/vectors/gen_*.py in order.

Generators are deterministic (fixed keys, nonces and randomness passed to the private
``*_from_parts`` functions), so a second run rewrites identical files; `git diff` after
`make vectors` shows any change a code edit made to the format.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    generators = sorted((ROOT / "tests" / "vectors").glob("gen_*.py"))
    if not generators:
        print("no generators found under tests/vectors/", file=sys.stderr)
        return 1
    for gen in generators:
        print(f"running {gen.relative_to(ROOT)}")
        runpy.run_path(str(gen), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
