"""After the run, each customer checks what the storage service acknowledged: every recording
a camera got a 201 (or 200) commit for must be listed as committed, in an unbroken chain per
camera, and its payload must download, match the camera-signed manifest (signature under the
enrolled camera key, names, payload size and SHA-256, header SHA-256) and decrypt with the
customer's own identity to exactly the plaintext the camera recorded. A missing or differing
recording is lost; the run asserts there are none.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

from clients.common import signed_from_json
from crypto.age import decrypt_header
from crypto.age.stream import decrypt_payload
from crypto.errors import CryptoError
from crypto.statements import Manifest
from tests.reliability.load.fleet import Camera, Fleet, Site, plaintext
from tests.reliability.load.http import Http, Refused

CONCURRENCY = 32
ATTEMPTS = 3


@dataclass
class Verified:
    acknowledged: int = 0
    verified: int = 0
    lost: list[str] = field(default_factory=list)  # "site/camera/recording: why"


async def _listing(http: Http, storage: str, site: Site) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    key = site.customer_key
    while True:
        url = f"{storage}/v1/sites/{site.site_id}/recordings"
        for attempt in range(ATTEMPTS):  # tried again after a transport failure
            req = http.signed("GET", url, f"customer:{site.site_id}", key, params=params)
            try:
                resp = await http.send("verify: storage GET .../recordings", req, ok=(200,))
                break
            except Refused as exc:
                if exc.status != 0 or attempt == ATTEMPTS - 1:
                    raise
                await asyncio.sleep(1.0 + attempt)
        page = resp.json()
        items.extend(page["items"])
        if not page.get("next_cursor"):
            return items
        params["cursor"] = page["next_cursor"]


async def _one(http: Http, storage: str, cam: Camera, rid: str, out: Verified) -> None:
    """Check one recording; a transport failure (no answer) is tried again, a little later:
    only an answer can say a recording is lost."""
    for attempt in range(ATTEMPTS):
        try:
            return await _check(http, storage, cam, rid, out)
        except Refused as exc:
            if exc.status != 0 or attempt == ATTEMPTS - 1:
                out.lost.append(f"{cam.site.site_id}/{cam.camera_id}/{rid}: {exc}")
                return
            await asyncio.sleep(1.0 + attempt)


async def _check(http: Http, storage: str, cam: Camera, rid: str, out: Verified) -> None:
    site = cam.site
    path = f"{storage}/v1/sites/{site.site_id}/cameras/{cam.camera_id}/recordings/{rid}"
    name = f"{site.site_id}/{cam.camera_id}/{rid}"
    try:
        req = http.signed("GET", path, f"customer:{site.site_id}", site.customer_key)
        detail = (await http.send("verify: storage GET .../recordings/{r}", req)).json()
        get = http.client.build_request("GET", detail["download_url"])
        payload = (await http.send("verify: minio GET (presigned)", get, ok=(200,))).content
        header = base64.b64decode(detail["header"])
        m = signed_from_json(detail["manifest"]).verify(cam.key.public_key, Manifest)
        facts = (m.site_id, m.camera_id, m.recording_id, m.payload_size, m.payload_sha256)
        want = (site.site_id, cam.camera_id, rid, len(payload), hashlib.sha256(payload).digest())
        if facts != want or m.header_sha256 != hashlib.sha256(header).digest():
            out.lost.append(f"{name}: not what the camera signed")
            return
        _, file_key = decrypt_header(site.state.identities(), header)
        plain = io.BytesIO()
        decrypt_payload(file_key, io.BytesIO(payload), plain)
    except (CryptoError, ValueError) as exc:
        out.lost.append(f"{name}: {type(exc).__name__}: {exc}")
        return
    if plain.getvalue() != plaintext(site.site_id, cam.camera_id, rid):
        out.lost.append(f"{name}: decrypts to another plaintext")
        return
    out.verified += 1


async def verify_fleet(http: Http, storage: str, fleet: Fleet) -> Verified:
    out = Verified()
    todo: list[tuple[Camera, str]] = []
    for site in fleet.sites:
        listed = await _listing(http, storage, site)
        by_cam: dict[str, dict[str, dict[str, Any]]] = {}
        for item in listed:
            by_cam.setdefault(item["camera_id"], {})[item["recording_id"]] = item
        for cam in site.cameras:
            mine = by_cam.get(cam.camera_id, {})
            seqs = sorted(int(i["sequence"]) for i in mine.values())
            if seqs != list(range(len(seqs))):
                out.lost.append(f"{site.site_id}/{cam.camera_id}: chain has gaps {seqs[:5]}...")
            for rid in cam.acknowledged:
                out.acknowledged += 1
                found = mine.get(rid)
                if found is None or found["status"] != "committed":
                    out.lost.append(f"{site.site_id}/{cam.camera_id}/{rid}: not listed")
                else:
                    todo.append((cam, rid))
    sem = asyncio.Semaphore(CONCURRENCY)

    async def bounded(cam: Camera, rid: str) -> None:
        async with sem:
            await _one(http, storage, cam, rid, out)

    await asyncio.gather(*(bounded(c, r) for c, r in todo))
    return out
