"""End to end: three custodian processes (t = 2), an operator, real age files.

Every refusal of the release protocol (docs/ESCROW.md) has its own test, asserting the
reason code AND that the refusal is in the custodian's log (signed checkpoint, inclusion
proof, the stored entry's bytes).
"""

from __future__ import annotations

import io
import os
import uuid
from typing import Any

import httpx
import pytest

from clients.operator.release import (
    CustodianEndpoint,
    CustodianRefused,
    Recording,
    ThresholdNotMet,
    decrypt_recording,
    gather_releases,
    recover_file_key,
)
from common.time import now_ms
from crypto.age.format import parse_header
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import EscrowError, ShareError
from crypto.escrow import SessionKey, combine_file_key, open_escrow_stanza
from crypto.escrow.shamir import Share
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import ConsentScope, OperatorRole, SignedStatement
from tests.escrow.ends_support import ask, expect_refusal, logged_entry, new_site
from tests.escrow.harness import Cluster, Site, register_operator

ALARM = "alarm-verification"
MAINT = "maintenance"


@pytest.fixture(scope="module")
def eps(cluster: Cluster) -> list[CustodianEndpoint]:
    return cluster.endpoints()


@pytest.fixture(scope="module")
def operator(cluster: Cluster) -> tuple[str, Ed25519SigningKey]:
    return "op-alice", register_operator(cluster, "op-alice")


@pytest.fixture
def site(cluster: Cluster) -> Site:
    return new_site(cluster)


def expect_item_refusal(
    cluster: Cluster,
    eps: list[CustodianEndpoint],
    operator: tuple[str, Ed25519SigningKey],
    justification: SignedStatement,
    recordings: list[Recording],
    reason: str,
    purpose: str = ALARM,
) -> None:
    """Every custodian refuses each recording for ``reason``: nothing released, logged."""
    for proc, ep in zip(cluster.custodians, eps, strict=True):
        rel = ask(ep, operator, justification, recordings, purpose)
        assert rel.sealed == {}
        assert {r: v[0] for r, v in rel.refused.items()} == {
            r.metadata.recording_id: reason for r in recordings
        }
        entry = logged_entry(proc, ep, rel.receipt)
        assert entry["type"] == "refusal"
        assert entry["refused"]["reasons"] == {reason: len(recordings)}


# --- the happy paths ------------------------------------------------------------------------


def test_alarm_releases_exactly_the_recordings_inside_the_window(
    cluster: Cluster,
    eps: list[CustodianEndpoint],
    operator: tuple[str, Ed25519SigningKey],
    site: Site,
) -> None:
    t = now_ms() - 10_000  # camera profile: 30 s before, 60 s after
    made = {
        "before": site.record("r-before", t - 100_000, t - 31_000),
        "pre": site.record("r-pre", t - 40_000, t - 28_000),
        "at": site.record("r-at", t - 2_000, t),
        "post": site.record("r-post", t + 58_000, t + 62_000),
        "after": site.record("r-after", t + 61_000, t + 63_000),
        "still": site.record("r-still", t, t, camera="cam-still", kind=RecordingKind.STILL),
    }
    alarm = site.alarm("ev-1", counter=1, triggered_at_ms=t)
    session = SessionKey.generate()
    recs = [m[0] for m in made.values()]
    releases = gather_releases(
        eps, 2, *operator, purpose=ALARM, justification=alarm, session=session, recordings=recs
    )
    assert len(releases) == 2
    inside = {"r-pre", "r-at", "r-post", "r-still"}
    for rel in releases:
        assert set(rel.sealed) == inside
        assert rel.refused == {
            "r-before": ("outside_window_before", rel.refused["r-before"][1]),
            "r-after": ("outside_window_after", rel.refused["r-after"][1]),
        }
        entry = rel.entry_json
        assert entry["type"] == "release" and entry["released"]["count"] == 4
        assert entry["refused"]["reasons"] == {
            "outside_window_after": 1,
            "outside_window_before": 1,
        }
    for key, (rec, payload, plain) in made.items():
        if rec.metadata.recording_id not in inside:
            with pytest.raises(ShareError):
                recover_file_key(releases, rec, session)
            continue
        out = io.BytesIO()
        decrypt_recording(releases, rec, session, io.BytesIO(payload), out)
        assert out.getvalue() == plain, key


