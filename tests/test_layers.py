"""The layer rules of pyproject's [tool.importlinter] hold on the tree, and each one fails when
it is broken on purpose (a copy of the tree with one bad module added)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PACKAGES: list[str] = CONFIG["root_packages"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and the lint configuration, to break on purpose."""
    dest = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_every_contract_is_kept_on_the_tree() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = re.findall(r"^(.+) KEPT$", result.stdout, re.MULTILINE)
    assert len(kept) == len(CONFIG["contracts"]), result.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract", "culprit"),
    [
        # crypto importing a service
        ("crypto/_bad.py", "import storage_service\n", "layers", "crypto is not allowed"),
        # a client importing a service
        ("clients/_bad.py", "import escrow_service\n", "layers", "clients is not allowed"),
        # a service importing a client
        ("storage_service/_bad.py", "import clients\n", "layers", "storage_service is not"),
        # a service importing the other service
        ("escrow_service/_bad.py", "import storage_service\n", "layers", "escrow_service is not"),
        # common importing a service
        ("common/_bad.py", "import storage_service\n", "layers", "common is not allowed"),
        # a service's core reaching up into its routes
        (
            "storage_service/core/_bad.py",
            "import storage_service.api.deps\n",
            "services on one template",
            "storage_service.core is not allowed to import storage_service.api",
        ),
        # a custodian service module importing the HTTP layer
        (
            "escrow_service/services/_bad.py",
            "import escrow_service.api.errors\n",
            "services on one template",
            "escrow_service.services is not allowed to import escrow_service.api",
        ),
        # the typed API client depending on a role's code
        (
            "clients/api/_bad.py",
            "import clients.customer.state\n",
            "clients:",
            "clients.api is not allowed to import clients.customer",
        ),
        # crypto importing a web framework
        ("crypto/_bad.py", "import fastapi\n", "crypto is pure", "crypto._bad -> fastapi"),
        # a cycle hidden in a function-level import
        (
            "crypto/_bad.py",
            "def f() -> None:\n    import crypto._bad2\n",
            "no import cycles",
            "No cycles are allowed in crypto",
        ),
    ],
)
def test_a_deliberate_violation_breaks_its_contract(
    tree: Path, module: str, source: str, contract: str, culprit: str
) -> None:
    bad = tree / module
    extra = tree / "crypto" / "_bad2.py"
    bad.write_text(source)
    if "crypto._bad2" in source:
        extra.write_text("import crypto._bad\n")
    try:
        result = _lint(tree)
    finally:
        bad.unlink()
        extra.unlink(missing_ok=True)
    assert result.returncode != 0, result.stdout
    broken = re.findall(r"^(.+) BROKEN$", result.stdout, re.MULTILINE)
    # an upward import is usually also a cycle: the contract named must be among the broken
    assert any(name.startswith(contract) for name in broken), result.stdout
    assert culprit in result.stdout, result.stdout


#: The witness service (docs/WITNESS.md) is its own package: crypto/ and common/ only. Until
#: pyproject's [tool.importlinter] lists it, this test keeps the rule.
WITNESS_ALLOWED = {"crypto", "common", "witness_service"}
FIRST_PARTY = {*PACKAGES, "witness_service", "tests"}


def _first_party_imports(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & FIRST_PARTY


def test_the_witness_service_depends_on_crypto_and_common_only() -> None:
    for path in sorted((ROOT / "witness_service").rglob("*.py")):
        bad = _first_party_imports(path) - WITNESS_ALLOWED
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    # ...and nothing but the entry point imports it.
    for package in ("crypto", "common", "escrow_service", "storage_service", "clients"):
        for path in sorted((ROOT / package).rglob("*.py")):
            assert "witness_service" not in _first_party_imports(path), path


def test_the_witness_rule_fails_when_broken(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from escrow_service.core import keys\nimport clients.api\n")
    assert _first_party_imports(bad) - WITNESS_ALLOWED == {"escrow_service", "clients"}
