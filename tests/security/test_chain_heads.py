"""Signed chain heads against a malicious storage service (docs/CHAIN_HEADS.md).

The storage service, the custodians and the object store are real processes behind
tests/security/malicious_storage.py's proxy, which rewrites the answers the customer sees.
The camera signs a ChainHead (its newest manifest's sequence and hash, a time, the interval it
promises) and posts it; the storage service keeps the latest; the customer CLI (`camvault
customer verify / list`) checks that the recordings it is shown reach the head and that the
head is fresh. Each attack is tried through the lie and then without it (the control):

- the storage service hides the newest recordings from a device that never saw them (the gap
  tests/security/test_malicious_storage.py pins for cameras without heads): ``recordings_hidden``;
- it serves an old head: ``camera_silent_or_hidden`` once the head is older than the interval
  plus the margin, at once to a device that verified a newer one; an old head posted again
  is refused on upload (``chain_head_not_newer``);
- a forged head (signed by another key) is refused on upload and by the client;
- a revoked camera's head is refused on upload;
- the honest path with the real camera agent: heads posted through its journal (kept while the
  service is unreachable), no finding.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.api.storage import StorageApi
from clients.camera.agent import CameraAgent
from clients.camera.config import CameraConfig, SourceConfig, SourceKind
from clients.camera.heads import PENDING_KEY, ChainHeads, head_path, sign_head
from clients.camera.queue import Journal
from clients.customer.state import CustomerState
from common.http import SignedClient
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import ChainHead, SignedStatement, sign_statement
from tests.clients.customer_world import Customer, TestCamera, cli, setup_customer
from tests.clients.test_camera_support import ffmpeg
from tests.security.malicious_storage import (
    Exchange,
    Lie,
    MaliciousStorage,
    ProxiedWorld,
    proxied_world_dir,
)

INTERVAL_S = 2


@dataclass
class Scene:
    pw: ProxiedWorld
    a: Customer
    tmp: Path

    @property
    def cam(self) -> TestCamera:
        return self.a.camera

    @property
    def proxy(self) -> MaliciousStorage:
        return self.pw.proxy


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("heads")
    with proxied_world_dir() as pw:
        a = setup_customer(pw.view, tmp)
        t0 = now_ms() - 60_000
        for i in range(3):
            a.camera.record(t0 + 2000 * i)
        yield Scene(pw, a, tmp)


def head(cam: TestCamera, *, interval_s: int = INTERVAL_S, **kw: Any) -> SignedStatement:
    """The camera's head of its chain as it is (sequence and hash of its newest manifest)."""
    return sign_head(cam.key, cam.site_id, cam.camera_id, cam.sequence, cam.prev, interval_s, **kw)


def post(cam: TestCamera, signed: SignedStatement, key: Ed25519SigningKey | None = None) -> Any:
    """POST a head as the camera (request signed with ``key``, default the camera's)."""
    k = key or cam.key
    with SignedClient(cam.url, f"device:{cam.site_id}/{cam.camera_id}", k) as c:
        return c.post(head_path(cam.site_id, cam.camera_id), json={"head": signed.to_json()})


def served_head(s: Scene, camera_id: str = "cam-front") -> dict[str, Any]:
    with CustomerState(s.a.state).storage() as storage:
        r = storage.client.get(head_path(s.a.site_id, camera_id))
    assert r.status_code == 200, r.text
    return dict(r.json())


def fresh_device(s: Scene, name: str) -> dict[str, str]:
    """A copy of the customer's state that has verified nothing yet (another phone)."""
    root = s.tmp / name
    shutil.copytree(s.a.state, root)
    config = json.loads((root / "config.json").read_text())
    config["chain_heads"] = {}
    (root / "config.json").write_text(json.dumps(config))
    (root / "chain_heads.json").unlink(missing_ok=True)
    return {"CAMVAULT_CUSTOMER_DIR": str(root)}


def verify_json(env: dict[str, str], *args: str, code: int) -> dict[str, Any]:
    out = cli("customer", "verify", "--json", *args, env=env, code=code).output
    return {r["camera_id"]: r for r in json.loads(out)}


