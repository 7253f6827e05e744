"""Adversary: the storage operator, holding the whole storage database (PostgreSQL), every
object of its bucket (MinIO), its configuration, data directory and log. It cannot decrypt a
recording (no identity or file key anywhere, no plaintext, and no candidate key found in
any of it opens a header: the customer's identity does, the control), cannot make a client
accept a statement it forges (the camera's pinned SiteKeys, the custodians' check of an
alarm), and cannot get a share from the custodians with what it holds (every custodian
refuses and logs it; the customer's audit lists the refusals of its site)."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from clients.common import signed_from_json
from clients.operator.release import Recording
from common.http import SignedClient
from common.time import now_ms
from crypto import age
from crypto.age.bech32 import decode as bech32_decode
from crypto.age.format import FileKey
from crypto.age.x25519 import X25519Identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import CryptoError
from crypto.statements import (
    Consent,
    ConsentScope,
    OperatorRole,
    Purpose,
    SignedStatement,
    SiteKeys,
    parse_signed,
    sign_statement,
    verify_site_keys,
)
from tests.security.adversaries.support import (
    MAINT,
    Arena,
    Home,
    Operator,
    audit_reports,
    cli_operator,
    enlist,
    event,
    new_home,
    refused_everywhere,
    released,
)
from tests.security.matrix import attack
from tests.storage.support import iter_objects
from tests.storage.test_dump import encodings, openers


@dataclass
class Holdings:
    """Everything the storage side holds, and what the test knows to look for."""

    db: bytes  # every value of every table
    site_rows: bytes  # the values of the site's rows (and of the tables of no site)
    settings: bytes  # environment and settings
    objects: bytes  # every object of the bucket
    config: bytes  # settings, environment, data directory, service log
    headers: list[bytes]  # the age headers of the recordings table
    home: Home
    markers: list[bytes]  # plaintext markers inside the recordings
    recordings: list[Recording]

    @property
    def everything(self) -> bytes:
        return b"\n".join((self.db, self.objects, self.config))


def _values(rows: Any) -> list[bytes]:
    out: list[bytes] = []
    for row in rows:
        for value in row:
            if isinstance(value, bytes | memoryview):
                out.append(bytes(value))
            elif value is not None:
                out.append(str(value).encode())
    return out


def _db(arena: Arena, site_id: str) -> tuple[bytes, bytes, list[bytes]]:
    """Every value of every table; the values of ``site_id``'s rows (and of the tables that
    belong to no site, but the signature nonces); the headers of its recordings."""
    engine = arena.world.storage.engine()
    parts: list[bytes] = []
    mine: list[bytes] = []
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            for table in inspector.get_table_names():
                parts += _values(conn.execute(sa.text(f'SELECT * FROM "{table}"')))
                columns = {c["name"] for c in inspector.get_columns(table)}
                if "site_id" in columns:
                    q = sa.text(f'SELECT * FROM "{table}" WHERE site_id = :s')
                    mine += _values(conn.execute(q, {"s": site_id}))
                elif table != "request_nonces":
                    mine += _values(conn.execute(sa.text(f'SELECT * FROM "{table}"')))
            rows = conn.execute(
                sa.text("SELECT header FROM recordings WHERE site_id = :s AND header IS NOT NULL"),
                {"s": site_id},
            )
            headers = [bytes(r[0]) for r in rows]
    finally:
        engine.dispose()
    return b"\n".join(parts), b"\n".join(mine), headers


def _settings(arena: Arena) -> bytes:
    """The storage service's environment and settings, secrets in clear."""
    service = arena.world.storage
    parts = [f"{k}={v}".encode() for k, v in service.env.items()]
    for name, value in service.settings.model_dump().items():
        secret = getattr(value, "get_secret_value", None)
        parts.append(f"{name}={secret() if secret else value}".encode())
    return b"\n".join(parts)


def _files(arena: Arena) -> bytes:
    """Every file of the service's directory: data, log."""
    root = arena.world.storage.workdir
    return b"\n".join(f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file())


@pytest.fixture(scope="module")
def holdings(arena: Arena) -> Holdings:
    home = new_home(arena)
    markers, recs = [], []
    t = now_ms() - 60_000
    for i in range(3):
        marker = f"PLAINTEXT-MARKER-{uuid.uuid4().hex}".encode()
        markers.append(marker)
        recs.append(home.upload(t + i * 2_000, plaintext=marker * 40))
    home.alarm()  # an alarm row with the panel's signed event
    db, site_rows, headers = _db(arena, home.site_id)
    objects = b"\n".join(data for _, data in iter_objects(arena.world.storage.store()))
    settings = _settings(arena)
    config = settings + b"\n" + _files(arena)
    return Holdings(db, site_rows, settings, objects, config, headers, home, markers, recs)


