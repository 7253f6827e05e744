"""Hybrid (ML-KEM-768 + X25519) escrow stanzas on the real services: a site whose custodians
publish hybrid keys records, an alarm releases, the operator decrypts; tampered halves and a
custodian without a hybrid key are refused with their reason codes (docs/ESCROW.md)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from clients.api.escrow import CustodianEndpoint
from clients.common import signed_from_json
from clients.operator.release import CustodianRelease, Recording, request_release
from common.time import now_ms
from crypto.age.format import Stanza, encode_header, parse_header
from crypto.age.mlkem import MLKEM_CIPHERTEXT_SIZE
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64decode, b64encode
from crypto.escrow import ESCROW_STANZA_TYPE, HYBRID_STANZA_TYPE, SessionKey
from crypto.statements import OperatorRegistration, OperatorRole, SiteKeys, sign_statement
from tests.clients.customer_world import (  # noqa: F401 (the `world` fixture)
    Customer,
    World,
    setup_customer,
    setup_operator,
    world_fixture,
)


def endpoints(world: World) -> list[CustodianEndpoint]:
    from clients.api.escrow import fetch_custodian

    return [fetch_custodian(u) for u in world.custodian_urls]


def register(world: World) -> tuple[str, Ed25519SigningKey]:
    oid = f"op-{uuid.uuid4().hex[:6]}"
    key = Ed25519SigningKey.generate()
    reg = sign_statement(
        OperatorRegistration(oid, key.public_key, OperatorRole.OPERATOR, now_ms()), world.arc_key
    )
    for url in world.custodian_urls:
        r = httpx.post(url + "/v1/operators", json={"registration": reg.to_json()}, timeout=10)
        assert r.status_code == 200, r.text
    return oid, key


def alarm_and_recording(c: Customer) -> tuple[object, Recording]:
    trigger = now_ms() - 5_000
    rid = c.camera.record(trigger - 2_000)
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    header = c.camera.headers[rid]
    meta = c.camera.metas[rid]
    return signed_from_json(a["event"]), Recording(header, meta)


def ask(
    world: World, ep: CustodianEndpoint, justification: object, rec: Recording
) -> CustodianRelease:
    oid, key = register(world)
    return request_release(
        ep,
        oid,
        key,
        purpose="alarm-verification",
        justification=justification,  # type: ignore[arg-type]
        session=SessionKey.generate(),
        recordings=[rec],
    )


def with_stanza(rec: Recording, key_id: str, change: object) -> Recording:
    """``rec`` with the stanza of ``key_id`` replaced by ``change(stanza)``."""
    header = parse_header(rec.header)
    stanzas = [change(s) if s.args and s.args[0] == key_id else s for s in header.stanzas]  # type: ignore[operator]
    return Recording(encode_header(stanzas, header.mac), rec.metadata)


def flip_enc(offset: int) -> object:
    def change(s: Stanza) -> Stanza:
        enc = bytearray(b64decode(s.args[4]))
        enc[offset] ^= 0x01
        return Stanza(s.type, (*s.args[:4], b64encode(bytes(enc))), s.body)

    return change


def test_site_with_hybrid_custodians_records_releases_and_decrypts(
    world: World, tmp_path: Path
) -> None:
    c = setup_customer(world, tmp_path, pq_escrow=True)
    keys: SiteKeys = c.camera.site_keys()
    # every custodian published a hybrid key, and the signed SiteKeys lists them
    assert all(k.hybrid_escrow_key is not None for k in keys.custodians)
    trigger = now_ms() - 8_000
    rids = [c.camera.record(trigger - 4_000), c.camera.record(trigger + 1_000)]
    # the camera chose the hybrid variant for every custodian (and no X25519 escrow stanza)
    types = [s.type for s in parse_header(c.camera.headers[rids[0]]).stanzas]
    assert types.count(HYBRID_STANZA_TYPE) == 3 and ESCROW_STANZA_TYPE not in types
    a = c.panel.raise_alarm(triggered_at_ms=trigger)
    op = setup_operator(world, tmp_path)
    out_dir = tmp_path / "released"
    out = op.run("release", "--alarm", a["alarm_id"], "--out", out_dir).output
    assert "2 of 2 recording(s) decrypted" in out
    for rid in rids:
        assert (out_dir / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]


def test_x25519_site_still_records_x25519_stanzas(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path, pq_escrow=False)  # --no-pq-escrow: SiteKeys as before
    keys = c.camera.site_keys()
    assert all(k.hybrid_escrow_key is None for k in keys.custodians)
    assert "hybrid_escrow_key" not in keys.custodians[0].to_json()
    rid = c.camera.record(now_ms() - 4_000)
    types = [s.type for s in parse_header(c.camera.headers[rid]).stanzas]
    assert types.count(ESCROW_STANZA_TYPE) == 3 and HYBRID_STANZA_TYPE not in types


def test_tampered_halves_are_refused_with_their_reason(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path, pq_escrow=True)
    event, rec = alarm_and_recording(c)
    ep = endpoints(world)[0]
    assert ep.hybrid_escrow_key is not None
    kid = ep.hybrid_escrow_key.key_id()
    # control: the honest stanza is released
    honest = ask(world, ep, event, rec)
    assert list(honest.sealed) == [rec.metadata.recording_id] and not honest.refused
    cases = {
        "ML-KEM half": flip_enc(100),
        "X25519 half": flip_enc(MLKEM_CIPHERTEXT_SIZE + 5),
    }
    for what, change in cases.items():
        got = ask(world, ep, event, with_stanza(rec, kid, change))
        assert not got.sealed, what
        reason, message = got.refused[rec.metadata.recording_id]
        assert reason == "stanza_metadata_mismatch", (what, reason, message)
        assert "does not open" in message
    # an X25519 half that is a low-order point: a malformed stanza
    low = with_stanza(
        rec,
        kid,
        lambda s: Stanza(
            s.type,
            (*s.args[:4], b64encode(b64decode(s.args[4])[:MLKEM_CIPHERTEXT_SIZE] + bytes(32))),
            s.body,
        ),
    )
    reason, _ = ask(world, ep, event, low).refused[rec.metadata.recording_id]
    assert reason == "malformed_stanza"


def test_custodian_without_hybrid_key_refuses_hybrid_stanza(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path, pq_escrow=True)
    event, rec = alarm_and_recording(c)
    proc = world.custodians[2]
    ep = endpoints(world)[2]
    assert ep.hybrid_escrow_key is not None
    # The custodian loses its hybrid key file; it holds a log, so it restarts X25519-only
    # (it never makes a new hybrid key once it has a log).
    (proc.workdir / proc.cid / "escrow-pq.key").unlink()
    proc.restart()
    assert endpoints(world)[2].hybrid_escrow_key is None
    got = ask(world, ep, event, rec)
    assert not got.sealed
    reason, message = got.refused[rec.metadata.recording_id]
    assert reason == "no_hybrid_key", message
    assert not (proc.workdir / proc.cid / "escrow-pq.key").exists()
