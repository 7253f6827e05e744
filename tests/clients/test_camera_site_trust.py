"""The camera's trust on first use is for its own site only: SiteKeys of another site (even
validly self-signed, its id bound to its own key) or SiteKeys naming the camera's site id
under another key are refused, so a wrong pin file (or a storage service serving another
site's keys) cannot make the camera encrypt to someone else's recipients."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.api.storage import StorageApi
from clients.camera.queue import Journal
from clients.camera.site import PIN_KEY, SiteTrust
from common.time import now_ms
from crypto.age.x25519 import generate_identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import StatementError
from crypto.escrow import CustodianKey
from crypto.siteid import SiteIdError, site_id_for
from crypto.statements import Custodian, SignedStatement, SiteKeys, sign_statement


def site_keys(site_id: str, key: Ed25519SigningKey) -> SignedStatement:
    keys = SiteKeys(
        site_id,
        1,
        key.public_key,
        (generate_identity().recipient(),),
        tuple(
            Custodian(f"c{i}", CustodianKey.generate().public_key(), k.public_key, None)
            for i, k in enumerate([Ed25519SigningKey.generate() for _ in range(2)])
        ),
        2,
        now_ms(),
    )
    return sign_statement(keys, key)


def pin(tmp_path: Path, site_id: str, signed: SignedStatement) -> tuple[Journal, Path]:
    journal = Journal(tmp_path / "journal.db", site_id, "cam-1", Ed25519SigningKey.generate())
    pin_file = tmp_path / "site-keys.json"
    pin_file.write_bytes(signed.encode())
    return journal, pin_file


def trust(journal: Journal, pin_file: Path) -> SiteTrust:
    # the storage service is not called while pinning from the file
    storage = StorageApi.connect("http://127.0.0.1:9", "device:x/cam-1", journal.key)
    try:
        return SiteTrust(journal, storage, pin_file)
    finally:
        storage.close()


def test_the_sites_own_keys_are_pinned(tmp_path: Path) -> None:
    customer = Ed25519SigningKey.generate()
    site_id = site_id_for(customer.public_key, "home")
    journal, pin_file = pin(tmp_path, site_id, site_keys(site_id, customer))
    assert trust(journal, pin_file).site_keys is not None
    assert journal.get(PIN_KEY) == pin_file.read_bytes()


def test_another_sites_keys_are_refused(tmp_path: Path) -> None:
    customer, other = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    mine = site_id_for(customer.public_key, "home")
    theirs = site_id_for(other.public_key, "home")
    journal, pin_file = pin(tmp_path, mine, site_keys(theirs, other))
    with pytest.raises(StatementError, match=f"for site '{theirs}', not '{mine}'"):
        trust(journal, pin_file)
    assert journal.get(PIN_KEY) is None


def test_the_cameras_site_id_under_another_key_is_refused(tmp_path: Path) -> None:
    customer, squatter = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    mine = site_id_for(customer.public_key, "home")
    journal, pin_file = pin(tmp_path, mine, site_keys(mine, squatter))
    with pytest.raises(SiteIdError, match="not bound"):
        trust(journal, pin_file)
    assert journal.get(PIN_KEY) is None
