"""The witness policies of the clients: the operator's WitnessPolicy and the customer's
``<state>/witnesses.json`` (clients/audit/site.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.audit.site import WITNESSES_FILE, witness_policy
from clients.common import StateError
from clients.customer.state import CustomerState
from clients.operator.release import WitnessPolicy
from crypto.tlog.cosignature import CosignatureSigner

KEYS = [CosignatureSigner.generate(f"witness.test/p{i}").verifier for i in (1, 2, 3)]


def test_policy_round_trip_and_quorum_bounds() -> None:
    policy = WitnessPolicy(tuple(KEYS), 2)
    assert WitnessPolicy.from_json(policy.to_json()) == policy
    assert WitnessPolicy.from_json({"witnesses": [k.to_text() for k in KEYS]}).quorum == 3
    for quorum in (0, 4):
        with pytest.raises(ValueError, match="quorum"):
            WitnessPolicy(tuple(KEYS), quorum)


def test_the_customer_reads_its_witnesses_from_its_state(tmp_path: Path) -> None:
    state = CustomerState.init(tmp_path / "customer")
    assert witness_policy(state) is None  # no file: the audit checks the log's own checkpoint
    path = state.root / WITNESSES_FILE
    path.write_text(json.dumps({"witnesses": [k.to_text() for k in KEYS], "quorum": 2}))
    policy = witness_policy(state)
    assert policy is not None and policy.quorum == 2 and policy.witnesses == tuple(KEYS)
    for bad in (
        "{",
        json.dumps({"witnesses": ["nope"]}),
        json.dumps({"quorum": 1}),
        json.dumps({"witnesses": [KEYS[0].to_text()], "quorum": 2}),
    ):
        path.write_text(bad)
        with pytest.raises(StateError, match="not a witness list"):
            witness_policy(state)
