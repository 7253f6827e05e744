"""Seed a running storage service for the portal's browser test (web/e2e/portal.test.mjs).

    ../.venv/bin/python scripts/seed_portal.py <storage URL>     (from web/)

Creates, with the repository's own test helpers (tests/storage/support.py: the same requests
a customer and a camera make), a site bound to a fresh customer key, one camera and a few
recordings, and prints one JSON object: the customer's key files as `camvault customer init`
writes them (identity.txt, site.key) and the config.json entry that names the site, plus the
listing the portal must show.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from common.time import now_ms  # noqa: E402
from crypto.age.x25519 import format_identity_file  # noqa: E402
from tests.storage.support import create_site  # noqa: E402

RECORDINGS = 3


def main(url: str) -> None:
    site = create_site(url, "portal-e2e")
    try:
        camera = site.enroll_camera("cam-front")
        base = now_ms() - 3_600_000
        expected = []
        for i in range(RECORDINGS):
            rec = camera.record(f"segment {i}".encode() * 100, start_ms=base + i * 60_000)
            r = camera.upload(rec)
            if r.status_code != 201:
                raise SystemExit(f"seed: commit refused: {r.status_code} {r.text}")
            expected.append(
                {
                    "camera_id": camera.camera_id,
                    "recording_id": rec.recording_id,
                    "start_ms": base + i * 60_000,
                    "payload_size": len(rec.payload),
                }
            )
    finally:
        site.close()
    out = {
        "site_id": site.site_id,
        "identity_txt": format_identity_file(site.identity, datetime.now(UTC)),
        "site_key": site.key.to_text() + "\n",
        "config_json": json.dumps({"storage_url": url, "site_id": site.site_id}),
        "identity": site.identity.to_text(),
        "site_key_secret": site.key.to_text(),
        "cameras": [camera.camera_id],
        "recordings": expected,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: seed_portal.py <storage URL>")
    main(sys.argv[1])
