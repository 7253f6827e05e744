"""The witness's Ed25519 cosigning key: ``<data_dir>/witness.key``, created with mode 0600 on
first start (``PRIVATE+KEY+<name>+<key id>+base64(0x04 || seed)``, crypto/tlog/cosignature.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from crypto.errors import CryptoError
from crypto.tlog.cosignature import CosignatureSigner

KEY_FILE = "witness.key"


class WitnessKeyError(Exception):
    """The key file is unreadable, not a witness key, or another witness name's."""


def load_or_create(data_dir: Path, name: str) -> CosignatureSigner:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        signer = CosignatureSigner.generate(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(signer.to_text() + "\n")
        return signer
    if path.stat().st_mode & 0o077:
        raise WitnessKeyError(f"{path}: the witness key must not be readable by others (0600)")
    try:
        signer = CosignatureSigner.from_text(path.read_text().strip())
    except (OSError, CryptoError) as exc:
        raise WitnessKeyError(f"{path}: {exc}") from None
    if signer.name != name:
        raise WitnessKeyError(
            f"{path} holds the key of witness {signer.name!r}, not {name!r} (CAMVAULT_WITNESS_NAME)"
        )
    return signer
