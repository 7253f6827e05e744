"""Adversary: a technician (ARC operator of role technician) who holds headers and asks the
custodians for shares with no consent, someone else's, a narrower one than what it asks
for (another camera, another time, another kind), one not yet valid or expired, or one the
customer revoked. Every custodian refuses and logs it; the customer's audit shows it. The
control: the customer's valid consent for exactly that recording releases it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from clients.api.errors import ServiceRefused
from clients.customer.consents import revoke
from clients.operator.state import OperatorState
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.metadata import RecordingKind
from crypto.statements import Consent, ConsentScope, Purpose, SignedStatement, sign_statement
from tests.clients.customer_world import Operator as CliOperator
from tests.security.adversaries.support import (
    ALARM,
    MAINT,
    Arena,
    Home,
    Operator,
    audit_reports,
    cli_operator,
    items_refused_everywhere,
    new_home,
    refused_everywhere,
    released,
)
from tests.security.matrix import attack

HOUR = 3_600_000


@dataclass
class Shop:
    home: Home
    cli: CliOperator
    tech: Operator


@pytest.fixture(scope="module")
def shop(arena: Arena) -> Shop:
    cli, tech = cli_operator(arena, "technician")
    return Shop(new_home(arena), cli, tech)


def consent(
    home: Home,
    grantee: str,
    *,
    lo: int,
    hi: int,
    cameras: tuple[str, ...] = ("cam-front",),
    scope: tuple[ConsentScope, ...] = (ConsentScope.RECORDINGS,),
    not_before: int | None = None,
    not_after: int | None = None,
    key: Ed25519SigningKey | None = None,
    site_id: str | None = None,
) -> SignedStatement:
    """A maintenance consent signed by the customer (or ``key``), stored at the storage
    service when the customer signed it."""
    now = now_ms()
    body = Consent(
        consent_id=f"consent-{uuid.uuid4().hex[:8]}",
        site_id=site_id or home.site_id,
        grantee_id=grantee,
        grantee_key=None,
        cameras=cameras,
        scope=scope,
        recordings_from_ms=lo,
        recordings_to_ms=hi,
        not_before_ms=now - 60_000 if not_before is None else not_before,
        not_after_ms=now + HOUR if not_after is None else not_after,
        purpose=Purpose.MAINTENANCE,
        issued_at_ms=now,
    )
    if key is not None:
        return sign_statement(body, key)
    return home.sign(body)


def good(shop: Shop, t: int) -> SignedStatement:
    return consent(shop.home, shop.tech[0], lo=t - 10_000, hi=t + 10_000)


@attack("TEC-01", "ask for shares with no consent", "no_justification")
def test_no_consent(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    refused_everywhere(arena, shop.tech, None, [rec], "no_justification", MAINT)
    audit_reports(shop.home, "no_justification", listed=False)
    released(arena, shop.home, shop.tech, good(shop, t), rec, MAINT)


@attack("TEC-02", "a consent granted to someone else", "consent_wrong_grantee")
def test_consent_of_another_grantee(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    _, other = cli_operator(arena, "technician")
    theirs = consent(shop.home, other[0], lo=t - 10_000, hi=t + 10_000)
    refused_everywhere(arena, shop.tech, theirs, [rec], "consent_wrong_grantee", MAINT)
    audit_reports(shop.home, "consent_wrong_grantee")
    released(arena, shop.home, other, theirs, rec, MAINT)  # control: its grantee


@attack("TEC-03", "another site's consent for this site's recordings", "wrong_site")
def test_consent_of_another_site(arena: Arena, shop: Shop) -> None:
    other = new_home(arena)
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    foreign = consent(other, shop.tech[0], lo=t - 10_000, hi=t + 10_000)
    items_refused_everywhere(arena, shop.tech, foreign, [rec], "wrong_site", MAINT)
    released(arena, other, shop.tech, foreign, other.upload(t), MAINT)


@attack("TEC-04", "a consent signed by a key that is not the site's", "bad_signature")
def test_forged_consent(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    forged = consent(
        shop.home, shop.tech[0], lo=t - 10_000, hi=t + 10_000, key=Ed25519SigningKey.generate()
    )
    refused_everywhere(arena, shop.tech, forged, [rec], "bad_signature", MAINT)
    audit_reports(shop.home, "bad_signature")
    released(arena, shop.home, shop.tech, good(shop, t), rec, MAINT)


@attack("TEC-05", "a consent for another camera", "consent_out_of_scope")
def test_other_camera(arena: Arena, shop: Shop) -> None:
    cam = shop.home.camera("cam-side")
    t = now_ms() - 60_000
    rec = shop.home.upload(t, camera=cam)
    narrow = good(shop, t)  # cam-front only
    items_refused_everywhere(arena, shop.tech, narrow, [rec], "consent_out_of_scope", MAINT)
    audit_reports(shop.home, "consent_out_of_scope")
    released(arena, shop.home, shop.tech, narrow, shop.home.upload(t), MAINT)


@attack("TEC-06", "a consent for another time range", "consent_out_of_scope")
def test_other_time(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t - 30_000)
    narrow = good(shop, t)  # t - 10 s .. t + 10 s
    items_refused_everywhere(arena, shop.tech, narrow, [rec], "consent_out_of_scope", MAINT)
    released(arena, shop.home, shop.tech, narrow, shop.home.upload(t), MAINT)


@attack("TEC-07", "a stills-only consent used for video", "consent_out_of_scope")
def test_other_kind(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    stills = consent(
        shop.home, shop.tech[0], lo=t - 10_000, hi=t + 10_000, scope=(ConsentScope.STILLS,)
    )
    items_refused_everywhere(arena, shop.tech, stills, [rec], "consent_out_of_scope", MAINT)
    still = shop.home.upload(t, kind=RecordingKind.STILL, duration_ms=1)
    released(arena, shop.home, shop.tech, stills, still, MAINT)


@attack("TEC-08", "an expired consent", "consent_expired")
def test_expired(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    old = consent(
        shop.home,
        shop.tech[0],
        lo=t - 10_000,
        hi=t + 10_000,
        not_before=now_ms() - 2 * HOUR,
        not_after=now_ms() - HOUR,
    )
    refused_everywhere(arena, shop.tech, old, [rec], "consent_expired", MAINT)
    audit_reports(shop.home, "consent_expired")
    released(arena, shop.home, shop.tech, good(shop, t), rec, MAINT)


@attack("TEC-09", "a consent not valid yet", "consent_not_yet_valid")
def test_not_yet_valid(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    later = consent(
        shop.home,
        shop.tech[0],
        lo=t - 10_000,
        hi=t + 10_000,
        not_before=now_ms() + HOUR,
        not_after=now_ms() + 2 * HOUR,
    )
    refused_everywhere(arena, shop.tech, later, [rec], "consent_not_yet_valid", MAINT)
    audit_reports(shop.home, "consent_not_yet_valid")
    released(arena, shop.home, shop.tech, good(shop, t), rec, MAINT)


@attack("TEC-10", "a consent the customer revoked", "consent_revoked")
def test_revoked(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    c = good(shop, t)
    shop.home.store_consent(c)
    released(arena, shop.home, shop.tech, c, rec, MAINT)  # control: before the revocation
    acks = revoke(shop.home.state, c.unverified_statement.consent_id)  # type: ignore[attr-defined]
    assert len(acks) == 3, acks
    refused_everywhere(arena, shop.tech, c, [rec], "consent_revoked", MAINT)
    audit_reports(shop.home, "consent_revoked")


@attack("TEC-11", "a maintenance consent presented as an alarm", "wrong_purpose")
def test_consent_as_alarm(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    c = good(shop, t)
    refused_everywhere(arena, shop.tech, c, [rec], "wrong_purpose", ALARM)
    audit_reports(shop.home, "wrong_purpose")
    released(arena, shop.home, shop.tech, c, rec, MAINT)


@attack("TEC-12", "read headers at the storage service without a consent", "no_justification")
def test_storage_without_consent(arena: Arena, shop: Shop) -> None:
    t = now_ms() - 60_000
    rec = shop.home.upload(t)
    m = rec.metadata
    state = OperatorState(shop.cli.state)
    _, other = cli_operator(arena, "technician")
    # a consent of another technician
    shop.home.store_consent(consent(shop.home, other[0], lo=t - 1, hi=t + 5_000))
    with state.storage() as storage, pytest.raises(ServiceRefused) as info:
        storage.recording(shop.home.site_id, m.camera_id, m.recording_id, arc=True)
    assert info.value.code == "no_justification"
    shop.home.store_consent(good(shop, t))  # control: its own consent
    with state.storage() as storage:
        assert storage.recording(shop.home.site_id, m.camera_id, m.recording_id, arc=True)["header"]


@attack("TEC-13", "read headers at the storage service after the revocation", "no_justification")
def test_storage_after_revocation(arena: Arena) -> None:
    home = new_home(arena)
    cli, tech = cli_operator(arena, "technician")
    t = now_ms() - 60_000
    rec = home.upload(t)
    m = rec.metadata
    c = consent(home, tech[0], lo=t - 1, hi=t + 5_000)
    home.store_consent(c)
    state = OperatorState(cli.state)
    with state.storage() as storage:  # control
        assert storage.recording(home.site_id, m.camera_id, m.recording_id, arc=True)["header"]
    revoke(home.state, c.unverified_statement.consent_id)  # type: ignore[attr-defined]
    with state.storage() as storage, pytest.raises(ServiceRefused) as info:
        storage.recording(home.site_id, m.camera_id, m.recording_id, arc=True)
    assert info.value.code == "no_justification"
