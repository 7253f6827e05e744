"""Read-only consistency check of the storage service's database and object store.

:func:`check` compares the two and returns every problem it finds; it never writes to either.
What counts as consistent:

- every committed recording that is not deleted has its payload object, of the size its
  manifest states, and a header that parses as an age v1 header (crypto.age.format);
- every object in the store is referenced by a live recording, by an open upload (its
  staging object) or by a row of the deletion queue (the sweeper removes those, and queues
  the objects of expired uploads itself; a commit queues its copy as an intent before it
  makes it); anything else stays in the store for ever;
- the local store (embedded default) holds no leftovers of an interrupted write: no
  ``.camvault-tmp-*`` file (a PUT or copy killed midway) and no multipart upload in progress
  that no open upload or deletion-queue row names (neither is listed, nor ever collected);
- per camera, the signed manifests stored with its recordings (deleted ones keep theirs)
  form an unbroken chain from sequence 0 to the camera's recorded chain head
  (crypto.statements.chain.verify_chain), and each row's columns agree with its manifest.

Memory stays bounded whatever the size of the store: the object listing (in key order, a
page at a time) is merged with the keys the database names, read in the same order through
a server-side cursor, and the recordings are read camera by camera, a window at a time.

Run it on a quiet service: the listing and the database are not read at one instant, so an
object written meanwhile may be reported as an orphan.
"""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from common.fsck import Problem, Report
from crypto.age.format import parse_header
from crypto.ed25519 import Ed25519PublicKey
from crypto.errors import CryptoError, HeaderError, StatementError
from crypto.statements import Manifest, SignedStatement, parse_signed
from crypto.statements.chain import ChainAnchor, verify_chain
from storage_service.blobstore import BlobStore, LocalBlobStore, ObjectInfo
from storage_service.blobstore.local.fs import INTERNAL_DIR, TEMP_PREFIX
from storage_service.db.models import DeletionQueue, Device, Recording, Upload

#: Rows per fetch of a server-side cursor, and manifests per chain window.
WINDOW = 1000


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
    TEMP_FILE = "temp_file"  # local store: the temporary file of a write that never finished
    ORPHAN_MULTIPART = "orphan_multipart"  # local store: an upload in progress no row names


def _rec_ids(r: Any) -> dict[str, str | int]:
    return {"site": r.site_id, "camera": r.camera_id, "recording": r.recording_id}


# --- objects: the store listing merged with the keys the database names -----------------------


def _by_key(engine: Engine, column: Any) -> Any:
    """``column`` in the byte order of its UTF-8 text (the order of store listings)."""
    return column.collate("C" if engine.dialect.name == "postgresql" else "BINARY")


def _referenced(engine: Engine, conn: Connection) -> Iterator[Row[Any]]:
    """(key, live recording's ids and size or NULLs) for every key a row names, in key order:
    live recordings, open uploads (staging objects) and the deletion queue."""
    r, u, q = Recording.__table__.c, Upload.__table__.c, DeletionQueue.__table__.c  # type: ignore[attr-defined]
    nulls = (sa.null(), sa.null(), sa.null(), sa.null())
    live = sa.select(r.object_key, r.site_id, r.camera_id, r.recording_id, r.payload_size).where(
        r.deleted_ms.is_(None)
    )
    union = sa.union_all(
        live,
        sa.select(u.object_key, *nulls),
        sa.select(q.object_key, *nulls),
    ).subquery()
    query = sa.select(union).order_by(_by_key(engine, union.c.object_key))
    yield from conn.execution_options(stream_results=True, yield_per=WINDOW).execute(query)


