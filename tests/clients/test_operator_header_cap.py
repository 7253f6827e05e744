"""The operator's client reads the age headers the storage service serves (to find the escrow
threshold and each custodian's stanza); a header over the stanza cap is refused there, with
its reason code, before any stanza goes to a custodian."""

from __future__ import annotations

import pytest

from clients.api.escrow import CustodianEndpoint
from clients.operator.console import _threshold
from clients.operator.release import Recording, _stanza_for
from crypto.age.api import generate_file_key
from crypto.age.format import (
    MAC_MARK,
    MAX_STANZAS,
    VERSION_LINE,
    TooManyStanzasError,
    encode_stanza,
)
from crypto.age.x25519 import X25519Identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64encode
from crypto.escrow import CustodianKey, build_recipient_set
from crypto.metadata import RecordingKind, RecordingMetadata

META = RecordingMetadata("site-1", "cam-front", "rec-1", RecordingKind.SEGMENT, 1000, 2000)


def header_with(total: int, custodian: CustodianKey) -> bytes:
    """A customer stanza and real escrow stanzas of three custodians (t = 2), padded with
    empty stanzas to ``total`` (by hand: the encoder refuses to write more than the cap)."""
    keys = [custodian.public_key(), *(CustodianKey.generate().public_key() for _ in range(2))]
    file_key = generate_file_key()
    recipients = build_recipient_set([X25519Identity.generate().recipient()], keys, 2, META)
    stanzas = [st for r in recipients for st in r.wrap(file_key)]
    n_extra = total - len(stanzas)
    body = b"".join(encode_stanza(st) for st in stanzas) + b"-> X\n\n" * n_extra
    return VERSION_LINE + body + MAC_MARK + b" " + b64encode(bytes(32)).encode() + b"\n"


def test_operator_refuses_a_header_over_the_cap() -> None:
    custodian = CustodianKey.generate()
    endpoint = CustodianEndpoint(
        "custodian-a",
        "https://a.example",
        custodian.public_key(),
        Ed25519SigningKey.generate().public_key,
    )
    at_cap = header_with(MAX_STANZAS, custodian)
    assert _threshold(at_cap) == 2  # control: at the cap the header is read
    assert (
        _stanza_for(Recording(at_cap, META), endpoint)["args"][0] == custodian.public_key().key_id()
    )
    over = header_with(MAX_STANZAS + 1, custodian)
    for read in (lambda: _threshold(over), lambda: _stanza_for(Recording(over, META), endpoint)):
        with pytest.raises(TooManyStanzasError) as info:
            read()
        assert info.value.reason == "header_too_many_stanzas"