def _candidates(blob: bytes, size: int) -> set[bytes]:
    """Every token of ``blob`` that decodes (hex, base64, base64url, Bech32) to ``size`` bytes."""
    out: set[bytes] = set()
    for token in set(re.findall(rb"[A-Za-z0-9+/_=-]{16,}", blob)):
        for decode in (
            binascii.unhexlify,
            base64.b64decode,
            base64.urlsafe_b64decode,
            lambda t: bech32_decode(t.decode())[1],
        ):
            try:
                raw = decode(
                    token + b"=" * (-len(token) % 4) if decode is not binascii.unhexlify else token
                )
            except Exception:
                continue
            if len(raw) == size:
                out.add(raw)
    return out


@attack(
    "STO-01",
    "decrypt a recording with any key found in the DB, bucket, config or log",
    "no_key_opens",
)
def test_nothing_held_opens_a_recording(holdings: Holdings) -> None:
    assert len(holdings.headers) == len(holdings.recordings)
    for rec in holdings.recordings:  # the bucket really holds the payloads
        assert holdings.home.payload(rec) in holdings.objects
    identities = holdings.home.state.identities()
    tried = 0
    for header in holdings.headers:
        # Control: the customer's identity opens every header the storage holds.
        age.decrypt_header(identities, header)
        for raw in _candidates(holdings.everything, 32):
            tried += 1
            with pytest.raises(CryptoError):
                age.decrypt_header([X25519Identity(raw)], header)
    assert tried > 0  # the dump does hold 32-byte values (keys, hashes) to try


@attack(
    "STO-02",
    "find a file key or identity in the site's DB rows or the settings (every 16/32-byte window)",
    "no_key_found",
)
def test_no_window_of_the_db_or_config_is_a_key(arena: Arena, holdings: Holdings) -> None:
    state = holdings.home.state
    recipients = {state.identity().recipient().public_key} | {e.escrow_key.data for e in arena.eps}
    recs = holdings.recordings
    blob = holdings.site_rows + holdings.settings
    assert openers(blob, recipients, recs) == []  # type: ignore[arg-type]
    # Control: the same search finds a planted file key.
    _, file_key = age.decrypt_header(state.identities(), recs[0].header)
    assert openers(b"x" + file_key.data + b"y", recipients, recs[:1]) == ["file key at offset 1"]  # type: ignore[arg-type]


@attack(
    "STO-03",
    "find plaintext, file keys or the customer's secrets anywhere it holds",
    "no_secret_found",
)
def test_no_plaintext_or_secret_is_held(holdings: Holdings) -> None:
    state = holdings.home.state
    secrets: list[bytes] = [
        bech32_decode(state.identity().to_text())[1],
        state.site_key().seed,
        holdings.home.customer.camera.key.seed,
        holdings.home.customer.panel.key.seed,
    ]
    for header in holdings.headers:
        secrets.append(age.decrypt_header(state.identities(), header)[1].data)
    blob = holdings.everything
    for s in secrets:
        for form in encodings(s):
            assert form not in blob
    assert state.identity().to_text().encode() not in blob
    for marker in holdings.markers:
        assert marker not in blob
    # Control: the markers are what the recordings hold.
    rec = holdings.recordings[0]
    _, fk = age.decrypt_header(state.identities(), rec.header)
    assert holdings.markers[0] in holdings.home.plaintext(rec)
    assert isinstance(fk, FileKey)


@attack(
    "STO-04",
    "make a camera accept site keys it signed (its own recipient)",
    "not_signed_by_pinned_key",
)
def test_forged_site_keys_are_refused_by_the_camera(holdings: Holdings) -> None:
    home = holdings.home
    pinned_signed = signed_from_json(home.state.config.site_keys or {})
    pinned = verify_site_keys(pinned_signed, None)
    rogue = Ed25519SigningKey.generate()
    forged = sign_statement(
        SiteKeys(
            site_id=pinned.site_id,
            version=pinned.version + 1,
            customer_key=rogue.public_key,
            recipients=(*pinned.recipients, X25519Identity.generate().recipient()),
            custodians=pinned.custodians,
            threshold=pinned.threshold,
            issued_at_ms=now_ms(),
        ),
        rogue,
    )
    with pytest.raises(CryptoError):
        verify_site_keys(parse_signed(forged.encode()), pinned)  # what the camera does
    genuine = sign_statement(
        SiteKeys(
            site_id=pinned.site_id,
            version=pinned.version + 1,
            customer_key=pinned.customer_key,
            recipients=pinned.recipients,
            custodians=pinned.custodians,
            threshold=pinned.threshold,
            issued_at_ms=now_ms(),
        ),
        home.key,
    )
    assert verify_site_keys(parse_signed(genuine.encode()), pinned).version == pinned.version + 1


