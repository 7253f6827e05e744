"""Writes each target's seed inputs into tests/fuzz/corpus/<target>/seed-<sha256>.

Run once when a target is added (``.venv/bin/python -m tests.fuzz.corpus_seed``); the corpus
is committed. Seeds use random nonces and ephemeral keys, so a rerun adds files rather than
reproducing the same ones; crash-* files are never touched.
"""

from __future__ import annotations

import sys

from tests.fuzz.engine import save_input
from tests.fuzz.targets import TARGETS


def main(names: list[str]) -> None:
    for name in names or sorted(TARGETS):
        target = TARGETS[name]
        if target.corpus_dir.is_dir() and any(target.corpus_dir.glob("seed-*")):
            continue
        for data in target.seeds():
            save_input(target, data, "seed")
        print(f"{name}: {len(list(target.corpus_dir.glob('seed-*')))} seeds")


if __name__ == "__main__":
    main(sys.argv[1:])