def test_the_same_alarm_serves_several_operators_within_its_access_period(
    cluster: Cluster, eps: list[CustodianEndpoint], site: Site
) -> None:
    bob = ("op-bob", register_operator(cluster, "op-bob"))
    carol = ("op-carol", register_operator(cluster, "op-carol"))
    t = now_ms() - 5_000
    rec = site.record("r-1", t - 1_000, t + 1_000)[0]
    alarm = site.alarm("ev-shared", counter=1, triggered_at_ms=t)
    for op in (bob, carol, bob):
        rel = ask(eps[0], op, alarm, [rec])
        assert set(rel.sealed) == {"r-1"}


def test_maintenance_consent_releases_for_the_grantee(
    cluster: Cluster, eps: list[CustodianEndpoint], site: Site
) -> None:
    tech = ("tech-1", register_operator(cluster, "tech-1", OperatorRole.TECHNICIAN))
    t = now_ms() - 3_600_000
    rec, payload, plain = site.record("r-m", t, t + 2_000)
    consent = site.consent("consent-1", "tech-1", rec_from=t - 1000, rec_to=t + 10_000)
    session = SessionKey.generate()
    rels = gather_releases(
        eps, 2, *tech, purpose=MAINT, justification=consent, session=session, recordings=[rec]
    )
    out = io.BytesIO()
    decrypt_recording(rels, rec, session, io.BytesIO(payload), out)
    assert out.getvalue() == plain


def test_one_custodian_down_does_not_stop_an_alarm_response(
    cluster: Cluster,
    eps: list[CustodianEndpoint],
    operator: tuple[str, Ed25519SigningKey],
    site: Site,
) -> None:
    t = now_ms() - 5_000
    rec, payload, plain = site.record("r-down", t, t + 2_000)
    cluster.custodians[2].stop()
    try:
        session = SessionKey.generate()
        rels = gather_releases(
            eps,
            2,
            *operator,
            purpose=ALARM,
            justification=site.alarm("ev-down", 1, t),
            session=session,
            recordings=[rec],
        )
        assert sorted(r.custodian_id for r in rels) == ["c1", "c2"]
        out = io.BytesIO()
        decrypt_recording(rels, rec, session, io.BytesIO(payload), out)
        assert out.getvalue() == plain
    finally:
        cluster.custodians[2].start()


# --- refusals, one test each -----------------------------------------------------------------


def test_no_justification(cluster, eps, operator, site):
    t = now_ms()
    rec = site.record("r", t, t + 1)[0]
    expect_refusal(cluster, eps, operator, None, [rec], "no_justification")


def test_forged_alarm_signature(cluster, eps, operator, site):
    t = now_ms() - 1_000
    rec = site.record("r", t, t + 1)[0]
    forged = site.alarm("ev-forged", 1, t, key=Ed25519SigningKey.generate())
    expect_refusal(cluster, eps, operator, forged, [rec], "bad_signature")


def test_forged_request_signature(cluster, eps, operator, site):
    t = now_ms() - 1_000
    rec = site.record("r", t, t + 1)[0]
    impostor = (operator[0], Ed25519SigningKey.generate())
    entries = expect_refusal(
        cluster, eps, impostor, site.alarm("ev-x", 1, t), [rec], "bad_request_signature"
    )
    assert entries[0]["operator_verified"] is False


def test_panel_of_another_site(cluster, eps, operator, site):
    other = Site(f"site-{uuid.uuid4().hex[:10]}", panel_id="panel-other")
    other.enroll(cluster)
    t = now_ms() - 1_000
    rec = site.record("r", t, t + 1)[0]
    # The other site's panel, validly signed by it, claiming an alarm at this site.
    ev = site.alarm("ev-p", 1, t, key=other.panel_key, panel_id="panel-other")
    expect_refusal(cluster, eps, operator, ev, [rec], "panel_not_of_site")


def test_replayed_event(cluster, eps, operator, site):
    t = now_ms() - 2_000
    rec = site.record("r", t, t + 1)[0]
    first = site.alarm("ev-r", 5, t)
    assert set(ask(eps[0], operator, first, [rec]).sealed) == {"r"}
    # The same event id with another statement (here another trigger time): a replay.
    for proc, ep in zip(cluster.custodians[:1], eps[:1], strict=True):
        with pytest.raises(CustodianRefused) as info:
            ask(ep, operator, site.alarm("ev-r", 6, t - 1), [rec])
        assert info.value.reason == "event_replayed"
        assert logged_entry(proc, ep, info.value.log or {})["reason"] == "event_replayed"
    # A new event id whose counter does not grow: an old alarm re-signed or replayed.
    for proc, ep in zip(cluster.custodians[:1], eps[:1], strict=True):
        with pytest.raises(CustodianRefused) as info:
            ask(ep, operator, site.alarm("ev-r2", 5, t), [rec])
        assert info.value.reason == "event_replayed"
        assert "counter" in info.value.message
        assert logged_entry(proc, ep, info.value.log or {})["reason"] == "event_replayed"