def _check_objects(objects: Iterator[ObjectInfo], rows: Iterator[Row[Any]], report: Report) -> None:
    """Merge the two key-ordered streams: a live recording's key must be an object of its
    size; an object must be named by some row."""
    out = report.problems
    obj = next(objects, None)
    counted = 0
    for key, group in itertools.groupby(rows, key=lambda row: str(row[0])):
        while obj is not None and obj.key < key:
            out.append(
                Problem(
                    Kind.ORPHAN_OBJECT, {"key": obj.key}, f"{obj.size} bytes, referenced by no row"
                )
            )
            counted += 1
            obj = next(objects, None)
        found = obj if obj is not None and obj.key == key else None
        for row in group:
            if row.site_id is None:
                continue  # an upload's or the queue's key: it may or may not exist
            ids = {**_rec_ids(row), "key": key}
            if found is None:
                out.append(
                    Problem(Kind.PAYLOAD_MISSING, ids, "no object under the recording's key")
                )
            elif found.size != row.payload_size:
                detail = f"object has {found.size} bytes, manifest says {row.payload_size}"
                out.append(Problem(Kind.PAYLOAD_SIZE_MISMATCH, ids, detail))
        if found is not None:
            counted += 1
            obj = next(objects, None)
    while obj is not None:
        out.append(
            Problem(Kind.ORPHAN_OBJECT, {"key": obj.key}, f"{obj.size} bytes, referenced by no row")
        )
        counted += 1
        obj = next(objects, None)
    report.checked["objects"] = counted


# --- recordings: headers, manifests and each camera's chain ---------------------------------


def _row_mismatch(r: Any, signed: SignedStatement) -> str | None:
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
    if not hmac.compare_digest(bytes(r.payload_sha256), m.payload_sha256):
        return "column payload_sha256 differs from the manifest's"
    if not hmac.compare_digest(bytes(r.manifest_sha256), signed.statement_hash()):
        return "column manifest_sha256 is not the hash of the stored manifest"
    return None


class _Camera:
    """The check of one camera's recordings, fed a window at a time in sequence order."""

    def __init__(self, site_id: str, camera_id: str, device: Row[Any]) -> None:
        self.site_id, self.camera_id, self.device = site_id, camera_id, device
        self.ids: dict[str, str | int] = {"site": site_id, "camera": camera_id}
        self.key = Ed25519PublicKey.from_text(device.device_key)
        self.anchor: ChainAnchor | None = None
        self.head: Any = None

    def window(self, rows: Sequence[Any], out: list[Problem]) -> None:
        manifests: list[SignedStatement] = []
        for r in rows:
            if r.deleted_ms is None and r.header is not None:
                try:
                    parse_header(bytes(r.header))
                except HeaderError as exc:
                    out.append(Problem(Kind.HEADER_INVALID, _rec_ids(r), str(exc)))
            try:
                signed = parse_signed(bytes(r.manifest))
            except (StatementError, CryptoError, ValueError) as exc:
                out.append(Problem(Kind.MANIFEST_INVALID, _rec_ids(r), str(exc)))
                continue
            mismatch = _row_mismatch(r, signed)
            if mismatch is not None:
                out.append(Problem(Kind.MANIFEST_ROW_MISMATCH, _rec_ids(r), mismatch))
            manifests.append(signed)
        for p in verify_chain(
            manifests, self.key, site_id=self.site_id, camera_id=self.camera_id, anchor=self.anchor
        ):
            where = {} if p.sequence is None else {"sequence": p.sequence}
            detail = f"{p.kind.value}: {p.detail}"
            out.append(Problem(Kind.CHAIN_BROKEN, {**self.ids, **where}, detail))
        for signed in reversed(manifests):
            m = signed.unverified_statement
            if isinstance(m, Manifest):
                self.anchor = ChainAnchor(m.sequence, signed.statement_hash())
                break
        self.head = rows[-1]

    def finish(self, out: list[Problem]) -> None:
        d, head = self.device, self.head
        if d.last_sequence != head.sequence or not hmac.compare_digest(
            bytes(d.last_manifest_sha256 or b""), bytes(head.manifest_sha256)
        ):
            detail = f"device head is sequence {d.last_sequence}, newest row {head.sequence}"
            out.append(Problem(Kind.CHAIN_HEAD_MISMATCH, self.ids, detail))


