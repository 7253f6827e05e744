"""Read-only consistency check of the storage service's database and object store.

:func:`check` compares the two and returns every problem it finds; it never writes to either.
What counts as consistent:

- every committed recording that is not deleted has its payload object, of the size its
  manifest states, and a header that parses as an age v1 header (crypto.age.format);
- every object in the store is referenced by a live recording, by an open upload (its
  staging object) or by a row of the deletion queue (the sweeper removes those, and queues
  the objects of expired uploads itself); anything else stays in the store for ever;
- per camera, the signed manifests stored with its recordings (deleted ones keep theirs)
  form an unbroken chain from sequence 0 to the camera's recorded chain head
  (crypto.statements.chain.verify_chain), and each row's columns agree with its manifest.

Run it on a quiet service: a commit in flight holds a copy of its payload under a key that
no row names yet, which this check reports as an orphan.
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from common.fsck import Problem, Report
from crypto.age.format import parse_header
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import CryptoError, HeaderError, StatementError
from crypto.statements import Manifest, SignedStatement, parse_signed
from crypto.statements.chain import verify_chain
from storage_service.blobstore import BlobStore, ObjectInfo
from storage_service.db.models import DeletionQueue, Device, Recording, Upload


class Kind(StrEnum):
    """What is wrong; the first word of each output line of `camvault admin fsck`."""

    PAYLOAD_MISSING = "payload_missing"  # a live recording whose object is gone
    PAYLOAD_SIZE_MISMATCH = "payload_size_mismatch"  # object size differs from the manifest's
    ORPHAN_OBJECT = "orphan_object"  # an object no row references: never collected
    HEADER_INVALID = "header_invalid"  # a live recording's header is not an age v1 header
    MANIFEST_INVALID = "manifest_invalid"  # a stored manifest does not parse
    MANIFEST_ROW_MISMATCH = "manifest_row_mismatch"  # row columns differ from its manifest
    CHAIN_BROKEN = "chain_broken"  # gap, fork, bad link or signature in a camera's chain
    CHAIN_HEAD_MISMATCH = "chain_head_mismatch"  # the camera's head is not its last manifest
    CAMERA_UNKNOWN = "camera_unknown"  # recordings of a camera with no device row


def _rec_ids(r: Recording) -> dict[str, str | int]:
    return {"site": r.site_id, "camera": r.camera_id, "recording": r.recording_id}


def _check_payload(r: Recording, objects: dict[str, ObjectInfo], out: list[Problem]) -> None:
    info = objects.get(r.object_key)
    ids = {**_rec_ids(r), "key": r.object_key}
    if info is None:
        out.append(Problem(Kind.PAYLOAD_MISSING, ids, "no object under the recording's key"))
    elif info.size != r.payload_size:
        detail = f"object has {info.size} bytes, manifest says {r.payload_size}"
        out.append(Problem(Kind.PAYLOAD_SIZE_MISMATCH, ids, detail))
    if r.header is not None:
        try:
            parse_header(r.header)
        except HeaderError as exc:
            out.append(Problem(Kind.HEADER_INVALID, _rec_ids(r), str(exc)))


def _row_mismatch(r: Recording, signed: SignedStatement) -> str | None:
    m = signed.unverified_statement
    if not isinstance(m, Manifest):
        return f"statement type is {signed.statement_type}"
    want = {
        "recording_id": m.recording_id,
        "sequence": m.sequence,
        "payload_size": m.payload_size,
        "start_ms": m.start_ms,
        "end_ms": m.end_ms,
    }
    for name, value in want.items():
        if getattr(r, name) != value:
            return f"column {name} is {getattr(r, name)!r}, the manifest says {value!r}"
    if not hmac.compare_digest(r.payload_sha256, m.payload_sha256):
        return "column payload_sha256 differs from the manifest's"
    if not hmac.compare_digest(r.manifest_sha256, signed.statement_hash()):
        return "column manifest_sha256 is not the hash of the stored manifest"
    return None


def _check_camera(
    site_id: str, camera_id: str, rows: list[Recording], device: Device | None
) -> list[Problem]:
    ids: dict[str, str | int] = {"site": site_id, "camera": camera_id}
    if device is None:
        return [Problem(Kind.CAMERA_UNKNOWN, ids, f"{len(rows)} recordings, no device row")]
    out: list[Problem] = []
    manifests: list[SignedStatement] = []
    for r in sorted(rows, key=lambda row: row.sequence):
        try:
            signed = parse_signed(r.manifest)
        except (StatementError, CryptoError, ValueError) as exc:
            out.append(Problem(Kind.MANIFEST_INVALID, _rec_ids(r), str(exc)))
            continue
        mismatch = _row_mismatch(r, signed)
        if mismatch is not None:
            out.append(Problem(Kind.MANIFEST_ROW_MISMATCH, _rec_ids(r), mismatch))
        manifests.append(signed)
    key = Ed25519PublicKey.from_text(device.device_key)
    for p in verify_chain(
        manifests,
        key,
        site_id=site_id,
        camera_id=camera_id,
        expected_last_sequence=device.last_sequence,
    ):
        where = {} if p.sequence is None else {"sequence": p.sequence}
        out.append(Problem(Kind.CHAIN_BROKEN, {**ids, **where}, f"{p.kind.value}: {p.detail}"))
    head = max(rows, key=lambda row: row.sequence)
    if device.last_sequence != head.sequence or not hmac.compare_digest(
        device.last_manifest_sha256 or b"", head.manifest_sha256
    ):
        detail = f"device head is sequence {device.last_sequence}, newest row {head.sequence}"
        out.append(Problem(Kind.CHAIN_HEAD_MISMATCH, ids, detail))
    return out


def _orphans(objects: Iterable[ObjectInfo], referenced: set[str]) -> list[Problem]:
    return [
        Problem(Kind.ORPHAN_OBJECT, {"key": o.key}, f"{o.size} bytes, referenced by no row")
        for o in objects
        if o.key not in referenced
    ]


def check(engine: Engine, store: BlobStore) -> Report:
    """Every inconsistency between the database at ``engine`` and ``store`` (read-only)."""
    report = Report()
    objects = {o.key: o for o in store.list_objects()}
    report.checked["objects"] = len(objects)
    with Session(engine) as s:
        recordings = s.exec(select(Recording).order_by(col(Recording.id))).all()
        devices = {(d.site_id, d.device_id): d for d in s.exec(select(Device)).all()}
        referenced = {k for k in s.exec(select(Upload.object_key)).all()}
        referenced.update(s.exec(select(DeletionQueue.object_key)).all())
    report.checked["recordings"] = len(recordings)
    by_camera: dict[tuple[str, str], list[Recording]] = defaultdict(list)
    for r in recordings:
        by_camera[(r.site_id, r.camera_id)].append(r)
        if r.deleted_ms is None:
            referenced.add(r.object_key)
            _check_payload(r, objects, report.problems)
    report.checked["cameras"] = len(by_camera)
    for (site_id, camera_id), d in sorted(devices.items()):
        if d.last_sequence is not None and (site_id, camera_id) not in by_camera:
            ids: dict[str, str | int] = {"site": site_id, "camera": camera_id}
            detail = f"device head is sequence {d.last_sequence}, no recording row left"
            report.problems.append(Problem(Kind.CHAIN_HEAD_MISMATCH, ids, detail))
    for (site_id, camera_id), rows in sorted(by_camera.items()):
        report.problems.extend(
            _check_camera(site_id, camera_id, rows, devices.get((site_id, camera_id)))
        )
    report.problems.extend(_orphans(objects.values(), referenced))
    return report