def test_stale_event(cluster, eps, operator, site):
    t = now_ms() - 10 * 60_000  # freshness bound: 300 s at first presentation
    rec = site.record("r", t, t + 1)[0]
    expect_refusal(cluster, eps, operator, site.alarm("ev-s", 1, t), [rec], "event_stale")


def test_recording_before_the_pre_alarm_window(cluster, eps, operator, site):
    t = now_ms() - 1_000
    rec = site.record("r", t - 60_000, t - 30_001)[0]
    expect_item_refusal(
        cluster, eps, operator, site.alarm("ev-b", 1, t), [rec], "outside_window_before"
    )


def test_recording_after_the_post_alarm_window(cluster, eps, operator, site):
    t = now_ms() - 1_000
    rec = site.record("r", t + 60_001, t + 62_000)[0]
    expect_item_refusal(
        cluster, eps, operator, site.alarm("ev-a", 1, t), [rec], "outside_window_after"
    )


def test_access_period_closed(cluster, eps, operator, site):
    # The customer shortens this site's access period to 100 s; the alarm is 200 s old
    # (fresh enough at first presentation, freshness 300 s) so its period is over.
    for c in cluster.custodians:
        with site.customer_client(c.url) as client:
            r = client.put(f"/v1/sites/{site.site_id}/settings", json={"access_period_s": 100})
            assert r.status_code == 200, r.text
    t = now_ms() - 200_000
    rec = site.record("r", t, t + 1)[0]
    expect_refusal(cluster, eps, operator, site.alarm("ev-c", 1, t), [rec], "access_period_closed")


def test_cancelled_alarm(cluster, eps, operator, site):
    t = now_ms() - 1_000
    rec = site.record("r", t, t + 1)[0]
    alarm = site.alarm("ev-k", 1, t)
    assert set(ask(eps[0], operator, alarm, [rec]).sealed) == {"r"}
    site.cancel(cluster, "ev-k")
    expect_refusal(cluster, eps, operator, alarm, [rec], "alarm_cancelled")


def test_expired_consent(cluster, eps, site):
    tech = ("tech-e", register_operator(cluster, "tech-e", OperatorRole.TECHNICIAN))
    t = now_ms() - 7_200_000
    rec = site.record("r", t, t + 1)[0]
    consent = site.consent(
        "c-exp", "tech-e", rec_from=t - 1, rec_to=t + 10, not_before=t, not_after=t + 3_600_000
    )
    expect_refusal(cluster, eps, tech, consent, [rec], "consent_expired", MAINT)


def test_revoked_consent(cluster, eps, site):
    tech = ("tech-r", register_operator(cluster, "tech-r", OperatorRole.TECHNICIAN))
    t = now_ms() - 60_000
    rec = site.record("r", t, t + 1)[0]
    consent = site.consent("c-rev", "tech-r", rec_from=t - 1, rec_to=t + 10)
    assert set(ask(eps[0], tech, consent, [rec], MAINT).sealed) == {"r"}
    site.revoke(cluster, "c-rev")
    expect_refusal(cluster, eps, tech, consent, [rec], "consent_revoked", MAINT)


def test_out_of_scope_consent(cluster, eps, site):
    tech = ("tech-s", register_operator(cluster, "tech-s", OperatorRole.TECHNICIAN))
    t = now_ms() - 60_000
    consent = site.consent(
        "c-scope",
        "tech-s",
        cameras=("cam-front",),
        scope=(ConsentScope.STILLS,),
        rec_from=t - 1_000,
        rec_to=t + 10_000,
    )
    wrong_camera = site.record("r-cam", t, t + 1, camera="cam-nolive", kind=RecordingKind.STILL)[0]
    wrong_kind = site.record("r-kind", t, t + 1)[0]  # a segment: scope "recordings" not granted
    wrong_time = site.record("r-time", t + 20_000, t + 21_000, kind=RecordingKind.STILL)[0]
    expect_item_refusal(
        cluster,
        eps,
        tech,
        consent,
        [wrong_camera, wrong_kind, wrong_time],
        "consent_out_of_scope",
        MAINT,
    )


