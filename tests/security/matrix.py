"""The registry of the attack matrix (tests/security/adversaries/): every attack test carries
``@attack("ARC-07", "replayed alarm event after the access period", "event_replayed")``
(or the mark in a ``pytest.param``). The adversary is the module's (ADVERSARIES). Marking
registers the attack here at import time, so the table in docs/THREAT_MODEL.md can be
checked against the code without running anything (tests/security/test_threat_table.py);
the plugin in adversaries/conftest.py records each attack's outcome during a run and
scripts/threat_table.py renders it."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass

import pytest

#: adversary module (tests/security/adversaries/<name>.py) -> the adversary of THREAT_MODEL.md
ADVERSARIES: dict[str, str] = {
    "test_storage_operator": "storage operator",
    "test_custodian": "one custodian",
    "test_arc_operator": "ARC operator",
    "test_technician": "technician",
    "test_stolen_camera": "stolen camera",
    "test_stolen_panel": "stolen panel",
    "test_network": "network attacker",
    "test_other_customer": "another site's customer",
}


@dataclass(frozen=True, slots=True)
class Attack:
    attack_id: str
    adversary: str
    threat: str
    reason: str  # the reason code of the expected refusal (or what stops the adversary)


REGISTRY: dict[str, Attack] = {}
MARKER = "attack(attack_id, threat, reason): an attack of the matrix (tests/security/matrix.py)"


def register_marker(config: pytest.Config) -> None:
    """Declare the ``attack`` mark (strict markers) before an adversary module is imported."""
    config.addinivalue_line("markers", MARKER)


def _register(attack_id: str, threat: str, reason: str) -> pytest.MarkDecorator:
    """Register an attack of the module two frames up (the caller of attack() or case())."""
    module = sys._getframe(2).f_globals["__name__"].rsplit(".", 1)[-1]
    if module not in ADVERSARIES:
        raise ValueError(f"attacks are declared in an adversary module, not in {module}")
    new = Attack(attack_id, ADVERSARIES[module], threat, reason)
    old = REGISTRY.setdefault(attack_id, new)
    if old != new:
        raise ValueError(f"attack id {attack_id} is registered twice")
    return pytest.mark.attack(attack_id=attack_id, threat=threat, reason=reason)


def attack(attack_id: str, threat: str, reason: str) -> pytest.MarkDecorator:
    """Register an attack of the calling adversary module and mark its test with it."""
    return _register(attack_id, threat, reason)


def case(attack_id: str, threat: str, reason: str, *values: object) -> object:
    """One parametrized attack: ``pytest.param(reason, *values)`` marked and named by its id."""
    mark = _register(attack_id, threat, reason)
    return pytest.param(reason, *values, marks=mark, id=attack_id)


def registered() -> dict[str, Attack]:
    """Every attack of the adversary modules (imports them all)."""
    from tests.security import adversaries

    for info in pkgutil.iter_modules(adversaries.__path__):
        if info.name in ADVERSARIES:
            importlib.import_module(f"{adversaries.__name__}.{info.name}")
    return dict(REGISTRY)
