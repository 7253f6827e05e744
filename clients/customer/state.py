"""The customer's local state directory (one per customer device).

Layout (files holding secrets are created with mode 0600, the directory 0700)::

    identity.txt        this device's age X25519 identity (age-keygen format: `age -d -i`)
    site.key            the site signing key (Ed25519, ``ed25519-secret:...`` text)
    config.json         storage URL, site id, the SiteKeys last signed, custodians (URL and
                        keys as fetched at setup), enrolled devices (their keys, as signed),
                        hashes of every statement this customer signed (for the audit),
                        the highest manifest sequence verified per camera
    audit/<id>.json     last verified checkpoint of custodian <id> (clients/audit/log.py)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clients import common
from clients.api.escrow import CustodianEndpoint
from clients.api.storage import StorageApi
from clients.common import StateError, read_config, write_json, write_secret
from crypto.age import Identity, parse_identity_file
from crypto.age.x25519 import X25519Identity, format_identity_file, generate_identity
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.statements import DeviceKeys, SignedStatement

IDENTITY_FILE = "identity.txt"
SITE_KEY_FILE = "site.key"
CONFIG_FILE = "config.json"


def default_state_dir() -> Path:
    return common.default_state_dir("CAMVAULT_CUSTOMER_DIR", "customer")


@dataclass
class Config:
    storage_url: str | None = None
    site_id: str | None = None
    site_keys: dict[str, Any] | None = None  # the latest signed SiteKeys envelope
    custodians: list[CustodianEndpoint] = field(default_factory=list)
    threshold: int | None = None
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    signed: list[str] = field(default_factory=list)  # hex SHA-256 of signed statements
    chain_heads: dict[str, int] = field(default_factory=dict)  # camera -> last sequence seen

    def to_json(self) -> dict[str, Any]:
        return {
            "storage_url": self.storage_url,
            "site_id": self.site_id,
            "site_keys": self.site_keys,
            "custodians": [c.to_json() for c in self.custodians],
            "threshold": self.threshold,
            "devices": self.devices,
            "signed": self.signed,
            "chain_heads": self.chain_heads,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Config:
        return cls(
            storage_url=obj.get("storage_url"),
            site_id=obj.get("site_id"),
            site_keys=obj.get("site_keys"),
            custodians=[CustodianEndpoint.from_json(c) for c in obj.get("custodians", [])],
            threshold=obj.get("threshold"),
            devices=dict(obj.get("devices", {})),
            signed=list(obj.get("signed", [])),
            chain_heads={str(k): int(v) for k, v in obj.get("chain_heads", {}).items()},
        )


class CustomerState:
    """Keys and configuration of one customer device, kept in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if not (root / IDENTITY_FILE).exists() or not (root / SITE_KEY_FILE).exists():
            raise StateError(f"{root} holds no customer keys: run `camvault customer init`")
        try:
            self.config = Config.from_json(read_config(root / CONFIG_FILE))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise StateError(f"{root / CONFIG_FILE}: unexpected content ({exc})") from None

    @classmethod
    def init(cls, root: Path, site_key: Ed25519SigningKey | None = None) -> CustomerState:
        """Create a fresh age identity and (unless given) a site signing key."""
        if (root / IDENTITY_FILE).exists():
            raise StateError(f"{root} already holds customer keys (not overwritten)")
        common.make_state_dir(root)
        (root / "audit").mkdir(exist_ok=True, mode=0o700)
        identity = generate_identity()
        write_secret(root / IDENTITY_FILE, format_identity_file(identity, datetime.now(UTC)))
        key = site_key or Ed25519SigningKey.generate()
        write_secret(root / SITE_KEY_FILE, key.to_text() + "\n")
        write_json(root / CONFIG_FILE, Config().to_json())
        return cls(root)

    def save(self) -> None:
        write_json(self.root / CONFIG_FILE, self.config.to_json())

    @property
    def identity_path(self) -> Path:
        return self.root / IDENTITY_FILE

    def identities(self) -> list[Identity]:
        return parse_identity_file(self.identity_path.read_text())

    def identity(self) -> X25519Identity:
        for line in self.identity_path.read_text().splitlines():
            if line.startswith("AGE-SECRET-KEY-1"):
                return X25519Identity.parse(line.strip())
        raise StateError(f"{self.identity_path} holds no X25519 identity")

    def site_key(self) -> Ed25519SigningKey:
        return Ed25519SigningKey.from_text((self.root / SITE_KEY_FILE).read_text().strip())

    def audit_path(self, custodian_id: str) -> Path:
        (self.root / "audit").mkdir(exist_ok=True, mode=0o700)
        return self.root / "audit" / f"{custodian_id}.json"

    def site(self) -> tuple[str, str]:
        """(storage URL, site id), or StateError before `site create`."""
        if self.config.storage_url is None or self.config.site_id is None:
            raise StateError("no site yet: run `camvault customer site create`")
        return self.config.storage_url, self.config.site_id

    def storage(self) -> StorageApi:
        """The storage service, signed with the site key (``customer:<site>``)."""
        url, site_id = self.site()
        return StorageApi.connect(url, f"customer:{site_id}", self.site_key())

    def remember(self, signed: SignedStatement) -> None:
        """Keep the hash of a statement this customer signed (the audit expects it)."""
        h = signed.statement_hash().hex()
        if h not in self.config.signed:
            self.config.signed.append(h)

    def camera_key(self, camera_id: str) -> Ed25519PublicKey | None:
        dev = self.config.devices.get(camera_id)
        return None if dev is None else Ed25519PublicKey.from_text(str(dev["device_key"]))

    def camera_keys(self, camera_id: str) -> DeviceKeys | None:
        """The camera's current key and the keys this customer revoked (clients/customer/
        devices.py): what its manifests are checked against."""
        dev = self.config.devices.get(camera_id)
        if dev is None:
            return None
        revoked = {
            Ed25519PublicKey.from_text(str(r["device_key"])): int(r["revoked_from_ms"])
            for r in dev.get("revoked_keys", [])
        }
        return DeviceKeys(Ed25519PublicKey.from_text(str(dev["device_key"])), revoked)