@attack("STO-05", "an alarm event it signed itself, presented to the custodians", "bad_signature")
def test_forged_alarm_from_the_storage_side(arena: Arena, holdings: Holdings) -> None:
    _, op = cli_operator(arena)
    t = now_ms() - 2_000
    rec = holdings.home.upload(t - 1_000)
    forged = event(holdings.home, t, key=Ed25519SigningKey.generate())
    refused_everywhere(arena, op, forged, [rec], "bad_signature")
    audit_reports(holdings.home, "bad_signature")
    released(arena, holdings.home, op, event(holdings.home, t), rec)


def _stored_alarm(arena: Arena, site_id: str) -> SignedStatement:
    """The panel-signed AlarmEvent of the site, read from the storage database."""
    engine = arena.world.storage.engine()
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT event FROM alarms WHERE site_id = :s ORDER BY created_ms DESC"),
                {"s": site_id},
            ).first()
    finally:
        engine.dispose()
    assert row is not None
    raw = row[0]
    return parse_signed(bytes(raw) if isinstance(raw, bytes | memoryview) else str(raw).encode())


@attack(
    "STO-06",
    "its stored (real) alarm event and headers, under a key of its own",
    "operator_not_registered",
)
def test_real_alarm_with_its_own_key(arena: Arena, holdings: Holdings) -> None:
    holdings.home.alarm()  # the panel's newest alarm, as the storage DB keeps it
    alarm = _stored_alarm(arena, holdings.home.site_id)
    t = alarm.unverified_statement.triggered_at_ms  # type: ignore[attr-defined]
    rec = holdings.home.upload(t - 1_000)
    me: Operator = ("storage-ops", Ed25519SigningKey.generate())
    refused_everywhere(arena, me, alarm, [rec], "operator_not_registered")
    _, op = cli_operator(arena)  # control: a registered operator, the same alarm
    released(arena, holdings.home, op, alarm, rec)


@attack(
    "STO-07",
    "its stored alarm event, claiming a registered operator's id (key from the DB is public)",
    "bad_request_signature",
)
def test_real_alarm_as_a_registered_operator(arena: Arena, holdings: Holdings) -> None:
    holdings.home.alarm()  # the panel's newest alarm, as the storage DB keeps it
    alarm = _stored_alarm(arena, holdings.home.site_id)
    t = alarm.unverified_statement.triggered_at_ms  # type: ignore[attr-defined]
    rec = holdings.home.upload(t - 1_000)
    op = enlist(arena)
    refused_everywhere(
        arena, (op[0], Ed25519SigningKey.generate()), alarm, [rec], "bad_request_signature"
    )
    released(arena, holdings.home, op, alarm, rec)


@attack(
    "STO-08",
    "its stored consent of a technician, claiming that technician",
    "bad_request_signature",
)
def test_stored_consent_as_the_technician(arena: Arena, holdings: Holdings) -> None:
    tech = enlist(arena, OperatorRole.TECHNICIAN)
    t = now_ms() - 60_000
    rec = holdings.home.upload(t)
    now = now_ms()
    consent = holdings.home.sign(
        Consent(
            consent_id=f"consent-{uuid.uuid4().hex[:8]}",
            site_id=holdings.home.site_id,
            grantee_id=tech[0],
            grantee_key=None,
            cameras=("cam-front",),
            scope=(ConsentScope.RECORDINGS,),
            recordings_from_ms=t - 1_000,
            recordings_to_ms=t + 10_000,
            not_before_ms=now - 60_000,
            not_after_ms=now + 600_000,
            purpose=Purpose.MAINTENANCE,
            issued_at_ms=now,
        )
    )
    holdings.home.store_consent(consent)  # now in the storage DB
    refused_everywhere(
        arena,
        (tech[0], Ed25519SigningKey.generate()),
        consent,
        [rec],
        "bad_request_signature",
        MAINT,
    )
    released(arena, holdings.home, tech, consent, rec, MAINT)


@attack(
    "STO-09", "ask for shares with the headers it holds and no justification", "no_justification"
)
def test_headers_alone(arena: Arena, holdings: Holdings) -> None:
    op = enlist(arena)  # even a registered operator key (a colluding ARC employee)
    rec = holdings.recordings[-1]
    refused_everywhere(arena, op, None, [rec], "no_justification")
    audit_reports(holdings.home, "no_justification", listed=False)


@attack(
    "STO-10",
    "read the site's notices at a custodian, signing as the customer with its own key",
    "bad_request_signature",
)
def test_customer_routes_at_the_custodians(arena: Arena, holdings: Holdings) -> None:
    site = holdings.home.site_id
    for c in arena.world.custodians:
        with SignedClient(c.url, f"customer:{site}", Ed25519SigningKey.generate()) as client:
            r = client.get(f"/v1/sites/{site}/notices")
        assert r.status_code == 401 and r.json()["error"]["code"] == "bad_request_signature", r.text
        with holdings.home.customer_client(c.url) as client:
            assert client.get(f"/v1/sites/{site}/notices").status_code == 200
