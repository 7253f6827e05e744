"""Live fragments (clients/camera/fragments.py) at the custodians: during an alarm a camera
uploads its video as half-second ``live`` recordings, each an age file with its own escrow
stanzas. Each is checked on its own against the alarm's window, exactly like a 2-second
segment: a fragment just outside the window is refused (``outside_window_before``) while the
fragment touching it, in the same request, is released."""

from __future__ import annotations

import io

import pytest

from clients.operator.release import (
    CustodianEndpoint,
    decrypt_recording,
    gather_releases,
    recover_file_key,
)
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import ShareError
from crypto.escrow import SessionKey
from crypto.metadata import RecordingKind
from tests.escrow.ends_support import logged_entry, new_site
from tests.escrow.harness import PROFILE, Cluster, Site, register_operator

ALARM = "alarm-verification"
FRAGMENT_MS = 500


@pytest.fixture(scope="module")
def eps(cluster: Cluster) -> list[CustodianEndpoint]:
    return cluster.endpoints()


@pytest.fixture(scope="module")
def operator(cluster: Cluster) -> tuple[str, Ed25519SigningKey]:
    return "op-frag", register_operator(cluster, "op-frag")


@pytest.fixture
def site(cluster: Cluster) -> Site:
    return new_site(cluster)


def test_each_live_fragment_is_checked_against_the_alarm_window(
    cluster: Cluster,
    eps: list[CustodianEndpoint],
    operator: tuple[str, Ed25519SigningKey],
    site: Site,
) -> None:
    t = now_ms() - 5_000
    lo = t - PROFILE.pre_alarm_s * 1000  # the window's first millisecond

    def fragment(rid: str, end_ms: int) -> tuple[object, bytes, bytes]:
        return site.record(rid, end_ms - FRAGMENT_MS, end_ms, kind=RecordingKind.LIVE)

    made = {
        # the attack: a fragment dated to end 1 ms before the pre-alarm window
        "f-outside": fragment("f-outside", lo - 1),
        # controls: the one touching the window's edge, and fragments of the alarm itself
        "f-edge": fragment("f-edge", lo),
        "f-at": fragment("f-at", t + 200),
        "f-next": fragment("f-next", t + 200 + FRAGMENT_MS),
    }
    session = SessionKey.generate()
    recs = [m[0] for m in made.values()]
    releases = gather_releases(
        eps,
        2,
        *operator,
        purpose=ALARM,
        justification=site.alarm("ev-frag", counter=1, triggered_at_ms=t),
        session=session,
        recordings=recs,  # type: ignore[arg-type]
    )
    assert len(releases) == 2
    for rel in releases:
        assert set(rel.sealed) == {"f-edge", "f-at", "f-next"}
        assert {r: v[0] for r, v in rel.refused.items()} == {"f-outside": "outside_window_before"}
        assert rel.entry_json["released"]["count"] == 3
        assert rel.entry_json["refused"]["reasons"] == {"outside_window_before": 1}
    # the refusal is in each answering custodian's log, not only in its answer
    by_id = {ep.custodian_id: (proc, ep) for proc, ep in zip(cluster.custodians, eps, strict=True)}
    for rel in releases:
        proc, ep = by_id[rel.custodian_id]
        assert logged_entry(proc, ep, rel.receipt)["refused"]["reasons"] == {
            "outside_window_before": 1
        }
    for rid, (rec, payload, plain) in made.items():
        if rid == "f-outside":
            with pytest.raises(ShareError):
                recover_file_key(releases, rec, session)  # type: ignore[arg-type]
            continue
        out = io.BytesIO()
        decrypt_recording(releases, rec, session, io.BytesIO(payload), out)  # type: ignore[arg-type]
        assert out.getvalue() == plain
