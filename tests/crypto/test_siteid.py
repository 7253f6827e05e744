"""Self-certifying site ids (crypto.siteid): an id is bound to the key of the site's first
SiteKeys, and a first SiteKeys whose id is bound to another key is refused."""

from __future__ import annotations

import base64
import dataclasses
import hashlib

import pytest

from common.time import now_ms
from crypto.age.x25519 import generate_identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import StatementError
from crypto.escrow import CustodianKey
from crypto.siteid import (
    MAX_LABEL_LEN,
    TAG_LEN,
    SiteIdError,
    check_site_id,
    is_bound,
    site_id_for,
    site_tag,
)
from crypto.statements import Custodian, SiteKeys, sign_statement, verify_site_keys


def site_keys(site_id: str, key: Ed25519SigningKey, version: int = 1) -> SiteKeys:
    return SiteKeys(
        site_id=site_id,
        version=version,
        customer_key=key.public_key,
        recipients=(generate_identity().recipient(),),
        custodians=tuple(
            Custodian(f"c{i}", CustodianKey.generate().public_key(), k.public_key, None)
            for i, k in enumerate([Ed25519SigningKey.generate() for _ in range(2)])
        ),
        threshold=2,
        issued_at_ms=now_ms(),
    )


def test_known_answer() -> None:
    """The tag as docs/FORMAT.md specifies it, computed here from the spec's words."""
    key = Ed25519SigningKey(bytes(32)).public_key  # the public key of the all-zero seed
    digest = hashlib.sha256(b"camvault/v1/site-id\n" + key.raw).digest()[:16]
    spec = base64.b32encode(digest).decode().rstrip("=").lower()
    assert site_tag(key) == spec == "cadsiw6wrb7o725vac6a65fuoa"
    assert site_id_for(key, "home") == "home-cadsiw6wrb7o725vac6a65fuoa"


def test_bound_id_is_label_and_tag() -> None:
    key = Ed25519SigningKey.generate().public_key
    sid = site_id_for(key, "shop-2")
    assert sid.startswith("shop-2-") and len(sid) == len("shop-2-") + TAG_LEN
    assert is_bound(sid, key) and check_site_id(sid, key) == sid
    other = Ed25519SigningKey.generate().public_key
    assert not is_bound(sid, other)
    with pytest.raises(SiteIdError, match="not bound to customer key"):
        check_site_id(sid, other)
    # the bare tag (no label) and a free-form id are not bound
    assert not is_bound(site_tag(key), key) and not is_bound("shop-2", key)
    assert not is_bound("-" + site_tag(key), key)


def test_labels_are_identifiers_within_the_id_length() -> None:
    key = Ed25519SigningKey.generate().public_key
    assert len(site_id_for(key, "a" * MAX_LABEL_LEN)) == 128
    for bad in ("", "a" * (MAX_LABEL_LEN + 1), "-home", "home/1", "hôme"):
        with pytest.raises(
            SiteIdError if bad in ("", "a" * (MAX_LABEL_LEN + 1)) else StatementError
        ):
            site_id_for(key, bad)


def test_first_site_keys_must_be_bound_to_their_key() -> None:
    owner, squatter = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    sid = site_id_for(owner.public_key, "home")
    assert verify_site_keys(sign_statement(site_keys(sid, owner), owner), None).site_id == sid
    # The squatter signs SiteKeys for the owner's id with its own key: refused.
    with pytest.raises(SiteIdError):
        verify_site_keys(sign_statement(site_keys(sid, squatter), squatter), None)
    # A free-form id cannot be pinned by anyone.
    with pytest.raises(SiteIdError):
        verify_site_keys(sign_statement(site_keys("home", owner), owner), None)


def test_a_rotated_key_keeps_the_id_of_the_first() -> None:
    """Later versions are authorised by the pinned key; the id stays bound to the first."""
    owner, rotated = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    first = site_keys(site_id_for(owner.public_key, "home"), owner)
    pinned = verify_site_keys(sign_statement(first, owner), None)
    v2 = dataclasses.replace(site_keys(first.site_id, rotated), version=2)
    assert verify_site_keys(sign_statement(v2, owner), pinned).customer_key == rotated.public_key
