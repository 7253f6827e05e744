"""`make demo-crypto`: the camvault story told with library calls of the cryptographic core.

Runs on embedded defaults (SQLite + local object store in a temporary directory). Library
calls play the roles that `make demo` (demo/story.py) gives to the real programs: the
storage API, the custodian processes and the camera agent. Each step checks what it claims
and the walkthrough exits non-zero if any step does not behave as described.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from rich.console import Console

from common.time import now_ms
from crypto import age, escrow, statements, tlog
from crypto.age.format import parse_header
from crypto.age.x25519 import format_identity_file, generate_identity
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.errors import CryptoError, EscrowError, NoIdentityMatchError, ShareError
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.siteid import site_id_for
from crypto.tlog.note import Checkpoint, NoteSigner, NoteVerifier, open_checkpoint, sign_checkpoint
from storage_service.blobstore.local import LocalBlobStore
from storage_service.db import make_engine, session_scope, upgrade
from storage_service.db.models import Site

console = Console()
SEGMENT_BYTES = 2 * 1024 * 1024 + 12345  # a bit over 2 MiB: several 64 KiB STREAM chunks
THRESHOLD, CUSTODIANS = 2, 3


class DemoError(Exception):
    pass


def step(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


def ok(msg: str) -> None:
    console.print(f"  [green]✓[/green] {msg}")


def expect_refusal(what: str, fn: Callable[[], object], exc: type[Exception]) -> None:
    try:
        fn()
    except exc as e:
        ok(f"{what}: refused ({type(e).__name__}: {e})")
        return
    raise DemoError(f"{what} was NOT refused")


@dataclass
class Custodian:
    cid: str
    escrow_key: escrow.CustodianKey
    log_signer: NoteSigner
    leaves: list[bytes]

    @property
    def origin(self) -> str:
        return f"camvault.io/custodian/{self.cid}"

    def release(
        self,
        stanza_index: int,
        header: bytes,
        meta: RecordingMetadata,
        session_pk: bytes,
        justification: bytes,
    ) -> tuple[bytes, int, bytes]:
        """Open this custodian's stanza, log the release, then seal the share to the session."""
        stanza = escrow.escrow_stanzas(parse_header(header).stanzas)[stanza_index]
        share = escrow.open_escrow_stanza(stanza, self.escrow_key, meta)
        entry = b'{"kind":"release","recording":"%s","justification":"%s"}' % (
            meta.recording_id.encode(),
            hashlib.sha256(justification).hexdigest().encode(),
        )
        self.leaves.append(tlog.entry_leaf_hash(entry))  # logged BEFORE the share leaves
        index = len(self.leaves) - 1
        sealed = escrow.seal_share_to_session(
            share, session_pk, meta, release_id=f"{self.cid}-{index}"
        )
        return sealed, index, entry

    def checkpoint(self) -> bytes:
        root = tlog.root_from_leaf_hashes(self.leaves)
        return sign_checkpoint(Checkpoint(self.origin, len(self.leaves), root, ()), self.log_signer)


