"""Profile one benchmark row (issue 17, goal 6): ``python -m bench.profile ROW``.

Rows (the paths ``make bench`` times, docs/PERFORMANCE.md):

* ``cli-encrypt`` / ``cli-decrypt``: ``camvault encrypt -r R -o OUT IN`` / ``camvault decrypt
  -i KEY -o OUT IN`` on a random file in tmpfs (``--size-mib``, default 512), X25519
  recipient, under ``py-spy record`` (a sampling profiler, installed by ``make venv``: the
  project's dev dependencies). Process start is included, as in the bench row.
* ``lib-encrypt`` / ``lib-decrypt``: ``crypto.age.encrypt`` / ``decrypt`` file to file in a
  child Python process, the same way, without the CLI.
* ``cli-startup``: ``python -X importtime`` of ``camvault encrypt`` of a 1-byte file, ``--runs``
  times (default 15); the median self and cumulative import time of every module (a sampling
  profiler sees too few samples in ~0.1 s; the import report is exact).

Output in ``bench/results/profiles/`` (``--out``): ``ROW-STAMP.folded``, the collapsed stacks
(one line per stack, sample count last: open it in https://www.speedscope.app or
``flamegraph.pl``), and ``ROW-STAMP.txt``, the functions with the most samples, own (the
frame on top of the stack) and inclusive (anywhere on the stack), per thread group. Work
the GIL-free C code does (OpenSSL's ChaCha20-Poly1305, the kernel's copies) is charged to the
Python line that called it; ``--native`` shows the C frames too (slower to sample).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.common import MIB, REPO, workdir

OUT = REPO / "bench" / "results" / "profiles"
BIN = Path(sys.executable).parent
ROWS = ("cli-encrypt", "cli-decrypt", "lib-encrypt", "lib-decrypt", "cli-startup")
_LIB = (
    "import sys\nfrom crypto import age\n"
    "op, key, src, dst = sys.argv[1:]\n"
    "with open(src, 'rb') as i, open(dst, 'wb') as o:\n"
    "    if op == 'encrypt':\n"
    "        age.encrypt([age.parse_recipient(key)], i, o)\n"
    "    else:\n"
    "        age.decrypt(age.parse_identity_file(open(key).read()), i, o)\n"
)


def _prepare(work: Path, size: int) -> tuple[Path, str, Path, Path]:
    """A random plaintext, an identity, its recipient and an age file of the plaintext."""
    plain, key, sealed = work / "plain.bin", work / "key.txt", work / "plain.age"
    with plain.open("wb") as f:
        for done in range(0, size, 8 * MIB):
            f.write(os.urandom(min(8 * MIB, size - done)))
    subprocess.run([str(BIN / "camvault"), "keygen", "-o", str(key)], check=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True
    ).stdout.strip()
    subprocess.run(["age", "-r", recipient, "-o", str(sealed), str(plain)], check=True)
    return key, recipient, plain, sealed


def command(row: str, work: Path, size: int) -> list[str]:
    """The command line the row runs (its files prepared in ``work``)."""
    key, recipient, plain, sealed = _prepare(work, size)
    out = str(work / "out")
    op = row.split("-", 1)[1]
    source = plain if op == "encrypt" else sealed
    if row.startswith("cli-"):
        args = ["-r", recipient] if op == "encrypt" else ["-i", str(key)]
        return [str(BIN / "camvault"), op, *args, "-o", out, str(source)]
    credential = recipient if op == "encrypt" else str(key)
    return [sys.executable, "-c", _LIB, op, credential, str(source), out]


def record(argv: Sequence[str], folded: Path, rate: int, native: bool) -> None:
    """``py-spy record`` of ``argv`` (all threads, by thread) into collapsed stacks."""
    spy = [str(BIN / "py-spy"), "record", "--rate", str(rate), "--threads", "--format", "raw"]
    # py-spy pauses the process for each sample: without that (--nonblocking) it read torn
    # stacks here (a fifth of the samples cut short under load), and it cannot unwind C frames
    spy += ["--output", str(folded)] + (["--native"] if native else [])
    if subprocess.run([*spy, "--", *argv], cwd=REPO).returncode != 0:
        sys.exit(f"bench.profile: py-spy failed on {argv[0]} (see its message above)")


_LINE = re.compile(r" \(([^():]*):\d+\)$")


def summarize(folded: Path, top: int = 25) -> str:
    """Own and inclusive samples per function (file:function, line numbers merged)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        names = [_LINE.sub(r" (\1)", frame) for frame in frames[1:]] or ["(no frame)"]
        n = int(count)
        total += n
        main = "MainThread" in frames[0] or (frames[1:2] != [] and frames[1].startswith("<module>"))
        threads["main thread" if main else "other threads"] += n
        own[names[-1]] += n
        for name in set(names):
            inclusive[name] += n
    lines = [f"{total} samples; " + ", ".join(f"{t}: {c}" for t, c in threads.items()), ""]
    for title, counter in (("own (top of stack)", own), ("inclusive", inclusive)):
        lines.append(f"{'samples':>8} {'share':>6}  {title}")
        for name, n in counter.most_common(top):
            lines.append(f"{n:8d} {100 * n / max(total, 1):5.1f}%  {name}")
        lines.append("")
    return "\n".join(lines)


def import_times(argv: Sequence[str], runs: int) -> str:
    """Median ``-X importtime`` self / cumulative ms per module over ``runs`` runs."""
    selfs: dict[str, list[int]] = collections.defaultdict(list)
    cumulative: dict[str, list[int]] = collections.defaultdict(list)
    depth: dict[str, int] = {}
    for _ in range(runs):
        err = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True)
        for line in err.stderr.decode().splitlines():
            parts = line.removeprefix("import time:").split("|")
            if len(parts) != 3 or not parts[0].strip().isdigit():
                continue
            name = parts[2].rstrip()
            module = name.strip()
            depth.setdefault(module, (len(name) - len(name.lstrip()) - 1) // 2)
            selfs[module].append(int(parts[0]))
            cumulative[module].append(int(parts[1]))
    lines = [f"median of {runs} runs of {' '.join(argv)}", "", "  self ms  cumul ms  module"]
    for module, level in depth.items():
        cum = statistics.median(cumulative[module]) / 1000
        if cum >= 0.3:
            own = statistics.median(selfs[module]) / 1000
            lines.append(f"{own:9.2f} {cum:9.2f}  {'  ' * level}{module}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("row", choices=ROWS)
    parser.add_argument("--size-mib", type=int, default=512, help="input size (512)")
    parser.add_argument("--rate", type=int, default=250, help="samples per second (250)")
    parser.add_argument("--native", action="store_true", help="sample C frames too")
    parser.add_argument("--runs", type=int, default=15, help="cli-startup: runs (15)")
    parser.add_argument("--out", type=Path, default=OUT, help="output directory")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{args.row}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    with workdir("camvault-profile-") as work:
        if args.row == "cli-startup":
            argv_ = command("cli-encrypt", work, 1)
            report = import_times(argv_, args.runs)
        else:
            argv_ = command(args.row, work, args.size_mib * MIB)
            folded = stem.with_suffix(".folded")
            record(argv_, folded, args.rate, args.native)
            report = f"py-spy record of {' '.join(argv_)}\n\n" + summarize(folded)
    stem.with_suffix(".txt").write_text(report)
    print(report)
    print(f"wrote {stem}.txt" + ("" if args.row == "cli-startup" else f" and {stem}.folded"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
