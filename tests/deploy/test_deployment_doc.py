"""docs/DEPLOYMENT.md names only what exists: every `camvault` command and option in it is a
command and option of the CLI, every repository path it names is in the tree, every `make`
target is in the Makefile, and every shell block says how it was checked (`<!-- run:
checkout -->`, `<!-- run: rehearsal -->`, `<!-- run: cluster -->` or `<!-- not run: why -->`
on the line before it).
Each checker is also run on a small document with one wrong reference of its kind, so a
checker that stopped finding anything fails too.

`python -m tests.deploy.test_deployment_doc --rehearse` runs the document's commands again:
the `run: checkout` blocks in a copy of the deployment files, then every `run: rehearsal`
block, in order, as one bash session in a scratch directory (PostgreSQL and MinIO through
scripts/services.sh, the services as processes), then the `run: cluster` blocks as another
(about three minutes in all). Not part of the test suite: it is how the document's commands
were run as written.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "DEPLOYMENT.md"

FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)
MARK = re.compile(r"<!-- (run: checkout|run: rehearsal|run: cluster|not run: [^>]+) -->\n$")
#: a command line segment ends at a pipe, a list operator, a subshell's end or a line's end
SEGMENT_END = re.compile(r"\|\||&&|[|;&)`\n]")
#: `camvault` where a command starts (not inside a path, a URL or a variable's value)
COMMAND = re.compile(r"(?<![\w/%.:-])camvault((?:[ \t]+[a-z][a-z0-9-]*)*)(?![\w/.-])")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
TOP_DIRS = (
    "bench|camvault|clients|common|crypto|deploy|docs|escrow_service|infra|scripts|"
    "storage_service|tests"
)
PATH = re.compile(rf"(?<![\w./-])(?:{TOP_DIRS})/[\w./-]*[\w/]")
TOP_FILES = (
    "docker-compose.yml",
    "docker-compose.witness.yml",
    ".env.example",
    "Dockerfile",
    "Makefile",
)
MAKE = re.compile(r"`make ([a-z][a-z0-9-]*)")


@dataclass(frozen=True)
class Block:
    lang: str
    mark: str | None  # the HTML comment on the line before the fence, if any
    text: str


def blocks(doc: str) -> list[Block]:
    found = []
    for m in FENCE.finditer(doc):
        before = MARK.search(doc, 0, m.start())
        mark = before.group(1) if before and before.end() == m.start() else None
        found.append(Block(m.group(1), mark, m.group(2)))
    return found


def without_todo(doc: str) -> str:
    """The document without the lines the coordinator still has to fill (they may name
    parts not committed yet)."""
    return "\n".join(line for line in doc.splitlines() if "TODO(coordinator)" not in line)


def camvault_commands(doc: str) -> Iterator[tuple[list[str], list[str]]]:
    """(sub-command path, options) of each `camvault ...` in shell blocks and code spans."""
    texts = [b.text.replace("\\\n", " ") for b in blocks(doc) if b.lang == "sh"]
    texts += re.findall(r"`(camvault [^`]+)`", doc)
    for text in texts:
        for m in COMMAND.finditer(text):
            end = SEGMENT_END.search(text, m.end())
            rest = text[m.end() : end.start() if end else len(text)]
            yield m.group(1).split(), OPTION.findall(rest)


def check_commands(doc: str, root: Any) -> list[str]:
    """Problems with the `camvault` commands ``doc`` names, against the click tree ``root``."""
    problems = []
    for words, options in camvault_commands(doc):
        cmd, path = root, ["camvault"]
        for word in words:
            sub = getattr(cmd, "commands", {}).get(word)
            if sub is None:
                break  # an argument (a revision, a recording id), not a command
            cmd, path = sub, [*path, word]
        if hasattr(cmd, "commands") and len(path) == len(words) + 1 and not options:
            continue  # a group named on its own (e.g. "camvault admin")
        if hasattr(cmd, "commands"):
            problems.append(f"{' '.join(['camvault', *words])}: no such command")
            continue
        known = {"--help"} | {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        problems += [f"{' '.join(path)}: no option {o}" for o in options if o not in known]
    return problems


def check_paths(doc: str, repo: Path) -> list[str]:
    named = {m.group(0).rstrip(".") for m in PATH.finditer(doc)}
    named |= {f for f in TOP_FILES if f in doc}
    return [f"{p}: not in the repository" for p in sorted(named) if not (repo / p).exists()]


def check_make_targets(doc: str, makefile: str) -> list[str]:
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))
    return [f"make {t}: no such target" for t in sorted(set(MAKE.findall(doc)) - targets)]


def check_marks(doc: str) -> list[str]:
    return [
        f"shell block without a run mark: {b.text.splitlines()[0]!r}"
        for b in blocks(doc)
        if b.lang == "sh" and b.mark is None
    ]


def cli_root() -> Any:
    import typer

    from camvault.cli import build_app

    return typer.main.get_command(build_app())


# --- the tests ------------------------------------------------------------------------------


def doc_text() -> str:
    return without_todo(DOC.read_text())


def test_every_camvault_command_and_option_exists() -> None:
    assert check_commands(doc_text(), cli_root()) == []


def test_every_repository_path_exists() -> None:
    assert check_paths(doc_text(), REPO) == []


def test_every_make_target_exists() -> None:
    assert check_make_targets(doc_text(), (REPO / "Makefile").read_text()) == []


def test_every_shell_block_says_how_it_was_run() -> None:
    doc = DOC.read_text()
    assert check_marks(doc) == []
    marks = [b.mark for b in blocks(doc) if b.lang == "sh"]
    assert "run: rehearsal" in marks and "run: checkout" in marks


BAD_DOC = """Run `camvault db upgrad` and `camvault admin fsck --jsn`, see docs/NOPE.md,
then `make no-such-target`.

