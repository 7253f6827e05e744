"""A customer device taken out of the site (`camvault customer remove-device --recipient`):
SiteKeys v+1 without its recipient, logged at every custodian; a recording made after the
change opens with the remaining recipient and not with the removed one (control: one made
before opens with both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.customer.state import CustomerState
from common.time import now_ms
from crypto.age import decrypt_header
from crypto.age.x25519 import X25519Identity
from crypto.errors import NoIdentityMatchError
from tests.clients.customer_world import (  # noqa: F401 (the `world` fixture)
    World,
    setup_customer,
    world_fixture,
)
from tests.lifecycle.support import customer_recording


def test_a_removed_recipient_cannot_open_new_recordings(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    own = CustomerState(c.state).identity()
    phone = X25519Identity.generate()
    c.run("add-device", "--recipient", str(phone.recipient()))
    before = c.camera.record(now_ms() - 10_000)
    header = customer_recording(c.state, "cam-front", before).header
    for identity in (own, phone):  # control: both devices open it
        decrypt_header([identity], header)

    out = c.run("remove-device", "--recipient", str(phone.recipient())).output
    assert "SiteKeys v3 published: 1 recipient(s)" in out, out
    after = c.camera.record(now_ms() - 5_000)
    header = customer_recording(c.state, "cam-front", after).header
    decrypt_header([own], header)
    with pytest.raises(NoIdentityMatchError):
        decrypt_header([phone], header)
    # every custodian logged the change: the audit expects it and finds nothing else
    audit = c.run("audit").output
    assert audit.count("log verified") == 3, audit

    # refused with one line: this device's own recipient, one that is not the site's
    res = c.run("remove-device", "--recipient", str(own.recipient()), code=1)
    assert "this device's own recipient" in res.output
    res = c.run("remove-device", "--recipient", str(phone.recipient()), code=1)
    assert "is not a recipient of site" in res.output
