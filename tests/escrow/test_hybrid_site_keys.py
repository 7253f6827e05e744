"""A custodian's hybrid escrow key in SiteKeys (docs/FORMAT.md part 2 section 3.5), attacked:
a hybrid key whose X25519 half is one of the customer's recipients (its owner would open the
customer's own stanza), an explicit ``null`` (a second encoding of "none"), and
``camvault customer site create --pq-escrow`` when a custodian publishes no hybrid key, each
refused for its reason, against the real custodians; with the honest controls."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.api.escrow import CustodianEndpoint, fetch_custodian
from clients.customer.state import CustomerState
from common.time import now_ms
from crypto.age.x25519 import X25519Recipient, generate_identity
from crypto.canonical import canonical_json
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64url_encode
from crypto.errors import StatementError
from crypto.escrow import CustodianKey, HybridCustodianKey, HybridCustodianPublicKey
from crypto.siteid import site_id_for
from crypto.statements import Custodian, SiteKeys, parse_signed, sign_statement
from crypto.statements.envelope import _signed_message
from tests.clients.customer_world import (  # noqa: F401 (the `world` fixture)
    World,
    cli,
    world_fixture,
)


def first_custodian(world: World) -> CustodianEndpoint:
    ep = fetch_custodian(world.custodian_urls[0])
    assert ep.hybrid_escrow_key is not None
    return ep


def site_keys(
    customer: Ed25519SigningKey,
    recipients: tuple[X25519Recipient, ...],
    first: CustodianEndpoint,
) -> SiteKeys:
    """The world's first custodian (with its hybrid key) and two others without one."""
    custodians = (
        Custodian(
            first.custodian_id, first.escrow_key, first.log_key, first.url, first.hybrid_escrow_key
        ),
        *(
            Custodian(
                f"other-{i}",
                CustodianKey.generate().public_key(),
                Ed25519SigningKey.generate().public_key,
                None,
            )
            for i in (2, 3)
        ),
    )
    return SiteKeys(
        site_id_for(customer.public_key, "pq-site"),
        1,
        customer.public_key,
        recipients,
        custodians,
        2,
        now_ms(),
    )


def signed_raw(body: dict[str, Any], key: Ed25519SigningKey) -> dict[str, Any]:
    """A site-keys envelope over ``body`` as given, properly signed by ``key`` (so that only
    the body can be what a parser refuses)."""
    kind = SiteKeys.TYPE
    sig = key.sign(_signed_message(kind, key.public_key, body))
    return {
        "body": body,
        "sig": b64url_encode(sig),
        "signer": key.public_key.to_text(),
        "type": kind,
    }


def post_site(world: World, envelope: dict[str, Any]) -> httpx.Response:
    return httpx.post(world.custodian_urls[0] + "/v1/sites", json={"site_keys": envelope})


def test_hybrid_key_whose_x25519_half_is_a_recipient_is_refused(world: World) -> None:
    customer = Ed25519SigningKey.generate()
    first = first_custodian(world)
    pq = first.hybrid_escrow_key
    assert pq is not None
    phone = generate_identity().recipient()
    honest = site_keys(customer, (phone,), first)
    # The attack: the custodian's hybrid key reuses (as its X25519 half) a key listed as the
    # customer's recipient, in its own spelling and in another (high bit set: same X25519 key).
    half = pq.x25519_half
    other_spelling = half[:31] + bytes([half[31] | 0x80])
    for x in (half, other_spelling):
        rogue = X25519Recipient(x)
        with pytest.raises(StatementError, match="hybrid_escrow_key's X25519 half is a recipient"):
            site_keys(customer, (phone, rogue), first)
        body = honest.to_json()
        body["recipients"] = [str(phone), str(rogue)]
        env = signed_raw(body, customer)
        with pytest.raises(StatementError, match="X25519 half is a recipient"):
            parse_signed(canonical_json(env))
        r = post_site(world, env)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "malformed_request", r.text
        assert "X25519 half is a recipient" in r.json()["error"]["message"]
    # control: the honest statement (same keys, the recipient not reused) is accepted
    r = post_site(world, sign_statement(honest, customer).to_json())
    assert r.status_code == 200, r.text


