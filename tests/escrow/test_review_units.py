"""In-process regression tests of the security review's custodian findings (nonce race,
sealing failures). Each test performs the attack and checks it fails for the right reason.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from crypto import age, escrow
from crypto.age.format import parse_header
from crypto.age.x25519 import generate_identity
from crypto.escrow import CustodianKey, SessionKey
from crypto.metadata import RecordingKind, RecordingMetadata
from escrow_service.core.errors import Reason, Refusal
from escrow_service.core.keys import load_or_create
from escrow_service.core.settings import EscrowSettings
from escrow_service.db import make_engine, upgrade
from escrow_service.services.escrow import EscrowService
from escrow_service.services.opener import Opener, _process
from escrow_service.services.tlog_store import LogStore
from tests.support.services import PostgresServer

T = 1_700_000_000_000


def make_service(tmp_path: Path, url: str) -> EscrowService:
    upgrade(url)
    engine = make_engine(url)
    keys = load_or_create(tmp_path / "keys", "c1")
    settings = EscrowSettings(data_dir=tmp_path, database_url=url, crypto_workers=0)
    store = LogStore(engine, keys)
    opener = Opener(keys.escrow_key, workers=0, parallel_threshold=256)
    return EscrowService(engine, keys, settings, store, opener, lambda: T)


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> EscrowService:
    if request.param == "postgres":
        pg: PostgresServer = request.getfixturevalue("postgres")
        url = pg.create_database(f"escrow_units_{uuid.uuid4().hex[:10]}")
    else:
        url = f"sqlite:///{tmp_path / 'escrow.db'}"
    svc = make_service(tmp_path, url)
    request.addfinalizer(svc.engine.dispose)
    return svc


# --- finding 6: a nonce reused by two concurrent requests ------------------------------------


def test_concurrent_requests_reusing_a_nonce_one_passes_the_other_is_a_replay(
    service: EscrowService,
) -> None:
    for round_ in range(15):
        nonce = f"nonce-{round_}"
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def attempt(
            n: str = nonce, b: threading.Barrier = barrier, out: list[str] = outcomes
        ) -> None:
            b.wait()
            try:
                service.nonces.remember("customer:site-a", n, T + 60_000)
                out.append("ok")
            except Refusal as r:
                out.append(r.reason.value)
            except Exception as exc:
                out.append(f"crash: {type(exc).__name__}")

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["ok", "replayed_request"], outcomes
    # A third, later use is refused the same way; another keyid may use the same nonce.
    with pytest.raises(Refusal) as info:
        service.nonces.remember("customer:site-a", "nonce-0", T + 60_000)
    assert info.value.reason is Reason.REPLAYED_REQUEST
    service.nonces.remember("customer:site-b", "nonce-0", T + 60_000)


# --- finding 1: a low-order session key never reaches the sealing unguarded ------------------


def test_opener_turns_a_sealing_failure_into_a_per_item_refusal() -> None:
    key, other = CustodianKey.generate(), CustodianKey.generate()
    meta = RecordingMetadata("s", "cam", "r", RecordingKind.SEGMENT, T, T + 1)
    recipients = escrow.build_recipient_set(
        [generate_identity().recipient()], [key.public_key(), other.public_key()], 2, meta
    )
    header, _ = age.encrypt_header(recipients)
    key_id = key.public_key().key_id()
    stanza = next(
        s
        for s in parse_header(header).stanzas
        if s.type == "camvault-escrow" and s.args[0] == key_id
    )
    item = (tuple(stanza.args), stanza.body, meta, stanza.type)
    good = _process((key, None), [item], SessionKey.generate().public_key(), "r")
    assert good[0].sealed is not None and good[0].reason is None
    # 32 zero bytes: a low-order point. Sealing fails inside crypto.escrow; the opener must
    # report it per item (logged by the service) instead of raising out of the request.
    out = _process((key, None), [item], bytes(32), "r")
    assert out[0].sealed is None
    assert out[0].reason is Reason.BAD_SESSION_KEY
