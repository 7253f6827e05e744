"""One request with 1,800 stanzas (an hour of 2-second segments): released, combined, opened.
Functional only; its latency is measured by bench/escrow.py."""

from __future__ import annotations

import io
import random
import uuid

from clients.operator.release import decrypt_recording, gather_releases
from common.time import now_ms
from crypto.escrow import SessionKey
from tests.escrow.harness import Cluster, Site, register_operator

SEGMENTS = 1800


def test_batch_of_1800_stanzas_in_one_request(cluster: Cluster) -> None:
    site = Site(f"site-{uuid.uuid4().hex[:8]}")
    site.enroll(cluster)
    op = ("op-batch", register_operator(cluster, "op-batch"))
    # Trigger at the end of the hour; this camera model keeps an hour before the alarm.
    t = now_ms() - 1_000
    start = t - SEGMENTS * 2_000
    made = [
        site.record(f"seg-{i:04d}", start + 2_000 * i, start + 2_000 * (i + 1), camera="cam-hour")
        for i in range(SEGMENTS)
    ]
    session = SessionKey.generate()
    releases = gather_releases(
        cluster.endpoints(),
        2,
        *op,
        purpose="alarm-verification",
        justification=site.alarm("ev-hour", 1, t),
        session=session,
        recordings=[m[0] for m in made],
        timeout=120,
    )
    for rel in releases:
        assert len(rel.sealed) == SEGMENTS and not rel.refused
        assert rel.entry_json["released"]["count"] == SEGMENTS
    for rec, payload, plain in random.Random(5).sample(made, 20):
        out = io.BytesIO()
        decrypt_recording(releases, rec, session, io.BytesIO(payload), out)
        assert out.getvalue() == plain
