"""The custodian's secret keys: the X25519 escrow key, the hybrid (ML-KEM-768 + X25519)
escrow key, and the log's note signing key.

Stored as text files in the data directory (``escrow.key``: ``CAMVAULT-CUSTODIAN-SECRET-KEY-1...``;
``escrow-pq.key``: ``CAMVAULT-CUSTODIAN-PQ-SECRET-KEY-1...``; ``log.key``:
``PRIVATE+KEY+camvault.io/custodian/<id>+...``), created with mode 0600 when missing. The
hybrid key is created only on a first start (no log yet): a custodian that already holds a log
and has no ``escrow-pq.key`` keeps running X25519-only (it cannot tell a key never made from a
key lost; docs/ESCROW.md "Hybrid escrow keys" says how to add one). An optional
``log.next.key`` (same name, another key) co-signs every checkpoint during a log key
rotation. The public halves are what a customer puts into SiteKeys
(its ``Custodian`` entry).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crypto.ed25519 import Ed25519PublicKey
from crypto.escrow import (
    CustodianKey,
    CustodianPublicKey,
    HybridCustodianKey,
    HybridCustodianPublicKey,
)
from crypto.tlog.note import NoteSigner, NoteVerifier


@dataclass(frozen=True, slots=True)
class CustodianKeys:
    custodian_id: str
    escrow_key: CustodianKey
    log_signer: NoteSigner
    escrow_public: CustodianPublicKey
    key_id: str
    next_log_signer: NoteSigner | None = None  # during a log key rotation (docs/ESCROW.md)
    hybrid_key: HybridCustodianKey | None = None  # ML-KEM-768 + X25519, if it has one

    @classmethod
    def create(
        cls,
        custodian_id: str,
        escrow_key: CustodianKey,
        log_signer: NoteSigner,
        next_log_signer: NoteSigner | None = None,
        *,
        hybrid_key: HybridCustodianKey | None = None,
    ) -> CustodianKeys:
        public = escrow_key.public_key()
        return cls(
            custodian_id,
            escrow_key,
            log_signer,
            public,
            public.key_id(),
            next_log_signer,
            hybrid_key,
        )

    @property
    def hybrid_public(self) -> HybridCustodianPublicKey | None:
        return None if self.hybrid_key is None else self.hybrid_key.public_key()

    @property
    def log_signers(self) -> list[NoteSigner]:
        """Every key that signs checkpoints: the current one, and the next during a rotation."""
        return [self.log_signer] + ([self.next_log_signer] if self.next_log_signer else [])

    @property
    def origin(self) -> str:
        return self.log_signer.name

    @property
    def log_verifier(self) -> NoteVerifier:
        return self.log_signer.verifier

    @property
    def log_public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey(self.log_signer.verifier.public_key)

    def public_info(self) -> dict[str, str | None]:
        nxt = self.next_log_signer
        return {
            "next_log_key": None
            if nxt is None
            else Ed25519PublicKey(nxt.verifier.public_key).to_text(),
            "custodian_id": self.custodian_id,
            "escrow_key": self.escrow_public.to_text(),
            "escrow_key_id": self.key_id,
            "hybrid_escrow_key": None if self.hybrid_key is None else str(self.hybrid_public),
            "log_key": self.log_public_key.to_text(),
            "log_verifier": self.log_verifier.to_text(),
            "origin": self.origin,
        }


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")


class KeysMissingError(ValueError):
    """The database holds this custodian's log but a key file is gone: new keys would make
    every escrowed recording unopenable here and fork the log under another key."""


def load_or_create(data_dir: Path, custodian_id: str, *, log_size: int = 0) -> CustodianKeys:
    """Load the keys from ``data_dir``, generating any that is missing on a first start.

    ``log_size`` is the number of entries the custodian's database already holds: once it
    has a log, missing key files are refused (restore them from backup) rather than made
    anew, since the recordings escrowed to the old key and the log signed by it would
    otherwise be silently abandoned."""
    origin = f"camvault.io/custodian/{custodian_id}"
    escrow_path, log_path = data_dir / "escrow.key", data_dir / "log.key"
    missing = [p.name for p in (escrow_path, log_path) if not p.exists()]
    if missing and log_size > 0:
        raise KeysMissingError(
            f"{data_dir}: {' and '.join(missing)} missing, but the database holds this "
            f"custodian's log ({log_size} entries): restore the key files from backup "
            "(new keys would abandon every recording escrowed to the old ones)"
        )
    hybrid_path = data_dir / "escrow-pq.key"
    if not hybrid_path.exists() and log_size == 0:
        _write_secret(hybrid_path, HybridCustodianKey.generate().to_text())
    if not escrow_path.exists():
        _write_secret(escrow_path, CustodianKey.generate().to_text())
    if not log_path.exists():
        _write_secret(log_path, NoteSigner.generate(origin).to_text())
    escrow_key = CustodianKey.from_text(escrow_path.read_text().strip())
    signers = []
    for path in (log_path, data_dir / "log.next.key"):
        if not path.exists():
            continue
        signer = NoteSigner.from_text(path.read_text().strip())
        if signer.name != origin:
            raise ValueError(f"{path}: log key is named {signer.name!r}, expected {origin!r}")
        signers.append(signer)
    hybrid = (
        HybridCustodianKey.from_text(hybrid_path.read_text().strip())
        if hybrid_path.exists()
        else None
    )
    return CustodianKeys.create(custodian_id, escrow_key, *signers, hybrid_key=hybrid)