def test_explicit_null_hybrid_key_is_refused(world: World) -> None:
    customer = Ed25519SigningKey.generate()
    keys = site_keys(customer, (generate_identity().recipient(),), first_custodian(world))
    body = keys.to_json()
    assert "hybrid_escrow_key" not in body["custodians"][1]  # none: left out
    body["custodians"][1]["hybrid_escrow_key"] = None  # the same "none" spelled a second way
    env = signed_raw(body, customer)
    with pytest.raises(StatementError, match="hybrid_escrow_key: leave it out instead of null"):
        parse_signed(canonical_json(env))
    with pytest.raises(StatementError, match="leave it out instead of null"):
        Custodian.from_json(body["custodians"][1])
    r = post_site(world, env)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "malformed_request", r.text
    assert "leave it out instead of null" in r.json()["error"]["message"]
    # control: left out, the same body signs and enrolls
    del body["custodians"][1]["hybrid_escrow_key"]
    assert parse_signed(canonical_json(signed_raw(body, customer))).unverified_statement == keys
    assert post_site(world, signed_raw(body, customer)).status_code == 200


def log_sizes(world: World) -> list[int]:
    return [
        int(httpx.get(u + "/v1/log/checkpoint", timeout=10).text.splitlines()[1])
        for u in world.custodian_urls
    ]


def hybrid_keys_listed(state_dir: Path) -> list[HybridCustodianPublicKey | None]:
    """The hybrid escrow keys of the SiteKeys the customer state in ``state_dir`` signed."""
    keys = parse_signed(canonical_json(CustomerState(state_dir).config.site_keys))
    assert isinstance(keys.unverified_statement, SiteKeys)
    return [c.hybrid_escrow_key for c in keys.unverified_statement.custodians]


def test_cli_pq_escrow_refused_when_a_custodian_has_no_hybrid_key(
    world: World, tmp_path: Path
) -> None:
    """--pq-escrow with a custodian lacking a hybrid key: one-line error, nothing written.
    Also the default (hybrid exactly when every custodian publishes a key) and
    --no-pq-escrow."""
    proc = world.custodians[2]
    key_file = proc.workdir / proc.cid / "escrow-pq.key"
    saved = tmp_path / "escrow-pq.key.saved"
    shutil.copy2(key_file, saved)
    env = {"CAMVAULT_CUSTOMER_DIR": str(tmp_path / "customer")}
    cli("customer", "init", env=env)
    args = ["customer", "site", "create", "--label", "pq", "--storage", world.storage.url]
    for u in world.custodian_urls:
        args += ["--custodian", u]

    def customer(name: str) -> dict[str, str]:
        env = {"CAMVAULT_CUSTOMER_DIR": str(tmp_path / name)}
        cli("customer", "init", env=env)
        return env

    # The default with every custodian publishing a hybrid key: hybrid escrow (and a log at
    # every custodian, so that the one below restarts without making a new hybrid key).
    before = log_sizes(world)
    out = cli(*args, env=customer("default")).output
    assert "escrow     hybrid ML-KEM-768 + X25519" in out, out
    assert all(b > a for a, b in zip(before, log_sizes(world), strict=True))  # enrolled, logged
    assert None not in hybrid_keys_listed(tmp_path / "default")
    # --no-pq-escrow: X25519 only, as before hybrid keys existed
    cli(*args, "--no-pq-escrow", env=customer("opt-out"))
    assert hybrid_keys_listed(tmp_path / "opt-out") == [None, None, None]
    try:
        # The custodian loses its hybrid key; holding a log, it restarts X25519-only.
        key_file.unlink()
        proc.restart()
        assert httpx.get(proc.url + "/v1/custodian").json().get("hybrid_escrow_key") is None
        before = log_sizes(world)
        out = cli(*args, "--pq-escrow", env=env, code=1).output
        lines = out.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("camvault: error: "), out
        assert "--pq-escrow" in lines[0] and proc.cid in lines[0], out
        assert "Traceback" not in out
        # nothing written: no site in the customer's state, nothing enrolled at any custodian
        config = CustomerState(tmp_path / "customer").config
        assert config.site_id is None and config.site_keys is None
        assert log_sizes(world) == before
        # the default then falls back to X25519 for every custodian (the site still works)
        out = cli(*args, env=customer("fallback")).output
        assert "escrow     X25519" in out, out
        assert hybrid_keys_listed(tmp_path / "fallback") == [None, None, None]
    finally:
        shutil.copy2(saved, key_file)
        proc.restart()
    # control: with every custodian publishing its hybrid key again, --pq-escrow enrolls a
    # site whose SiteKeys lists the three hybrid keys
    cli(*args, "--pq-escrow", env=env)
    listed = hybrid_keys_listed(tmp_path / "customer")
    assert None not in listed
    assert listed[2] == HybridCustodianKey.from_text(saved.read_text().strip()).public_key()