def _check_recordings(engine: Engine, report: Report) -> None:
    r, d = Recording.__table__.c, Device.__table__.c  # type: ignore[attr-defined]
    query = sa.select(r).order_by(r.site_id, r.camera_id, r.sequence)
    device_query = sa.select(d).where(
        d.site_id == sa.bindparam("s"), d.device_id == sa.bindparam("c")
    )
    recordings = cameras = 0
    with engine.connect() as rows_conn, engine.connect() as conn:
        rows = rows_conn.execution_options(stream_results=True, yield_per=WINDOW).execute(query)
        for (site_id, camera_id), group in itertools.groupby(
            rows, key=lambda row: (row.site_id, row.camera_id)
        ):
            cameras += 1
            device = conn.execute(device_query, {"s": site_id, "c": camera_id}).first()
            if device is None:
                n = sum(1 for _ in group)
                recordings += n
                ids: dict[str, str | int] = {"site": site_id, "camera": camera_id}
                report.problems.append(
                    Problem(Kind.CAMERA_UNKNOWN, ids, f"{n} recordings, no device row")
                )
                continue
            camera = _Camera(site_id, camera_id, device)
            while window := list(itertools.islice(group, WINDOW)):
                recordings += len(window)
                camera.window(window, report.problems)
            camera.finish(report.problems)
        orphaned_heads = sa.select(d.site_id, d.device_id, d.last_sequence).where(
            d.last_sequence.is_not(None),
            ~sa.exists().where(r.site_id == d.site_id, r.camera_id == d.device_id),
        )
        for site_id, camera_id, last in conn.execute(orphaned_heads):
            ids = {"site": site_id, "camera": camera_id}
            detail = f"device head is sequence {last}, no recording row left"
            report.problems.append(Problem(Kind.CHAIN_HEAD_MISMATCH, ids, detail))
    report.checked["recordings"] = recordings
    report.checked["cameras"] = cameras


def _check_local(engine: Engine, store: LocalBlobStore, report: Report) -> None:
    """Leftovers of interrupted writes under the local store's root."""
    root = store.root
    for path in root.rglob(TEMP_PREFIX + "*"):
        detail = f"{path.stat().st_size} bytes, an interrupted write: never listed or removed"
        ids: dict[str, str | int] = {"path": str(path.relative_to(root))}
        report.problems.append(Problem(Kind.TEMP_FILE, ids, detail))
    uploads = root / INTERNAL_DIR / "uploads"
    started = sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else []
    u, q = Upload.__table__.c, DeletionQueue.__table__.c  # type: ignore[attr-defined]
    ids_param: sa.BindParameter[str] = sa.bindparam("ids", expanding=True)
    named = sa.union(
        sa.select(u.multipart_upload_id).where(u.multipart_upload_id.in_(ids_param)),
        sa.select(q.multipart_upload_id).where(q.multipart_upload_id.in_(ids_param)),
    )
    known: set[str] = set()
    with engine.connect() as conn:
        for i in range(0, len(started), 500):  # SQLite builds before 3.32: 999 parameters
            known.update(conn.execute(named, {"ids": started[i : i + 500]}).scalars())
    for upload_id in started:
        if upload_id not in known:
            detail = "a multipart upload no open upload or deletion-queue row names"
            ids = {"multipart_upload": upload_id}
            report.problems.append(Problem(Kind.ORPHAN_MULTIPART, ids, detail))
    report.checked["multipart_uploads"] = len(started)


def check(engine: Engine, store: BlobStore) -> Report:
    """Every inconsistency between the database at ``engine`` and ``store`` (read-only)."""
    report = Report()
    with engine.connect() as conn:
        _check_objects(iter(store.list_objects()), _referenced(engine, conn), report)
    if isinstance(store, LocalBlobStore):
        _check_local(engine, store, report)
    _check_recordings(engine, report)
    return report
