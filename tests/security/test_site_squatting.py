"""Attack: site-id squatting. Before a customer enrolls its site, an attacker who knows (or
guesses) the site's id claims it first, at every custodian and at the storage service, with
SiteKeys self-signed by a key of its own. With free-form ids the custodians pinned the
attacker's key (trust on first use) and the real enrollment failed with ``pin_mismatch``.

Site ids are self-certifying (crypto.siteid): an id ends with a tag of the key it is first
enrolled with. Every custodian and the storage service refuse the squatter's SiteKeys
(``site_id_not_bound``) by that pure check, each on its own (security does not depend on the
storage service), nothing is pinned or logged for the id, and the real customer's enrollment
then succeeds. Control: the squatter enrolls an id bound to its own key.

On the whole system: storage on PostgreSQL + MinIO and three custodians (t = 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from clients.customer.state import CustomerState
from common.http import SignedClient
from common.time import now_ms
from crypto.age.x25519 import generate_identity
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.escrow import CustodianPublicKey
from crypto.siteid import site_id_for
from crypto.statements import Custodian, SignedStatement, SiteKeys, sign_statement
from tests.clients.customer_world import World, cli
from tests.escrow.ends_support import log_entries
from tests.support.stack import stack  # noqa: F401 (the stack fixture)


def site_keys(
    world: World,
    site_id: str,
    key: Ed25519SigningKey,
    customer_key: Ed25519PublicKey | None = None,
) -> SignedStatement:
    """SiteKeys v1 for ``site_id`` listing the real custodians, signed by ``key`` and naming
    ``customer_key`` (default: ``key``'s, self-signed)."""
    custodians = []
    for url in world.custodian_urls:
        info = httpx.get(url + "/v1/custodian", timeout=10).json()
        custodians.append(
            Custodian(
                info["custodian_id"],
                CustodianPublicKey.from_text(info["escrow_key"]),
                Ed25519PublicKey.from_text(info["log_key"]),
                url,
            )
        )
    keys = SiteKeys(
        site_id,
        1,
        customer_key or key.public_key,
        (generate_identity().recipient(),),
        tuple(custodians),
        2,
        now_ms(),
    )
    return sign_statement(keys, key)


def claim(world: World, signed: SignedStatement, key: Ed25519SigningKey) -> list[httpx.Response]:
    """Post ``signed`` to every custodian, then create the site at the storage service in a
    request signed by ``key`` (keyid ``customer:<site id>``)."""
    body = {"site_keys": signed.to_json()}
    out = [httpx.post(url + "/v1/sites", json=body, timeout=10) for url in world.custodian_urls]
    site_id = signed.unverified_statement.site_id  # type: ignore[attr-defined]
    with SignedClient(world.storage.url, f"customer:{site_id}", key) as client:
        out.append(client.post("/v1/sites", json=body))
    return out


def code(r: httpx.Response) -> tuple[int, Any]:
    return r.status_code, r.json().get("error", {}).get("code")


def site_entries(world: World, site_id: str) -> list[dict[str, Any]]:
    """The entries naming ``site_id`` in every custodian's log."""
    out = []
    for c in world.custodians:
        size = int(httpx.get(c.url + "/v1/log/checkpoint", timeout=10).text.split("\n")[1])
        entries = log_entries(c) if size else []
        out += [e for e in entries if e.get("site_id") == site_id]
    return out


def test_a_squatter_cannot_claim_the_customers_site_id(stack: World, tmp_path: Path) -> None:  # noqa: F811
    world = stack
    state = tmp_path / "customer"
    env = {"CAMVAULT_CUSTOMER_DIR": str(state)}
    cli("customer", "init", env=env)
    victim_id = site_id_for(CustomerState(state).site_key().public_key, "home")

    # The squatter knows the id and claims it first, everywhere, under its own key.
    squatter = Ed25519SigningKey.generate()
    answers = claim(world, site_keys(world, victim_id, squatter), squatter)
    assert [code(r) for r in answers] == [(403, "site_id_not_bound")] * 3 + [
        (422, "site_id_not_bound")
    ]
    # Or naming the victim's public key, which it cannot sign for.
    victim_key = CustomerState(state).site_key().public_key
    forged = site_keys(world, victim_id, squatter, customer_key=victim_key)
    for url in world.custodian_urls:
        r = httpx.post(url + "/v1/sites", json={"site_keys": forged.to_json()}, timeout=10)
        assert code(r) == (409, "pin_mismatch"), r.text
    with SignedClient(world.storage.url, f"customer:{victim_id}", squatter) as client:
        r = client.post("/v1/sites", json={"site_keys": forged.to_json()})
    assert code(r) == (401, "signature_invalid"), r.text
    # Nothing was pinned or logged for the id; the storage service holds no such site.
    assert site_entries(world, victim_id) == []

    # The real customer's enrollment succeeds everywhere.
    create = ["customer", "site", "create", "--label", "home", "--storage", world.storage.url]
    for url in world.custodian_urls:
        create += ["--custodian", url]
    out = cli(*create, env=env).output
    assert f"site {victim_id}: 2 of 3" in out
    entries = site_entries(world, victim_id)
    assert [e["type"] for e in entries] == ["site-keys"] * 3
    assert {e["customer_key"] for e in entries} == {victim_key.to_text()}
    # ... and a claim of the now pinned id is refused (not signed by the pinned key).
    answers = claim(world, site_keys(world, victim_id, squatter), squatter)
    assert [code(r) for r in answers] == [(409, "pin_mismatch")] * 3 + [(422, "site_id_not_bound")]


def test_control_an_id_bound_to_the_squatters_own_key_is_enrolled(stack: World) -> None:  # noqa: F811
    world = stack
    squatter = Ed25519SigningKey.generate()
    own = site_id_for(squatter.public_key, "home")
    answers = claim(world, site_keys(world, own, squatter), squatter)
    assert [r.status_code for r in answers] == [200, 200, 200, 201], [r.text for r in answers]
    assert [e["type"] for e in site_entries(world, own)] == ["site-keys"] * 3