def codes(report: dict[str, Any]) -> list[str]:
    return [f["code"] for f in report["chain_head"]["findings"]]


def hide_newest(s: Scene, camera_id: str, keep_below: int) -> Lie:
    """The listing of ``camera_id`` without the recordings from ``keep_below`` on."""
    path = f"/v1/sites/{s.a.site_id}/recordings"

    def lie(ex: Exchange) -> Exchange | None:
        if ex.method != "GET" or ex.path != path or f"camera_id={camera_id}" not in ex.query:
            return None
        page = ex.json()
        page["items"] = [i for i in page["items"] if i["sequence"] < keep_below]
        return ex.with_json(page)

    return lie


def serve_head(s: Scene, answer: dict[str, Any], camera_id: str = "cam-front") -> Lie:
    """Serve ``answer`` for the camera's chain head, whatever the service holds."""
    path = head_path(s.a.site_id, camera_id)

    def lie(ex: Exchange) -> Exchange | None:
        if ex.method != "GET" or ex.path != path:
            return None
        return Exchange(ex.method, ex.path, ex.query, 200, ex.headers, json.dumps(answer).encode())

    return lie


# --- upload refusals ------------------------------------------------------------------------


def test_upload_refuses_forged_foreign_future_and_backwards_heads(scene: Scene) -> None:
    cam = scene.cam
    first = head(cam, at_ms=now_ms() - 5000)
    r = post(cam, first)
    assert r.status_code in (200, 201), r.text
    assert post(cam, first).status_code == 200  # the same head again: a no-op
    # forged: signed by another key, posted by the camera
    forged = sign_head(Ed25519SigningKey.generate(), cam.site_id, cam.camera_id, cam.sequence,
                       cam.prev, INTERVAL_S)  # fmt: skip
    r = post(cam, forged)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "statement_signature_invalid")
    # for another camera of the site, signed by this one
    other = sign_statement(
        ChainHead(cam.site_id, "cam-back", cam.sequence - 1, cam.prev, now_ms(), INTERVAL_S),
        cam.key,
    )
    r = post(cam, other)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "chain_head_invalid")
    # naming another manifest than the one held under its sequence
    wrong = sign_head(cam.key, cam.site_id, cam.camera_id, cam.sequence, b"\x07" * 32, INTERVAL_S)
    r = post(cam, wrong)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "chain_head_invalid")
    assert "another manifest" in r.json()["error"]["message"]
    # from the future (beyond the clock skew)
    r = post(cam, head(cam, at_ms=now_ms() + 3_600_000))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "chain_head_invalid")
    # going backwards: an older time, then a lower sequence at a newer time
    r = post(cam, head(cam, at_ms=now_ms() - 60_000))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "chain_head_not_newer")
    lower = sign_head(cam.key, cam.site_id, cam.camera_id, 0, None, INTERVAL_S)
    r = post(cam, lower)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "chain_head_not_newer")
    assert "below the stored head" in r.json()["error"]["message"]
    # nothing of that replaced the stored head
    assert served_head(scene)["head"] == first.to_json()
    # the customer cannot post a head, another site's customer cannot read one
    with CustomerState(scene.a.state).storage() as storage:
        r = storage.client.post(head_path(cam.site_id, cam.camera_id), json={"head": {}})
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_principal"


def test_revoked_camera_head_is_refused(scene: Scene) -> None:
    cam = TestCamera(scene.pw.view.storage.url, scene.a.site_id, "cam-revoked")
    scene.a.run("enroll-camera", "cam-revoked", "--device-key", cam.key.public_key.to_text())
    cam.record(now_ms() - 10_000)
    assert post(cam, head(cam)).status_code == 201
    with CustomerState(scene.a.state).storage() as storage:
        r = storage.client.delete(f"/v1/sites/{cam.site_id}/devices/cam-revoked")
    assert r.status_code == 200 and r.json()["revoked"] is True
    r = post(cam, head(cam))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "device_revoked")


