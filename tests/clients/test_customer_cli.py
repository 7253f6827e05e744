"""`camvault customer ...` against the real storage service and three real custodians."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from pathlib import Path

import sqlalchemy as sa

from clients.customer.state import CustomerState
from clients.video import decode_errors, duration_s
from common.time import now_ms
from crypto import age
from crypto.metadata import RecordingKind
from tests.clients.customer_world import (  # noqa: F401 (the `world` fixture)
    World,
    cli,
    setup_customer,
    video_segments,
    world_fixture,
)


def test_init_keys_are_private_and_never_overwritten(tmp_path: Path) -> None:
    env = {"CAMVAULT_CUSTOMER_DIR": str(tmp_path / "st")}
    out = cli("customer", "init", env=env).output
    assert "age1" in out and "ed25519:" in out
    for name in ("identity.txt", "site.key", "config.json"):
        assert (tmp_path / "st" / name).stat().st_mode & 0o777 == 0o600
    before = (tmp_path / "st" / "site.key").read_bytes()
    again = cli("customer", "init", env=env, code=1).output
    assert "already holds customer keys" in again
    assert (tmp_path / "st" / "site.key").read_bytes() == before
    missing = cli("customer", "list", env={"CAMVAULT_CUSTOMER_DIR": str(tmp_path / "x")}, code=1)
    assert "run `camvault customer init`" in missing.output


def test_setup_list_download_verify_export_delete(
    world: World, tmp_path: Path, age_cli: tuple[str, str]
) -> None:
    c = setup_customer(world, tmp_path)
    # `site create` again (e.g. after a custodian was down) re-sends the same statement
    args = ["site", "create", "--site-id", c.site_id, "--storage", world.storage.url]
    for u in world.custodian_urls:
        args += ["--custodian", u]
    assert f"site {c.site_id}: 2 of 3" in c.run(*args).output
    args[3] = "another-site"
    assert "already belongs to site" in c.run(*args, code=1).output
    t0 = now_ms() - 60_000
    video = video_segments()
    segs = [c.camera.record(t0 + 2000 * i, plaintext=video[i]) for i in range(3)]
    event = json.dumps(
        {"segment_recording_id": segs[1], "labels": [{"label": "person", "confidence": 0.91}]}
    ).encode()
    ev = c.camera.record(t0 + 2000, kind=RecordingKind.EVENT, plaintext=event, duration_ms=1)

    out = c.run("list", "--camera", "cam-front").output
    for rid in [*segs, ev]:
        assert rid in out
    assert out.count("person 0.91") == 2  # on the event record and on the segment it labels
    assert "4 recording(s)" in out

    dl = tmp_path / "dl"
    c.run("download", "--out", dl, "--from", str(t0), "--to", str(now_ms()), "--join")
    for rid in segs:
        assert (dl / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]
    # the joined file plays for the three segments, as one stream (ffprobe, ffmpeg decode)
    assert abs(duration_s(dl / "cam-front.ts") - 6.0) <= 2.0
    assert decode_errors(dl / "cam-front.ts") == ""
    mp4 = tmp_path / "mp4"
    shown = c.run("download", "--out", mp4, "--camera", "cam-front", "--mp4", "--no-audio")
    assert f"{mp4 / 'cam-front.mp4'}  joined" in shown.output
    assert abs(duration_s(mp4 / "cam-front.mp4") - 6.0) <= 2.0
    assert decode_errors(mp4 / "cam-front.mp4") == ""
    listed = json.loads(c.run("list", "--json").output)
    assert {i["recording_id"] for i in listed} == {*segs, ev}
    empty = ["--camera", "cam-front", "--from", str(t0 - 60_000), "--to", str(t0 - 30_000)]
    nothing = c.run("download", "--out", tmp_path / "none", *empty, code=1)
    assert "camvault: error: no recordings match" in nothing.output
    assert (
        "no recordings match" in c.run("export", "--out", tmp_path / "none", *empty, code=1).output
    )
    unknown = c.run("download", "--out", tmp_path / "none", "--camera", "cam-back", code=1)
    assert "cam-back is not a camera this customer enrolled" in unknown.output
    one = tmp_path / "one"
    c.run("download", "--out", one, "--camera", "cam-front", "--recording", ev)
    assert (one / "cam-front" / f"{ev}.json").read_bytes() == event

    out = c.run("verify", "--deep").output
    assert "cam-front: 4 manifest(s)" in out and "intact" in out

    exp = tmp_path / "exp"
    c.run("export", "--out", exp, "--camera", "cam-front", "--recording", segs[0])
    age_bin, _ = age_cli
    plain = subprocess.run(
        [
            age_bin,
            "-d",
            "-i",
            str(c.state / "identity.txt"),
            str(exp / "cam-front" / f"{segs[0]}.age"),
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert plain == c.camera.plaintexts[segs[0]]

    deleted = c.run("delete", "--camera", "cam-front", "--recording", segs[0]).output
    assert "1 recording(s) deleted" in deleted
    # the signed deletion went to every custodian directly, each acknowledged it
    assert deleted.count("acknowledged (logged)") == 3 and "NOT" not in deleted
    audit = c.run("audit").output  # the deletion is the customer's own: nothing reported
    assert audit.count("log verified") == 3 and "PROBLEMS" not in audit
    out = c.run("list").output
    assert segs[0] not in out and segs[1] in out
    # a deletion by the customer leaves a signed tombstone: the chain stays intact
    out = c.run("verify").output
    assert "1 deleted" in out and "intact" in out
    refused = c.run(
        "download", "--out", dl, "--camera", "cam-front", "--recording", segs[0], code=1
    )
    assert "recording_deleted" in refused.output
    again = c.run("delete", "--camera", "cam-front", "--recording", segs[0], code=1).output
    assert "no recordings were deleted: none match, or they are deleted already" in again
    assert again.count("acknowledged (logged)") == 3  # sent again to every custodian
    assert "7 day(s)" in c.run("retention", "--days", "7").output


def test_verify_reports_server_side_tampering_and_deletion(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    t0 = now_ms() - 60_000
    rids = [c.camera.record(t0 + 2000 * i) for i in range(4)]
    assert "intact" in c.run("verify").output
    engine = world.storage.engine()
    try:
        with engine.begin() as conn:
            key = conn.execute(
                sa.text("SELECT object_key FROM recordings WHERE site_id=:s AND recording_id=:r"),
                {"s": c.site_id, "r": rids[0]},
            ).scalar_one()
            # the service (or someone with its access) silently drops rids[1] and rids[3]
            conn.execute(
                sa.text("DELETE FROM recordings WHERE site_id=:s AND recording_id IN (:a, :b)"),
                {"s": c.site_id, "a": rids[1], "b": rids[3]},
            )
    finally:
        engine.dispose()
    store = world.storage.store()
    with store.get(key) as reader:
        data = bytearray(reader.read())
    data[40] ^= 1
    store.delete(key)
    store.put(key, io.BytesIO(bytes(data)))

    out = c.run("verify", "--deep", code=1).output
    assert "PROBLEMS" in out
    assert "missing: sequence 1..1 missing (deleted)" in out
    # the newest one was seen by the previous verify: its disappearance is a truncation
    assert "truncated" in out
    assert f"tampered: {rids[0]}: payload differs from the signed manifest" in out


def test_download_refuses_a_substituted_recording(world: World, tmp_path: Path) -> None:
    """The service serves recording B (header and payload, both decryptable by the customer)
    under A's id: the payload does not match A's signed manifest, nothing is written."""
    c = setup_customer(world, tmp_path)
    t0 = now_ms() - 60_000
    a, b = c.camera.record(t0), c.camera.record(t0 + 2000)
    engine = world.storage.engine()
    try:
        with engine.begin() as conn:
            rows: dict[str, bytes] = dict(
                conn.execute(
                    sa.text(
                        "SELECT recording_id, header FROM recordings "
                        "WHERE site_id=:s AND recording_id IN (:a, :b)"
                    ),
                    {"s": c.site_id, "a": a, "b": b},
                ).all()
            )
            keys: dict[str, str] = dict(
                conn.execute(
                    sa.text(
                        "SELECT recording_id, object_key FROM recordings "
                        "WHERE site_id=:s AND recording_id IN (:a, :b)"
                    ),
                    {"s": c.site_id, "a": a, "b": b},
                ).all()
            )
            conn.execute(
                sa.text("UPDATE recordings SET header=:h WHERE site_id=:s AND recording_id=:a"),
                {"h": rows[b], "s": c.site_id, "a": a},
            )
    finally:
        engine.dispose()
    store = world.storage.store()
    with store.get(keys[b]) as reader:
        payload_b = reader.read()
    store.delete(keys[a])
    store.put(keys[a], io.BytesIO(payload_b))
    out = c.run(
        "download", "--out", tmp_path / "dl", "--camera", "cam-front", "--recording", a, code=1
    )
    assert f"{a}: payload differs from the signed manifest (tampered or substituted)" in out.output
    assert not list((tmp_path / "dl").glob("**/*.ts*"))


def test_inbox_decrypts_smart_alerts(world: World, tmp_path: Path) -> None:
    c = setup_customer(world, tmp_path)
    keys = c.camera.site_keys()
    alert = json.dumps(
        {"camera_id": "cam-front", "labels": [{"label": "vehicle", "confidence": 0.8}]}
    ).encode()
    buf = io.BytesIO()
    age.encrypt(list(keys.recipients), io.BytesIO(alert), buf)
    with c.camera.client as client:
        r = client.post(
            f"/v1/sites/{c.site_id}/cameras/cam-front/smart-alerts",
            json={
                "alert_id": "al-1",
                "created_ms": now_ms(),
                "payload": base64.b64encode(buf.getvalue()).decode(),
            },
        )
    assert r.status_code == 201, r.text
    out = c.run("inbox").output
    assert "smart_alert" in out and "cam-front vehicle 0.8" in out
    assert buf.getvalue()[:40] not in out.encode()


def test_add_device_rewraps_old_recordings(
    world: World, tmp_path: Path, age_cli: tuple[str, str]
) -> None:
    c = setup_customer(world, tmp_path)
    t0 = now_ms() - 30_000
    old = c.camera.record(t0)
    phone = tmp_path / "phone"
    phone_env = {"CAMVAULT_CUSTOMER_DIR": str(phone)}
    init_out = cli("customer", "init", env=phone_env).output.splitlines()
    recipient = next(line.split()[-1] for line in init_out if line.startswith("recipient"))
    out = c.run("add-device", "--recipient", recipient).output
    assert "SiteKeys v2 published; 1 header(s) re-wrapped" in out
    new = c.camera.record(t0 + 2000)  # the camera now encrypts to both devices
    # the new device shares the site (its own identity, the site key and config copied over)
    shutil.copy(c.state / "config.json", phone / "config.json")
    (phone / "site.key").unlink()
    shutil.copy(c.state / "site.key", phone / "site.key")
    mine, theirs = CustomerState(phone).identity(), CustomerState(c.state).identity()
    assert mine.recipient() != theirs.recipient()
    dl = tmp_path / "dl"
    cli("customer", "download", "--out", dl, env=phone_env)
    for rid in (old, new):
        assert (dl / "cam-front" / f"{rid}.ts").read_bytes() == c.camera.plaintexts[rid]
    # the re-wrapped header no longer matches the manifest's first header hash, but its MAC
    # verifies under the file key: verify --deep accepts it
    assert "intact" in c.run("verify", "--deep").output
    # running it again resumes (nothing left to do): same SiteKeys, no header touched twice
    again = c.run("add-device", "--recipient", recipient).output
    assert "SiteKeys v2 published; 0 header(s) re-wrapped" in again