def test_consent_of_another_grantee(cluster, eps, operator, site):
    t = now_ms() - 60_000
    rec = site.record("r", t, t + 1)[0]
    consent = site.consent("c-g", "someone-else", rec_from=t - 1, rec_to=t + 10)
    expect_refusal(cluster, eps, operator, consent, [rec], "consent_wrong_grantee", MAINT)


def test_stills_only_camera_asked_for_video(cluster, eps, operator, site):
    t = now_ms() - 1_000
    video = site.record("r-video", t, t + 2_000, camera="cam-still")[0]
    expect_item_refusal(cluster, eps, operator, site.alarm("ev-st", 1, t), [video], "stills_only")


def test_live_not_allowed(cluster, eps, operator, site):
    t = now_ms() - 1_000
    live = site.record("r-live", t, t + 2_000, camera="cam-nolive", kind=RecordingKind.LIVE)[0]
    expect_item_refusal(
        cluster, eps, operator, site.alarm("ev-l", 1, t), [live], "live_not_allowed"
    )


def test_wrong_purpose(cluster, eps, operator, site):
    t = now_ms() - 1_000
    rec = site.record("r", t, t + 1)[0]
    alarm = site.alarm("ev-w", 1, t)
    expect_refusal(cluster, eps, operator, alarm, [rec], "wrong_purpose", purpose="marketing")
    # An alarm is no justification for a maintenance release either.
    expect_refusal(cluster, eps, operator, alarm, [rec], "wrong_purpose", purpose=MAINT)


def test_operator_not_registered(cluster, eps, site):
    t = now_ms() - 1_000
    rec = site.record("r", t, t + 1)[0]
    stranger = ("op-stranger", Ed25519SigningKey.generate())
    entries = expect_refusal(
        cluster, eps, stranger, site.alarm("ev-u", 1, t), [rec], "operator_not_registered"
    )
    assert entries[0]["operator_id"] == "op-stranger"
    assert entries[0]["operator_verified"] is False


def test_tampered_stanza_metadata(cluster, eps, operator, site):
    t = now_ms() - 1_000
    rec = site.record("r", t, t + 2_000)[0]
    m = rec.metadata
    relabelled = Recording(
        rec.header,
        RecordingMetadata(m.site_id, m.camera_id, m.recording_id, m.kind, m.start_ms, m.end_ms - 1),
    )
    expect_item_refusal(
        cluster, eps, operator, site.alarm("ev-t", 1, t), [relabelled], "stanza_metadata_mismatch"
    )


def test_stanza_from_another_recording(cluster, eps, operator, site):
    t = now_ms() - 1_000
    inside = site.record("r-in", t, t + 2_000)[0]
    outside = site.record("r-out", t - 3_600_000, t - 3_500_000)[0]
    # The escrow stanzas of a recording outside the window, sent with the metadata of one inside.
    swapped = Recording(outside.header, inside.metadata)
    expect_item_refusal(
        cluster, eps, operator, site.alarm("ev-o", 1, t), [swapped], "stanza_metadata_mismatch"
    )


def test_a_single_custodians_share_alone(cluster, eps, operator, site):
    t = now_ms() - 1_000
    rec = site.record("r", t, t + 2_000)[0]
    session = SessionKey.generate()
    rel = ask(eps[0], operator, site.alarm("ev-1c", 1, t), [rec], session=session)
    with pytest.raises(ShareError, match="threshold"):
        recover_file_key([rel], rec, session)
    # Nor can the custodian itself: its key opens only its own share.
    key_file = cluster.custodians[0].workdir / "c1" / "escrow.key"
    from crypto.escrow import CustodianKey

    own = CustodianKey.from_text(key_file.read_text().strip())
    stanza = next(s for s in parse_header(rec.header).stanzas if s.type == "camvault-escrow")
    share = open_escrow_stanza(stanza, own, rec.metadata)
    with pytest.raises(ShareError):
        combine_file_key([share], rec.header)


def test_t_minus_one_shares(cluster, eps, operator, site):
    t = now_ms() - 1_000
    rec = site.record("r", t, t + 2_000)[0]
    session = SessionKey.generate()
    with pytest.raises(ThresholdNotMet):
        gather_releases(
            eps[:1],
            2,
            *operator,
            purpose=ALARM,
            justification=site.alarm("ev-t1", 1, t),
            session=session,
            recordings=[rec],
        )
    # t - 1 real shares plus a made-up one give a key that fails the header MAC.
    rel = ask(eps[0], operator, site.alarm("ev-t1", 1, t), [rec], session=session)
    from crypto.escrow import open_released_share

    real = open_released_share(rel.sealed["r"], session, rec.metadata, release_id=rel.release_id)
    fake = Share(2 if real.x != 2 else 3, 2, os.urandom(16))
    with pytest.raises(EscrowError, match="do not reconstruct"):
        combine_file_key([real, fake], rec.header)


