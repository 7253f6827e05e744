"""The customer's inbox: smart alerts (decrypted here, they are age files to the customer
recipients only), access notices from the custodians, consent requests and alarms."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from clients.customer.state import CustomerState
from common.bodies import loads
from crypto.age import decrypt
from crypto.encoding import b64decode_padded
from crypto.errors import CryptoError


@dataclass(frozen=True, slots=True)
class InboxEntry:
    id: int
    kind: str
    source: str
    created_ms: int
    summary: str
    data: dict[str, Any]
    text: str | None = None  # the exact text relayed (access notices: checked against logs)


def _summary(kind: str, data: dict[str, Any]) -> str:
    if kind == "access_notice":
        just = data.get("justification") or {}
        why = just.get("event_id") or just.get("consent_id") or "-"
        return (
            f"{data.get('operator_id')} read {len(data.get('recordings', []))} recording(s) of "
            f"{', '.join(data.get('cameras', []))} ({data.get('purpose')}, {why}) "
            f"via custodian {data.get('custodian_id')}"
        )
    if kind == "consent_request":
        return (
            f"request {data.get('request_id')} by {data.get('operator_id')}: "
            f"{', '.join(data.get('cameras', []))} {data.get('scope')} - {data.get('reason')}"
        )
    if kind == "alarm":
        return (
            f"{data.get('alarm_type', 'alarm')} alarm {data.get('alarm_id')} from panel "
            f"{data.get('panel_id')} (event {data.get('event_id')})"
        )
    if kind == "smart_alert":
        labels = data.get("labels")
        if isinstance(labels, list):
            text = ", ".join(
                f"{x.get('label')} {x.get('confidence')}" for x in labels if isinstance(x, dict)
            )
            return f"{data.get('camera_id', '')} {text}".strip()
    return json.dumps(data, sort_keys=True)[:160]


def read_inbox(
    state: CustomerState, *, kind: str | None = None, after: int = 0
) -> list[InboxEntry]:
    """Every inbox item after ``after`` (oldest first), smart alerts decrypted locally."""
    _, site_id = state.site()
    identities = state.identities()
    out: list[InboxEntry] = []
    with state.storage() as storage:
        for item in storage.inbox(site_id, kind=kind, after=after):
            data: dict[str, Any]
            if item["kind"] == "smart_alert" and item.get("payload"):
                plain = io.BytesIO()
                try:
                    decrypt(identities, io.BytesIO(b64decode_padded(item["payload"])), plain)
                    parsed = loads(plain.getvalue())
                    data = parsed if isinstance(parsed, dict) else {"value": parsed}
                except (CryptoError, ValueError) as exc:
                    data = {"error": f"cannot decrypt: {exc}"}
            else:
                try:
                    parsed = loads(item.get("text") or "{}")
                    data = parsed if isinstance(parsed, dict) else {"value": parsed}
                except ValueError:
                    data = {"text": item.get("text")}
            out.append(
                InboxEntry(
                    int(item["id"]),
                    str(item["kind"]),
                    str(item["source"]),
                    int(item["created_ms"]),
                    _summary(str(item["kind"]), data),
                    data,
                    item.get("text"),
                )
            )
    return out