# --- what the customer sees ------------------------------------------------------------------


def test_honest_storage_no_finding(scene: Scene) -> None:
    cam = scene.cam
    assert post(cam, head(cam)).status_code == 201
    out = scene.a.run("verify", "--camera", "cam-front").output
    assert "intact" in out and f"chain head: sequence {cam.sequence - 1}, signed" in out
    report = verify_json(scene.a.env, "--camera", "cam-front", code=0)["cam-front"]
    assert report["ok"] and report["chain_head"]["findings"] == []
    assert report["chain_head"]["head"]["sequence"] == cam.sequence - 1
    scene.a.run("list", "--camera", "cam-front")


def test_newest_recordings_hidden_from_a_fresh_device(scene: Scene) -> None:
    cam = scene.cam
    cam.record(now_ms() - 1000)
    assert post(cam, head(cam)).status_code == 201
    top = cam.sequence - 1
    phone = fresh_device(scene, "phone-hidden")
    with scene.proxy.lying(hide_newest(scene, "cam-front", top)):
        out = cli("customer", "verify", "--camera", "cam-front", env=phone, code=1).output
        report = verify_json(phone, "--camera", "cam-front", code=1)["cam-front"]
        listed = cli("customer", "list", "--camera", "cam-front", env=phone, code=1)
    assert "PROBLEMS" in out and "recordings_hidden" in out
    assert f"sequence {top}..{top} hidden" in out
    assert codes(report) == ["recordings_hidden"] and report["manifests"] == top
    assert f"chain head: recordings_hidden: cam-front signed a chain head at sequence {top}" in (
        listed.output
    )
    assert "Traceback" not in out + listed.output
    # the control: everything passed through
    assert codes(verify_json(phone, "--camera", "cam-front", code=0)["cam-front"]) == []
    # the whole listing withheld: still caught
    with scene.proxy.lying(hide_newest(scene, "cam-front", 0)):
        phone = fresh_device(scene, "phone-empty")
        report = verify_json(phone, "--camera", "cam-front", code=1)["cam-front"]
    assert codes(report) == ["recordings_hidden"]


def test_old_head_served(scene: Scene) -> None:
    cam = scene.cam
    assert post(cam, head(cam)).status_code == 201
    old = served_head(scene)
    old_at = old["head"]["body"]["issued_at_ms"]
    phone = fresh_device(scene, "phone-old")
    # fresh enough: no finding (the same served head, before interval + margin has passed)
    with scene.proxy.lying(serve_head(scene, old)):
        assert codes(verify_json(phone, "--camera", "cam-front", code=0)["cam-front"]) == []
    time.sleep(0.01)
    assert post(cam, head(cam)).status_code == 201  # the camera's next head
    scene.a.run("verify", "--camera", "cam-front")  # this device verifies the newer head
    # the device that saw the newer head: the old one is a rollback, at once
    with scene.proxy.lying(serve_head(scene, old)):
        report = verify_json(scene.a.env, "--camera", "cam-front", code=1)["cam-front"]
    assert codes(report) == ["camera_silent_or_hidden"]
    assert "older chain head" in report["chain_head"]["findings"][0]["detail"]
    # a device that never saw the newer one: once older than the interval + the margin
    while now_ms() <= old_at + (INTERVAL_S + 1) * 1000:
        time.sleep(0.2)
    with scene.proxy.lying(serve_head(scene, old)):
        out = cli("customer", "verify", "--head-margin", "1", env=phone, code=1).output
        listed = cli("customer", "list", "--head-margin", "1", env=phone, code=1).output
    assert "camera_silent_or_hidden: cam-front's newest chain head was signed at" in out
    assert "chain head: camera_silent_or_hidden" in listed
    # the old head posted again by anyone holding it: refused as going backwards
    r = post(cam, sign_head(cam.key, cam.site_id, cam.camera_id, cam.sequence, cam.prev,
                            INTERVAL_S, at_ms=old_at))  # fmt: skip
    assert (r.status_code, r.json()["error"]["code"]) == (409, "chain_head_not_newer")
    # withheld altogether from the device that saw one
    with scene.proxy.lying(lambda ex: _not_found(ex, head_path(cam.site_id, cam.camera_id))):
        report = verify_json(scene.a.env, "--camera", "cam-front", code=1)["cam-front"]
    assert codes(report) == ["camera_silent_or_hidden"]
    assert "holds no chain head" in report["chain_head"]["findings"][0]["detail"]


