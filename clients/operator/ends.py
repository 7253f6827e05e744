"""Closing an alarm: at the storage service, then at every custodian with a signed close.

Access must end where the keys are: the storage service stops serving a closed alarm's
recordings, but an operator who saved a header during the alarm could still ask the
custodians for shares until the access period ran out. The AlarmClose this operator signs
goes to each custodian directly (docs/ESCROW.md "Trust roots"), which refuse every later
release under the alarm (``alarm_closed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clients.api.escrow import Ack, CustodianApi, CustodianEndpoint, to_every_custodian
from clients.operator.console import transition
from clients.operator.state import OperatorState
from common.http import SignedClient
from common.time import now_ms
from crypto.statements import AlarmClose, sign_statement


@dataclass
class Closed:
    """An alarm closed at the storage service, and each custodian's acknowledgement of the
    signed close (a custodian that did not acknowledge still releases under the alarm until
    its access period ends: close again to retry, closing is idempotent)."""

    alarm: dict[str, Any]
    custodians: list[Ack]


def close_alarm(state: OperatorState, alarm_id: str) -> Closed:
    """Close an acknowledged alarm: at the storage service (which stops listing and serving
    its recordings), then at every custodian with an AlarmClose signed by this operator, so
    that a header saved during the alarm no longer gets a share either. The custodians'
    refusal does not rest on the storage service."""
    a = transition(state, alarm_id, "close")
    key = state.key()
    close = sign_statement(
        AlarmClose(
            site_id=str(a["site_id"]),
            panel_id=str(a["panel_id"]),
            event_id=str(a["event_id"]),
            operator_id=state.operator_id,
            closed_at_ms=now_ms(),
        ),
        key,
    )

    def send(api: CustodianApi, c: CustodianEndpoint) -> str:
        with SignedClient(c.url, f"operator:{state.operator_id}", key) as client:
            return api.close_alarm(client, str(a["site_id"]), close)

    return Closed(a, to_every_custodian(state.endpoints(), send))