def run(workdir: Path) -> None:
    step("1. Site setup: the customer creates keys, picks 3 custodians (threshold 2)")
    identity = generate_identity()
    identity_file = workdir / "customer.agekey"
    identity_file.write_text(format_identity_file(identity, datetime.now(UTC)))
    site_key = Ed25519SigningKey.generate()
    site_id = site_id_for(site_key.public_key, "home-1")  # bound to the site key
    custodians = [
        Custodian(
            f"c{i}",
            escrow.CustodianKey.generate(),
            NoteSigner.generate(f"camvault.io/custodian/c{i}"),
            [],
        )
        for i in range(1, CUSTODIANS + 1)
    ]
    site_keys = statements.SiteKeys(
        site_id=site_id,
        version=1,
        customer_key=site_key.public_key,
        recipients=(identity.recipient(),),
        custodians=tuple(
            statements.Custodian(c.cid, c.escrow_key.public_key(), _ed(c.log_signer), None)
            for c in custodians
        ),
        threshold=THRESHOLD,
        issued_at_ms=now_ms(),
    )
    signed_keys = statements.sign_statement(site_keys, site_key)
    pinned = statements.verify_site_keys(statements.parse_signed(signed_keys.encode()), None)
    db_url = f"sqlite:///{workdir / 'camvault.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        s.add(
            Site(
                id=pinned.site_id,
                customer_signing_key=pinned.customer_key.to_text(),
                keys_version=pinned.version,
                site_keys=signed_keys.encode(),
            )
        )
    engine.dispose()
    ok(f"customer recipient {identity.recipient()}")
    ok(f"SiteKeys v1 signed by {site_key.public_key.to_text()[:24]}… and stored (SQLite)")

    step("2. A camera records three 2-second segments and uploads ciphertext only")
    camera_key = Ed25519SigningKey.generate()
    store = LocalBlobStore(workdir / "objects")
    t0 = now_ms() - 60_000
    headers: dict[str, bytes] = {}
    metas: dict[str, RecordingMetadata] = {}
    plaintexts: dict[str, bytes] = {}
    manifests: list[statements.SignedStatement] = []
    prev: bytes | None = None
    for seq in range(3):
        rid = f"seg-{seq:04d}"
        meta = RecordingMetadata(
            site_id,
            "cam-front",
            rid,
            RecordingKind.SEGMENT,
            t0 + 2000 * seq,
            t0 + 2000 * (seq + 1),
        )
        plain = hashlib.shake_256(rid.encode()).digest(SEGMENT_BYTES)
        recipients = escrow.build_recipient_set(
            list(pinned.recipients),
            [c.escrow_key.public_key() for c in custodians],
            THRESHOLD,
            meta,
        )
        header, file_key = age.encrypt_header(recipients)
        payload = io.BytesIO()
        age.encrypt_payload(file_key, io.BytesIO(plain), payload)
        store.put(f"{site_id}/cam-front/{rid}", io.BytesIO(payload.getvalue()))
        manifest = statements.Manifest(
            site_id=site_id,
            camera_id="cam-front",
            recording_id=rid,
            kind=RecordingKind.SEGMENT,
            start_ms=meta.start_ms,
            end_ms=meta.end_ms,
            payload_sha256=hashlib.sha256(payload.getvalue()).digest(),
            payload_size=len(payload.getvalue()),
            header_sha256=hashlib.sha256(header).digest(),
            sequence=seq,
            prev_manifest_sha256=prev,
            issued_at_ms=now_ms(),
        )
        signed = statements.sign_statement(manifest, camera_key)
        prev = statements.manifest_hash(signed)
        manifests.append(signed)
        headers[rid], metas[rid], plaintexts[rid] = header, meta, plain
        if plain in payload.getvalue():
            raise DemoError("plaintext found in the stored payload")
        ok(f"{rid}: header {len(header)} B kept apart, payload {len(payload.getvalue())} B stored")

    step("3. The customer verifies the manifest chain and decrypts")
    problems = statements.verify_chain(
        manifests, camera_key.public_key, site_id=site_id, camera_id="cam-front"
    )
    if problems:
        raise DemoError(f"chain problems: {problems}")
    ok("manifest chain intact (3 segments, no gap, no substitution)")
    for rid, header in headers.items():
        out = io.BytesIO()
        with store.get(f"{site_id}/cam-front/{rid}") as reader:
            age.decrypt([identity], io.BytesIO(header + reader.read()), out)
        if out.getvalue() != plaintexts[rid]:
            raise DemoError(f"{rid} did not decrypt to the recorded bytes")
    ok("all segments decrypt with the customer's identity")
    tampered = list(manifests)
    del tampered[1]
    problems = statements.verify_chain(
        tampered, camera_key.public_key, site_id=site_id, camera_id="cam-front"
    )
    if not problems:
        raise DemoError("deleting a segment was not detected")
    ok(f"a server that hides seg-0001 is caught: {problems[0].kind}")

    step("4. Export: header || payload is a standard age file")
    export = workdir / "seg-0000.age"
    with export.open("wb") as fh, store.get(f"{site_id}/cam-front/seg-0000") as reader:
        age.export(headers["seg-0000"], cast(BinaryIO, reader), fh)
    age_bin = shutil.which("age")
    if age_bin is None:
        raise DemoError("the `age` CLI is not installed (make tools installs it)")
    plain = subprocess.run(
        [age_bin, "-d", "-i", str(identity_file), str(export)], capture_output=True, check=True
    ).stdout
    if plain != plaintexts["seg-0000"]:
        raise DemoError("`age -d` gave different bytes")
    ok(f"`age -d -i customer.agekey seg-0000.age` → {len(plain)} bytes, identical")

    step("5. An operator without justification gets nothing usable")
    stranger = generate_identity()
    expect_refusal(
        "operator's own identity on the file",
        lambda: age.decrypt_header([stranger], headers["seg-0001"]),
        NoIdentityMatchError,
    )
    session = escrow.SessionKey.generate()
    justification = b"no alarm"
    sealed, _, _ = custodians[0].release(
        0, headers["seg-0001"], metas["seg-0001"], session.public_key(), justification
    )
    one = escrow.open_released_share(sealed, session, metas["seg-0001"], release_id="c1-0")
    expect_refusal(
        "file key from a single custodian's share (t-1)",
        lambda: escrow.combine_file_key([one], headers["seg-0001"]),
        ShareError,
    )

    step("6. The panel raises an alarm; two custodians release, the operator decrypts")
    panel_key = Ed25519SigningKey.generate()
    alarm = statements.sign_statement(
        statements.AlarmEvent(
            site_id=site_id,
            panel_id="panel-1",
            event_id="evt-42",
            alarm_type=statements.AlarmType("intrusion"),
            triggered_at_ms=t0 + 3000,
            counter=1,
        ),
        panel_key,
    )
    event = statements.verify(alarm, panel_key.public_key, statements.AlarmEvent)
    ok(f"alarm {event.event_id} ({event.alarm_type}) signed by the site's panel")
    session = escrow.SessionKey.generate()
    rid = "seg-0001"
    shares = []
    entries = {}
    for c_index in (1, 2):
        c = custodians[c_index]
        sealed, index, entry = c.release(
            c_index, headers[rid], metas[rid], session.public_key(), alarm.encode()
        )
        shares.append(
            escrow.open_released_share(sealed, session, metas[rid], release_id=f"{c.cid}-{index}")
        )
        entries[c.cid] = (index, entry)
        ok(f"custodian {c.cid} logged the release at index {index} and sealed its share")
    file_key = escrow.combine_file_key(shares, headers[rid])
    out = io.BytesIO()
    with store.get(f"{site_id}/cam-front/{rid}") as reader:
        age.decrypt_payload(file_key, cast(BinaryIO, reader), out)
    if out.getvalue() != plaintexts[rid]:
        raise DemoError("operator decryption gave different bytes")
    ok("2 of 3 shares → file key (header MAC verified) → segment decrypted")

    step("7. A storage server that re-labels a recording is caught by the custodian")
    forged = RecordingMetadata(
        site_id,
        "cam-front",
        rid,
        RecordingKind.SEGMENT,
        metas[rid].start_ms + 3_600_000,
        metas[rid].end_ms + 3_600_000,
    )
    expect_refusal(
        "escrow stanza opened with shifted times",
        lambda: custodians[1].release(1, headers[rid], forged, session.public_key(), b"x"),
        EscrowError,
    )

    step("8. The customer audits the custodian logs")
    for c in custodians[1:]:
        index, entry = entries[c.cid]
        cp = open_checkpoint(c.checkpoint(), [_verifier(c.log_signer)], c.origin)
        proof = tlog.inclusion_proof(c.leaves, index, cp.size)
        tlog.verify_inclusion(tlog.entry_leaf_hash(entry), index, cp.size, proof, cp.root_hash)
        ok(f"{c.cid}: checkpoint size {cp.size} signed; release {index} proven included")

    step("9. Crypto-shredding: deleting the header makes the payload useless")
    del headers["seg-0002"]
    ok("seg-0002 header deleted; its payload alone has no stanza anyone can open")
    console.print("\n[bold green]demo finished: every step behaved as described[/bold green]")


def _ed(signer: NoteSigner) -> Ed25519PublicKey:
    return Ed25519PublicKey(signer.verifier.public_key)


def _verifier(signer: NoteSigner) -> NoteVerifier:
    return signer.verifier


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="camvault-demo-"))
    try:
        run(workdir)
    except (DemoError, CryptoError, subprocess.CalledProcessError) as exc:
        console.print(f"[bold red]demo failed:[/bold red] {exc}")
        return 1
    finally:
        if not os.environ.get("CAMVAULT_DEMO_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
