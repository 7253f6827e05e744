"""A recipient change applies at once (issue 16 part 3): the alarm-state answer the camera
polls (every ``alarm_poll_s``) names the site's SiteKeys version; when it grows, the real
camera agent fetches and verifies the new SiteKeys before it seals its next recording. So
after the customer removes a recipient, every recording sealed later than one poll interval
(plus the sealing of the batch in hand) has no stanza for it: asserted on the recordings'
signed times against the time of the change, not on a sleep. The agent's own periodic
refresh is every 60 s, longer than these tests, so it is not what applies the change.

Attack: a storage service that answers the fetch with a rolled-back SiteKeys or one not
signed by the pinned customer key is refused: the camera keeps its pinned set."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clients.camera.agent import CameraAgent
from clients.camera.config import Mode, SourceConfig, SourceKind
from clients.camera.site import PIN_KEY
from common.time import now_ms
from crypto.age import decrypt
from crypto.age.x25519 import X25519Identity
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import NoIdentityMatchError
from crypto.statements import SignedStatement, SiteKeys, sign_statement
from tests.clients.test_camera_support import World, ffmpeg, new_world
from tests.storage.support import Service
from tests.storage.support_arc import start

POLL_S = 0.5
#: one poll interval, plus the sealing and signing of the batch already taken off the source,
#: with room for a loaded CI machine: still an order of magnitude under the 60 s refresh
BOUND_MS = int(POLL_S * 1000) + 5000


@pytest.fixture(scope="module")
def svc(request: pytest.FixtureRequest) -> Iterator[Service]:
    ffmpeg()
    yield from start(request, "embedded")


@contextlib.contextmanager
def running(agent: CameraAgent) -> Iterator[CameraAgent]:
    th = threading.Thread(target=agent.run, daemon=True)
    th.start()
    try:
        yield agent
    finally:
        agent.stop()
        th.join(30)


def keys_with(
    w: World,
    version: int,
    recipients: list[X25519Identity],
    signer: Ed25519SigningKey | None = None,
) -> SignedStatement:
    base = w.site.site_keys.unverified_statement
    assert isinstance(base, SiteKeys)
    body = SiteKeys(
        site_id=base.site_id,
        version=version,
        customer_key=base.customer_key,
        recipients=tuple(r.recipient() for r in recipients),
        custodians=base.custodians,
        threshold=base.threshold,
        issued_at_ms=now_ms(),
    )
    return sign_statement(body, signer or w.site.key)


def publish(w: World, signed: SignedStatement) -> None:
    r = w.site.client.put(f"/v1/sites/{w.site.site_id}/keys", json={"site_keys": signed.to_json()})
    assert r.status_code == 200, r.text


def opens(w: World, identity: X25519Identity, rid: str) -> bool:
    try:
        decrypt([identity], io.BytesIO(w.export(rid)), io.BytesIO())
    except NoIdentityMatchError:
        return False
    return True


def sealed(w: World) -> list[tuple[str, int]]:
    """(recording id, issued_at_ms) of every recording, oldest first."""
    listed = w.recordings()  # once: the camera keeps committing while this runs
    return [
        (i["recording_id"], m.issued_at_ms)
        for i, m in zip(listed, w.manifests(listed), strict=True)
    ]


def wait_until(cond: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.3)
    raise AssertionError("timed out")


def camera(w: World) -> CameraAgent:
    return CameraAgent(
        w.config(
            mode=Mode.CONTINUOUS,
            exit_when_done=False,
            alarm_poll_s=POLL_S,
            source=SourceConfig(kind=SourceKind.TESTSRC, realtime=True, duration_s=40),
        )
    )


def two_recipients(svc: Service, tmp_path: Path) -> tuple[World, X25519Identity]:
    w = new_world(svc.url, tmp_path)
    phone = X25519Identity.generate()
    publish(w, keys_with(w, 2, [w.site.identity, phone]))
    return w, phone


def test_a_removed_recipient_is_out_of_the_next_recording(svc: Service, tmp_path: Path) -> None:
    w, phone = two_recipients(svc, tmp_path)
    agent = camera(w)
    with running(agent):
        wait_until(lambda: len(w.recordings()) >= 1, 30)
        changed_ms = now_ms()
        refreshed = agent.last_refresh
        publish(w, keys_with(w, 3, [w.site.identity]))  # remove-device --recipient
        wait_until(lambda: sum(t > changed_ms + BOUND_MS for _, t in sealed(w)) >= 2, 60)
        assert agent.trust.site_keys is not None and agent.trust.site_keys.version == 3
        assert agent.last_refresh == refreshed  # the periodic refresh did not run meanwhile
    recs = sealed(w)
    before = [rid for rid, t in recs if t < changed_ms]
    after = [rid for rid, t in recs if t > changed_ms + BOUND_MS]
    assert before and after, recs
    for rid in before:  # control: sealed before the change, both recipients open it
        assert opens(w, phone, rid) and opens(w, w.site.identity, rid)
    for rid in after:
        assert opens(w, w.site.identity, rid)
        assert not opens(w, phone, rid), (
            f"{rid} sealed after the change still has the removed recipient"
        )


class Lying:
    """The storage service as an attacker: its alarm-state hint is honest (a new version
    exists) but the SiteKeys it serves are ``forged``."""

    def __init__(self, real: Any, forged: SignedStatement) -> None:
        self.real, self.forged = real, forged

    def site(self, site_id: str) -> dict[str, Any]:
        out = dict(self.real.site(site_id))
        out["site_keys"] = self.forged.to_json()
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize("attack", ["rolled_back", "not_the_customers"])
def test_a_forged_or_rolled_back_site_keys_is_refused(
    svc: Service, tmp_path: Path, attack: str
) -> None:
    w, phone = two_recipients(svc, tmp_path)
    agent = camera(w)
    with running(agent):
        wait_until(lambda: len(w.recordings()) >= 1, 30)
        assert agent.trust.site_keys is not None and agent.trust.site_keys.version == 2
        pinned = agent.journal.get(PIN_KEY)
        forged = (
            w.site.site_keys  # version 1: an old SiteKeys the customer did sign
            if attack == "rolled_back"
            else keys_with(w, 9, [X25519Identity.generate()], Ed25519SigningKey.generate())
        )
        agent.trust.storage = Lying(agent.trust.storage, forged)  # type: ignore[assignment]
        changed_ms = now_ms()
        publish(w, keys_with(w, 3, [w.site.identity]))  # the hint grows to 3
        wait_until(lambda: sum(t > changed_ms + BOUND_MS for _, t in sealed(w)) >= 1, 60)
        assert agent.keys_hint_tried == 3  # the camera acted on the hint...
        assert agent.trust.site_keys.version == 2  # ...and refused what it was served
        assert agent.journal.get(PIN_KEY) == pinned
    after = [rid for rid, t in sealed(w) if t > changed_ms + BOUND_MS]
    for rid in after:  # still sealed to the pinned set (both), not to the forged one
        assert opens(w, phone, rid) and opens(w, w.site.identity, rid)
