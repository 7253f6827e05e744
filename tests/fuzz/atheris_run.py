"""Coverage-guided fuzzing of one target with atheris (libFuzzer), for `make fuzz`.

    .venv/bin/python -m tests.fuzz.atheris_run TARGET SECONDS

The crypto/ and common/ modules are instrumented before import, so libFuzzer keeps inputs
that reach new branches (hypothesis mutates blindly). It starts from the committed corpus
(read only: new inputs go to a temporary directory) and ends after SECONDS; a crash (an
exception outside the documented types) is written to tests/fuzz/corpus/<target>/crash-*
and the process exits non-zero. libFuzzer prints the executions ("Done N runs").
"""

from __future__ import annotations

import sys
import tempfile

import atheris

with atheris.instrument_imports(include=["crypto", "common"]):
    from tests.fuzz.engine import CrashError, exercise, save_input
    from tests.fuzz.targets import TARGETS


def main(name: str, seconds: int) -> None:
    target = TARGETS[name]

    def one_input(data: bytes) -> None:
        try:
            exercise(target, data)
        except CrashError:
            print(f"saved {save_input(target, data, 'crash')}", flush=True)
            raise

    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as new_inputs:
        args = [
            sys.argv[0],
            f"-max_total_time={seconds}",
            "-max_len=70000",  # the STREAM seeds hold a full 64 KiB chunk
            "-rss_limit_mb=2048",
            f"-artifact_prefix={new_inputs}/",
            new_inputs,
            str(target.corpus_dir),
        ]
        atheris.Setup(args, one_input)
        atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
