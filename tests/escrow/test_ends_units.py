"""The ends of access inside one custodian, in process: a deletion taken while a release's
stanzas are being opened still refuses them (decided again under the writer lock), and a
close taken meanwhile refuses the whole request."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from clients.operator.release import Recording
from common.time import now_ms
from crypto.age.format import parse_header
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64encode
from crypto.escrow import CustodianKey, SessionKey
from crypto.statements import (
    AlarmClose,
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    OperatorRegistration,
    OperatorRole,
    RecordingDeletion,
    SiteKeys,
    sign_statement,
)
from escrow_service.core.auth import Caller
from escrow_service.core.errors import Reason
from escrow_service.core.keys import load_or_create
from escrow_service.core.settings import EscrowSettings
from escrow_service.db import make_engine, upgrade
from escrow_service.db.migrate import VERSION_TABLE, downgrade
from escrow_service.db.models import metadata
from escrow_service.schemas.release import ReleaseOutcome
from escrow_service.schemas.requests import decode_release
from escrow_service.services.escrow import EscrowService
from escrow_service.services.opener import Opener
from escrow_service.services.tlog_store import LogStore
from tests.escrow.harness import PROFILE, Site

OPERATOR = "op-1"


@pytest.fixture
def custodian(tmp_path: Path) -> Iterator[tuple[EscrowService, Site, Ed25519SigningKey]]:
    """One custodian (SQLite) with a site (panel, camera) and a registered ARC operator."""
    url = f"sqlite:///{tmp_path / 'escrow.db'}"
    upgrade(url)
    arc = Ed25519SigningKey.generate()
    settings = EscrowSettings(
        custodian_id="c1",
        data_dir=tmp_path,
        database_url=url,
        arc_public_key=arc.public_key.to_text(),
        crypto_workers=0,
    )
    engine = make_engine(url)
    keys = load_or_create(tmp_path, "c1")
    log = LogStore(engine, keys)
    log.refresh()
    opener = Opener(keys.escrow_key, workers=0, parallel_threshold=settings.parallel_threshold)
    service = EscrowService(engine, keys, settings, log, opener, now_ms)
    site = Site("site-1", cameras={"cam-front": PROFILE})
    other = CustodianKey.generate().public_key()
    site.escrow_keys = [keys.escrow_public, other]
    custodians = (
        Custodian("c1", keys.escrow_public, keys.log_public_key, None),
        Custodian("c2", other, Ed25519SigningKey.generate().public_key, None),
    )
    sk = SiteKeys(
        site.site_id,
        1,
        site.customer_key.public_key,
        (site.identity.recipient(),),
        custodians,
        2,
        now_ms(),
    )
    service.intake.site_keys.take(site.sign(sk).encode())
    for dev_id, kind, key, profile in (
        ("panel-1", DeviceKind.PANEL, site.panel_key.public_key, None),
        ("cam-front", DeviceKind.CAMERA, Ed25519SigningKey.generate().public_key, PROFILE),
    ):
        enrollment = DeviceEnrollment(site.site_id, dev_id, kind, "m", key, profile, now_ms())
        service.intake.devices.take(site.sign(enrollment).encode(), site.site_id)
    op_key = Ed25519SigningKey.generate()
    reg = OperatorRegistration(OPERATOR, op_key.public_key, OperatorRole.OPERATOR, now_ms())
    service.intake.operators.take(sign_statement(reg, arc).encode())
    yield service, site, op_key
    opener.close()
    engine.dispose()


def release(
    service: EscrowService, site: Site, recordings: list[Recording], nonce: str
) -> ReleaseOutcome:
    key_id = service.keys.escrow_public.key_id()
    items = []
    for r in recordings:
        st = next(s for s in parse_header(r.header).stanzas if s.args and s.args[0] == key_id)
        items.append(
            {
                "metadata": r.metadata.to_json(),
                "stanza": {"args": list(st.args), "body": b64encode(st.body)},
            }
        )
    body = {
        "purpose": "alarm-verification",
        "justification": site.alarm("ev-1", 1).to_json(),
        "session_key": b64encode(SessionKey.generate().public_key()),
        "items": items,
    }
    caller = Caller("operator", OPERATOR, f"operator:{OPERATOR}", nonce, now_ms() + 60_000)
    data = json.dumps(body).encode()
    return service.releases.release(OPERATOR, lambda: caller, lambda: decode_release(data))


def meanwhile(service: EscrowService, act: Callable[[], Any]) -> None:
    """Run ``act`` while the release's stanzas are being opened (after the checks before
    opening, before the writer transaction)."""
    opener = service.releases._opener
    real = opener.open_and_seal

    def open_and_seal(*args: Any, **kwargs: Any) -> Any:
        act()
        return real(*args, **kwargs)

    opener.open_and_seal = open_and_seal  # type: ignore[method-assign]


def test_a_deletion_taken_while_opening_still_refuses(
    custodian: tuple[EscrowService, Site, Ed25519SigningKey],
) -> None:
    service, site, _ = custodian
    t = now_ms() - 10_000
    gone = site.record("r-gone", t - 1_000, t + 1_000)[0]
    kept = site.record("r-kept", t - 1_000, t + 1_000)[0]
    deletion = RecordingDeletion(site.site_id, "cam-front", ("r-gone",), now_ms())
    meanwhile(service, lambda: service.deletions.take(site.sign(deletion).encode(), site.site_id))
    out = release(service, site, [gone, kept], "n-1")
    assert out.refusal is None
    by_id = {r.recording_id: r for r in out.items}
    assert by_id["r-kept"].sealed_share is not None
    assert by_id["r-gone"].sealed_share is None
    assert by_id["r-gone"].reason is Reason.RECORDING_DELETED
    entry = json.loads(out.receipt.entry)
    assert entry["released"]["count"] == 1
    assert entry["refused"]["reasons"] == {"recording_deleted": 1}


def test_a_close_taken_while_opening_refuses_the_request(
    custodian: tuple[EscrowService, Site, Ed25519SigningKey],
) -> None:
    service, site, op_key = custodian
    t = now_ms() - 10_000
    rec = site.record("r-1", t - 1_000, t + 1_000)[0]
    close = sign_statement(AlarmClose(site.site_id, "panel-1", "ev-1", OPERATOR, now_ms()), op_key)
    caller = Caller("operator", OPERATOR, f"operator:{OPERATOR}", "n-close", now_ms() + 60_000)
    meanwhile(service, lambda: service.alarm_closes.take_from(caller, close.encode(), site.site_id))
    out = release(service, site, [rec], "n-2")
    assert out.refusal is not None and out.refusal.reason is Reason.ALARM_CLOSED
    entry = json.loads(out.receipt.entry)
    assert entry["type"] == "refusal" and entry["reason"] == "alarm_closed"


def test_migration_0002_matches_the_tables_and_reverses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            assert compare_metadata(ctx, metadata) == []
        downgrade(url, "0001_escrow")
        assert not {"escrow_alarm_closes", "escrow_deletions", "escrow_deleted_recordings"} & set(
            inspect(engine).get_table_names()
        )
        upgrade(url)
        assert "escrow_deleted_recordings" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