```sh
camvault serve storage --port 1 --no-such-option
```
"""


def test_the_checkers_find_wrong_references() -> None:
    """Each checker, given one wrong reference of its kind, reports exactly that one."""
    assert check_commands(BAD_DOC, cli_root()) == [
        "camvault serve storage: no option --no-such-option",
        "camvault db upgrad: no such command",
        "camvault admin fsck: no option --jsn",
    ]
    assert check_paths(BAD_DOC, REPO) == ["docs/NOPE.md: not in the repository"]
    makefile = (REPO / "Makefile").read_text()
    assert check_make_targets(BAD_DOC, makefile) == ["make no-such-target: no such target"]
    assert check_marks(BAD_DOC) == [
        "shell block without a run mark: 'camvault serve storage --port 1 --no-such-option'"
    ]
    assert check_marks("<!-- run: rehearsal -->\n" + BAD_DOC[BAD_DOC.index("```") :]) == []
    todo = "TODO(coordinator): `camvault nope`\n"
    assert check_commands(without_todo(todo), cli_root()) == []


# --- running the document's commands --------------------------------------------------------

CHECKOUT_FILES = (
    "docker-compose.yml",
    "docker-compose.witness.yml",
    ".env.example",
    "Dockerfile",
    "deploy",
)


def rehearse() -> int:
    """Run the checkout blocks in a copy of the deployment files, then the rehearsal blocks
    and the cluster blocks, each kind as one bash session from the repository root (they
    move to a scratch directory themselves). Stops at the first command that fails
    unexpectedly; a session's background services are stopped on the way out."""
    doc = DOC.read_text()
    with tempfile.TemporaryDirectory(prefix="camvault-deploy-doc-") as tmp:
        for name in CHECKOUT_FILES:
            src, dst = REPO / name, Path(tmp) / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
        script = "set -eo pipefail\n" + "".join(
            b.text for b in blocks(doc) if b.mark == "run: checkout"
        )
        if subprocess.run(["bash", "-c", script], cwd=tmp, check=False).returncode != 0:
            return 1
    for mark in ("run: rehearsal", "run: cluster"):
        parts = ["set -eo pipefail", "trap 'kill $(jobs -p) 2> /dev/null || true' EXIT"]
        for i, b in enumerate(x for x in blocks(doc) if x.mark == mark):
            parts.append(f"echo '--- {mark} block {i + 1}' >&2")
            parts.append(b.text)
        done = subprocess.run(["bash", "-c", "\n".join(parts)], cwd=REPO, check=False)
        if done.returncode != 0:
            return done.returncode
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rehearse", action="store_true", help="run the document's commands")
    args = parser.parse_args(argv)
    if not args.rehearse:
        parser.print_help()
        return 2
    return rehearse()


if __name__ == "__main__":
    sys.exit(main())