def _not_found(ex: Exchange, path: str) -> Exchange | None:
    if ex.method != "GET" or ex.path != path:
        return None
    body = {"error": {"code": "chain_head_not_found", "message": "none"}}
    return Exchange(ex.method, ex.path, ex.query, 404, ex.headers, json.dumps(body).encode())


def test_silent_camera_is_reported(scene: Scene) -> None:
    """An honest service, a camera that stopped posting: the same finding once late."""
    cam = scene.cam
    signed = head(cam, interval_s=1)
    assert post(cam, signed).status_code == 201
    at = signed.unverified_statement
    assert isinstance(at, ChainHead)
    args = ("--camera", "cam-front", "--head-margin", "1")
    assert codes(verify_json(scene.a.env, *args, code=0)["cam-front"]) == []
    while now_ms() <= at.issued_at_ms + 2000:
        time.sleep(0.2)
    report = verify_json(scene.a.env, *args, code=1)["cam-front"]
    assert codes(report) == ["camera_silent_or_hidden"]


def test_forged_head_served_is_refused_by_the_client(scene: Scene) -> None:
    cam = scene.cam
    real = served_head(scene)
    forged = sign_head(Ed25519SigningKey.generate(), cam.site_id, cam.camera_id, cam.sequence,
                       cam.prev, INTERVAL_S)  # fmt: skip
    with scene.proxy.lying(serve_head(scene, {**real, "head": forged.to_json()})):
        report = verify_json(scene.a.env, "--camera", "cam-front", code=1)["cam-front"]
    assert codes(report) == ["chain_head_invalid"]
    assert "expected" in report["chain_head"]["findings"][0]["detail"]  # the enrolled key
    # another camera's genuine head served as this one's
    back = TestCamera(scene.pw.view.storage.url, scene.a.site_id, "cam-back")
    scene.a.run("enroll-camera", "cam-back", "--device-key", back.key.public_key.to_text())
    back.record(now_ms() - 5000)
    assert post(back, head(back)).status_code == 201
    with scene.proxy.lying(serve_head(scene, served_head(scene, "cam-back"))):
        report = verify_json(scene.a.env, "--camera", "cam-front", code=1)["cam-front"]
    assert codes(report) == ["chain_head_invalid"]
    # a garbage answer and a refusal to serve the head
    with scene.proxy.lying(serve_head(scene, {"head": "nothing"})):
        assert codes(verify_json(scene.a.env, "--camera", "cam-front", code=1)["cam-front"]) == [
            "chain_head_invalid"
        ]


# --- the real camera agent ---------------------------------------------------------------------