# --- pinning --------------------------------------------------------------------------------


def test_site_keys_change_needs_the_pinned_key(cluster, eps, site):
    from crypto.statements import Custodian, DeviceEnrollment, DeviceKind, SiteKeys, sign_statement

    def keys(version: int, customer: Ed25519SigningKey) -> SiteKeys:
        return SiteKeys(
            site.site_id,
            version,
            customer.public_key,
            (site.identity.recipient(),),
            tuple(Custodian(e.custodian_id, e.escrow_key, e.log_key, e.url) for e in eps),
            2,
            now_ms(),
        )

    attacker = Ed25519SigningKey.generate()
    # A takeover: new key, self-signed (what a first enrollment looks like).
    for r in cluster.post_all(
        "/v1/sites", {"site_keys": sign_statement(keys(2, attacker), attacker).to_json()}
    ):
        assert r.status_code == 409 and r.json()["error"]["code"] == "pin_mismatch"
    # A device the customer did not sign.
    dev = DeviceEnrollment(
        site.site_id, "panel-evil", DeviceKind.PANEL, "x", attacker.public_key, None, now_ms()
    )
    for r in cluster.post_all(
        f"/v1/sites/{site.site_id}/devices",
        {"device_enrollment": sign_statement(dev, attacker).to_json()},
    ):
        assert r.status_code == 403 and r.json()["error"]["code"] == "bad_signature"
    # The customer rotates its key: signed by the pinned key, logged with both keys.
    new = Ed25519SigningKey.generate()
    for proc, ep, r in zip(
        cluster.custodians,
        eps,
        cluster.post_all(
            "/v1/sites", {"site_keys": sign_statement(keys(2, new), site.customer_key).to_json()}
        ),
        strict=True,
    ):
        assert r.status_code == 200, r.text
        entry = logged_entry(proc, ep, r.json()["log"])
        assert entry["type"] == "site-keys" and entry["version"] == 2
        assert entry["previous_customer_key"] == site.customer_key.public_key.to_text()
        assert entry["customer_key"] == new.public_key.to_text()


def test_bad_input_gets_a_reason_never_a_500(cluster, eps, operator, site):
    from common.http import SignedClient

    url = cluster.custodians[0].url
    with SignedClient(url, f"operator:{operator[0]}", operator[1]) as client:
        for body, code in (
            (b"not json", "malformed_request"),
            (b"[1,2]", "malformed_request"),
            (
                b'{"purpose":"alarm-verification","session_key":"!!","items":[]}',
                "bad_session_key",
            ),
            (b'{"purpose":1,"items":[]}', "malformed_request"),
        ):
            r = client.post("/v1/releases", content=body, content_type="application/json")
            assert 400 <= r.status_code < 500, r.text
            assert r.json()["error"]["code"] == code
            assert r.json()["log"]["entry"]  # refused, and logged
    queries: list[tuple[str, dict[str, Any]]] = [
        ("/v1/log/entries", {"start": 5, "end": 2}),
        ("/v1/log/entries", {"start": "x", "end": 2}),
        ("/v1/log/inclusion", {"tree_size": 10**12, "index": 0}),
        ("/v1/log/inclusion", {"tree_size": 1, "leaf_hash": "zz"}),
        ("/v1/log/consistency", {"old": 3, "new": 1}),
        ("/v1/nothing", {}),
    ]
    for path, params in queries:
        r = httpx.get(url + path, params=params)
        assert 400 <= r.status_code < 500 and "error" in r.json(), (path, r.text)
    posts: list[tuple[str, Any]] = [
        ("/v1/sites", {"site_keys": {"type": "camvault/v1/site-keys"}}),
        ("/v1/sites", {"site_keys": 1.5}),
        ("/v1/operators", {"registration": {}}),
        (f"/v1/sites/{site.site_id}/revocations", {"revocation": []}),
    ]
    for path, doc in posts:
        r = httpx.post(url + path, json=doc)
        assert 400 <= r.status_code < 500 and "error" in r.json(), (path, r.text)
