"""The operator's local state directory::

operator.key    the operator's personal Ed25519 signing key (mode 0600)
config.json     operator id, role, storage URL, custodians (URL and keys, fetched once
                from each custodian's /v1/custodian and then pinned here) and the site's
                witnesses (``{"witnesses": [<verifier key>, ...], "quorum": q, "urls": [...]}``,
                given to `camvault operator init --witness`, never taken from a custodian;
                absent: receipts are checked against the custodian's log key only)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients import common
from clients.api.escrow import CustodianEndpoint
from clients.api.storage import StorageApi
from clients.common import StateError, read_config, write_json, write_secret
from clients.operator.release import WitnessPolicy
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import CryptoError
from crypto.statements import OperatorRole

KEY_FILE = "operator.key"
CONFIG_FILE = "config.json"


def default_state_dir() -> Path:
    return common.default_state_dir("CAMVAULT_OPERATOR_DIR", "operator")


@dataclass
class OperatorConfig:
    operator_id: str
    role: OperatorRole
    storage_url: str
    custodians: list[CustodianEndpoint]
    witnesses: WitnessPolicy | None = None
    witness_urls: list[str] = field(default_factory=list)  # for people; never contacted

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "operator_id": self.operator_id,
            "role": self.role.value,
            "storage_url": self.storage_url,
            "custodians": [c.to_json() for c in self.custodians],
        }
        if self.witnesses is not None:
            out["witnesses"] = {**self.witnesses.to_json(), "urls": self.witness_urls}
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> OperatorConfig:
        w = obj.get("witnesses")
        return cls(
            str(obj["operator_id"]),
            OperatorRole(obj["role"]),
            str(obj["storage_url"]),
            [CustodianEndpoint.from_json(c) for c in obj["custodians"]],
            WitnessPolicy.from_json(w) if w is not None else None,
            [str(u) for u in w.get("urls", [])] if w is not None else [],
        )


class OperatorState:
    def __init__(self, root: Path) -> None:
        self.root = root
        if not (root / KEY_FILE).exists():
            raise StateError(f"{root} holds no operator key: run `camvault operator init`")
        try:
            self.config = OperatorConfig.from_json(read_config(root / CONFIG_FILE))
        except (TypeError, ValueError, KeyError, AttributeError, CryptoError) as exc:
            raise StateError(f"{root / CONFIG_FILE}: unexpected content ({exc})") from None

    @classmethod
    def init(cls, root: Path, config: OperatorConfig) -> OperatorState:
        if (root / KEY_FILE).exists():
            raise StateError(f"{root} already holds an operator key (not overwritten)")
        common.make_state_dir(root)
        write_secret(root / KEY_FILE, Ed25519SigningKey.generate().to_text() + "\n")
        write_json(root / CONFIG_FILE, config.to_json())
        return cls(root)

    def key(self) -> Ed25519SigningKey:
        return Ed25519SigningKey.from_text((self.root / KEY_FILE).read_text().strip())

    @property
    def operator_id(self) -> str:
        return self.config.operator_id

    def storage(self, timeout: float = 120.0) -> StorageApi:
        """The storage service, signed with this operator's key (``operator:<id>``)."""
        return StorageApi.connect(
            self.config.storage_url,
            f"operator:{self.config.operator_id}",
            self.key(),
            timeout=timeout,
        )

    def endpoints(self) -> list[CustodianEndpoint]:
        return list(self.config.custodians)
