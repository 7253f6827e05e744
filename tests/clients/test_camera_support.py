"""Shared helpers of the camera tests: a site on the real storage service, the camera's
key and config, and what the customer sees afterwards (recordings, chain, decryption)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clients.camera.config import CameraConfig, Mode, SourceConfig, SourceKind
from crypto.age import decrypt
from crypto.age.x25519 import format_identity_file
from crypto.canonical import canonical_json
from crypto.encoding import b64encode_padded
from crypto.metadata import RecordingKind
from crypto.statements import Manifest, parse_signed, verify_chain
from tests.storage.support import Camera, CustomerSite, create_site


def ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        pytest.fail("ffmpeg is not installed (apt-get install ffmpeg)", pytrace=False)
    return exe


@dataclass
class World:
    site: CustomerSite
    cam: Camera
    tmp: Path

    @property
    def key_file(self) -> Path:
        p = self.tmp / "camera.key"
        if not p.exists():
            p.write_text(self.cam.key.to_text() + "\n")
        return p

    def config(self, **kw: Any) -> CameraConfig:
        source = kw.pop("source", None) or SourceConfig(
            kind=SourceKind.TESTSRC, realtime=False, duration_s=8
        )
        return CameraConfig(
            url=self.site.url,
            site_id=self.site.site_id,
            camera_id=self.cam.camera_id,
            key_file=str(self.key_file),
            state_dir=str(self.tmp / "state"),
            source=source,
            mode=kw.pop("mode", Mode.CONTINUOUS),
            detector=kw.pop("detector", "none"),
            alarm_poll_s=kw.pop("alarm_poll_s", 0.5),
            telemetry_interval_s=kw.pop("telemetry_interval_s", 3600),
            retry_max_s=1.0,
            exit_when_done=kw.pop("exit_when_done", True),
            **kw,
        )

    def recordings(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"camera_id": self.cam.camera_id, "limit": 500}
            if cursor:
                params["cursor"] = cursor
            r = self.site.client.get(f"/v1/sites/{self.site.site_id}/recordings", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        return sorted(items, key=lambda i: i["sequence"])

    def manifests(self, items: list[dict[str, Any]]) -> list[Manifest]:
        out = []
        for i in items:
            m = parse_signed(canonical_json(i["manifest"])).unverified_statement
            assert isinstance(m, Manifest)
            out.append(m)
        return out

    def check_chain(self, items: list[dict[str, Any]]) -> None:
        signed = [parse_signed(canonical_json(i["manifest"])) for i in items]
        problems = verify_chain(
            signed,
            self.cam.key.public_key,
            site_id=self.site.site_id,
            camera_id=self.cam.camera_id,
            expected_last_sequence=len(items) - 1,
        )
        assert problems == [], problems
        seqs = [i["sequence"] for i in items]
        assert seqs == list(range(len(items))), seqs
        assert len({i["recording_id"] for i in items}) == len(items)

    def export(self, recording_id: str) -> bytes:
        base = f"/v1/sites/{self.site.site_id}/cameras/{self.cam.camera_id}"
        r = self.site.client.get(f"{base}/recordings/{recording_id}/export")
        assert r.status_code == 200, r.text
        return r.content

    def decrypt(self, age_file: bytes) -> bytes:
        out = io.BytesIO()
        decrypt([self.site.identity], io.BytesIO(age_file), out)
        return out.getvalue()

    def identity_file(self) -> Path:
        p = self.tmp / "customer.txt"
        p.write_text(format_identity_file(self.site.identity, datetime.now(UTC)))
        return p

    def age_decrypt(self, age: str, age_file: Path) -> bytes:
        res = subprocess.run(
            [age, "-d", "-i", str(self.identity_file()), str(age_file)],
            capture_output=True,
            timeout=30,
        )
        assert res.returncode == 0, res.stderr
        return res.stdout

    def event_records(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            json.loads(self.decrypt(self.export(i["recording_id"])))
            for i in items
            if i["kind"] == RecordingKind.EVENT.value
        ]


def new_world(url: str, tmp: Path) -> World:
    site = create_site(url)
    cam = site.enroll_camera()
    return World(site, cam, tmp)


def playable(ffprobe_input: bytes, tmp: Path) -> float:
    """Duration in seconds that ffprobe reads from a decrypted segment."""
    p = tmp / "probe.ts"
    p.write_bytes(ffprobe_input)
    res = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(p)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    return float(res.stdout.strip())


b64 = b64encode_padded