def test_agent_posts_heads_through_its_journal(scene: Scene, tmp_path: Path) -> None:
    """The head module of the agent: a head waits in the journal while the service is down
    (here: answers 503) and is posted once it is back; a head naming a manifest still in the
    outbox waits for it."""
    cam = TestCamera(scene.pw.view.storage.url, scene.a.site_id, "cam-journal")
    scene.a.run("enroll-camera", "cam-journal", "--device-key", cam.key.public_key.to_text())
    cam.record(now_ms() - 5000)
    journal = Journal(tmp_path / "journal.sqlite", cam.site_id, cam.camera_id, cam.key)
    journal.adopt_chain_head(cam.sequence, cam.prev)
    api = StorageApi.connect(cam.url, f"device:{cam.site_id}/{cam.camera_id}", cam.key)
    heads = ChainHeads(api, journal, cam.key, cam.site_id, cam.camera_id, 60, retry_s=0.0)
    try:
        assert heads.maybe_sign() and not heads.maybe_sign()  # once per interval
        assert not heads.maybe_post(next_pending=0)  # manifest #0 not committed yet: waits
        down = 0

        def unavailable(ex: Exchange) -> Exchange | None:
            nonlocal down
            if ex.method != "POST" or not ex.path.endswith("/chain-head"):
                return None
            down += 1
            body = json.dumps({"error": {"code": "store_unavailable", "message": "down"}})
            return Exchange(ex.method, ex.path, ex.query, 503, ex.headers, body.encode())

        with scene.proxy.lying(unavailable):
            assert not heads.maybe_post(None)
        assert down == 1 and journal.get(PENDING_KEY) is not None  # kept for later
        assert heads.maybe_post(None) and heads.posted == 1
        assert journal.get(PENDING_KEY) is None
        posted = served_head(scene, "cam-journal")["head"]["body"]
        assert posted["sequence"] == 0 and posted["interval_s"] == 60
        report = verify_json(scene.a.env, "--camera", "cam-journal", code=0)["cam-journal"]
        assert report["ok"] and report["chain_head"]["head"]["sequence"] == 0
    finally:
        api.close()
        journal.close()


def test_real_agent_honest_then_newest_hidden(scene: Scene, tmp_path: Path) -> None:
    ffmpeg()
    key = Ed25519SigningKey.generate()
    (tmp_path / "cam.key").write_text(key.to_text() + "\n")
    scene.a.run("enroll-camera", "cam-agent", "--device-key", key.public_key.to_text())
    cfg = CameraConfig(
        url=scene.pw.view.storage.url,
        site_id=scene.a.site_id,
        camera_id="cam-agent",
        key_file=str(tmp_path / "cam.key"),
        state_dir=str(tmp_path / "state"),
        source=SourceConfig(kind=SourceKind.TESTSRC, realtime=True, duration_s=7),
        detector="none",
        telemetry_interval_s=3600,
        retry_max_s=1.0,
        exit_when_done=True,
        chain_head_interval_s=1,
    )
    agent = CameraAgent(cfg)
    th = threading.Thread(target=agent.run, daemon=True)
    th.start()
    th.join(120)
    assert not th.is_alive(), "the agent did not finish"
    assert agent.uploaded >= 3 and agent.heads.posted >= 2, (agent.uploaded, agent.heads.posted)
    report = verify_json(scene.a.env, "--camera", "cam-agent", code=0)["cam-agent"]
    assert report["ok"] and report["chain_head"]["findings"] == []
    top = report["last_sequence"]
    assert report["chain_head"]["head"]["sequence"] == top == agent.uploaded - 1
    assert report["chain_head"]["head"]["interval_s"] == 1
    # the storage service hides the newest recording from a device that never saw it
    phone = fresh_device(scene, "phone-agent")
    with scene.proxy.lying(hide_newest(scene, "cam-agent", top)):
        out = cli("customer", "verify", "--camera", "cam-agent", env=phone, code=1).output
    assert "recordings_hidden" in out and f"sequence {top}..{top} hidden" in out
    # and once the camera is off for longer than it promised, it is reported silent
    while now_ms() <= report["chain_head"]["head"]["issued_at_ms"] + 2500:
        time.sleep(0.2)
    report = verify_json(scene.a.env, "--camera", "cam-agent", "--head-margin", "1", code=1)
    assert codes(report["cam-agent"]) == ["camera_silent_or_hidden"]


def test_upload_needs_the_camera_itself(scene: Scene) -> None:
    """Another device of the site (the panel) cannot post the camera's head."""
    cam, panel = scene.cam, scene.a.panel
    with SignedClient(cam.url, f"device:{cam.site_id}/{panel.panel_id}", panel.key) as c:
        r = c.post(head_path(cam.site_id, cam.camera_id), json={"head": head(cam).to_json()})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "wrong_principal")
    r = httpx.get(cam.url + head_path(cam.site_id, cam.camera_id), timeout=10)
    assert r.status_code == 401
