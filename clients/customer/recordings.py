"""The customer's recordings: timeline, download and decrypt, chain verification, export,
delete and retention. Decryption happens here, with this device's age identity; the storage
service hands out ciphertext only (header from the database, payload by presigned GET).

Nothing the service says is taken on its word: listings are checked against the cameras'
signed manifest chains (clients/customer/chain.py) and every recording against its manifest
before anything of it is written (clients/customer/checks.py)."""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from clients.api.errors import ClientError, ServiceRefused
from clients.api.escrow import Ack
from clients.api.storage import StorageApi, header_bytes, open_download
from clients.api.storage import download as fetch_payload
from clients.common import EXTENSIONS
from clients.customer.chain import cameras, read_chain, remember, verified_chains
from clients.customer.checks import SubstitutedError, check_recording, check_recording_stream
from clients.customer.outbox import Outbox
from clients.customer.state import CustomerState
from clients.video import Container, join_segments
from common.bodies import loads
from common.time import now_ms
from crypto.age import Identity
from crypto.age.format import read_header
from crypto.ed25519 import Ed25519SigningKey
from crypto.errors import CryptoError
from crypto.statements import (
    MAX_DELETION_RECORDINGS,
    Manifest,
    RecordingDeletion,
    SignedStatement,
    sign_statement,
)


@dataclass(frozen=True, slots=True)
class Selection:
    """The recordings a command acts on: one (``camera_id`` + ``recording_id``) or those
    of a time range, optionally of one camera."""

    camera_id: str | None = None
    recording_id: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None

    def one(self) -> tuple[str, str] | None:
        """(camera, recording) when one recording is selected, None for a range."""
        if self.recording_id is None:
            return None
        if self.camera_id is None:
            raise ClientError("a recording id needs its camera id")
        return self.camera_id, self.recording_id

    def targets(self, state: CustomerState, storage: StorageApi) -> list[dict[str, Any]]:
        """The selected recordings (``camera_id``, ``recording_id``, ``manifest``), oldest
        first per camera: one as asked, or the committed ones of the range from listings
        that match the cameras' signed chains (:class:`~clients.customer.chain.ChainBrokenError`
        otherwise)."""
        one = self.one()
        if one is not None:
            return [{"camera_id": one[0], "recording_id": one[1], "manifest": None}]
        chains = verified_chains(state, storage, self.camera_id)
        items = [i for c in chains for i in c.committed(self.from_ms, self.to_ms)]
        items.sort(key=lambda i: (i["camera_id"], i["start_ms"], i["sequence"]))
        return items


def fetch_checked(
    state: CustomerState,
    storage: StorageApi,
    camera_id: str,
    recording_id: str,
    identities: list[Identity],
    out: BinaryIO | None = None,
) -> Manifest:
    """Fetch one recording (detail, then its payload by presigned GET), check it against
    its camera-signed manifest (clients/customer/checks.py) and decrypt it into ``out``.
    With ``out`` the payload is decrypted as it downloads, in constant memory, and ``out``
    holds unverified plaintext if this raises: the caller discards it then."""
    _, site_id = state.site()
    key = state.camera_keys(camera_id)  # with the keys revoked: device_revoked after them
    if key is None:
        raise ClientError(f"{camera_id} is not a camera this customer enrolled")
    detail = storage.recording(site_id, camera_id, recording_id)
    try:
        header = header_bytes(detail)
    except (ValueError, TypeError) as exc:
        raise SubstitutedError(f"{recording_id}: the header served is not base64") from exc
    url = detail.get("download_url")
    if header is None or not isinstance(url, str):
        raise ServiceRefused("storage", 410, "recording_deleted", recording_id)
    if out is not None:
        with open_download(url) as payload:
            return check_recording_stream(
                detail.get("manifest"),
                header,
                payload,  # type: ignore[arg-type]
                identities=identities,
                camera_key=key,
                site_id=site_id,
                camera_id=camera_id,
                recording_id=recording_id,
                out=out,
            )
    buf = io.BytesIO()
    fetch_payload(url, buf)
    return check_recording(
        detail.get("manifest"),
        header,
        buf.getvalue(),
        identities=identities,
        camera_key=key,
        site_id=site_id,
        camera_id=camera_id,
        recording_id=recording_id,
        out=out,
    )


@dataclass
class TimelineEntry:
    item: dict[str, Any]
    labels: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # an event record that is not what its camera signed


def _event_labels(plain: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """Labels of a decrypted event record and the recording it describes (if it says)."""
    try:
        obj = loads(plain)
    except ValueError:
        return [], None
    if not isinstance(obj, dict):
        return [], None
    labels = [x for x in obj.get("labels", []) if isinstance(x, dict)]
    ref = obj.get("segment_recording_id")
    return labels, str(ref) if isinstance(ref, str) else None


def timeline(
    state: CustomerState,
    *,
    camera_id: str | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
    labels: bool = True,
) -> list[TimelineEntry]:
    """Recordings per camera, oldest first, from listings that match the cameras' signed
    chains, with the labels of their event records decrypted locally (and shown on the
    segment each event record describes). An event record that fails its checks gets no
    labels and its entry says why."""
    with state.storage() as storage:
        items = Selection(camera_id, None, from_ms, to_ms).targets(state, storage)
        entries = [TimelineEntry(i) for i in items]
        if labels:
            by_id = {(e.item["camera_id"], e.item["recording_id"]): e for e in entries}
            identities = state.identities()
            for e in entries:
                if e.item["kind"] != "event":
                    continue
                cam, rid = e.item["camera_id"], e.item["recording_id"]
                out = io.BytesIO()
                try:
                    fetch_checked(state, storage, cam, rid, identities, out)
                except (ClientError, httpx.HTTPError) as exc:
                    e.problem = str(exc)
                    continue
                found, ref = _event_labels(out.getvalue())
                e.labels = found
                if ref is not None and (cam, ref) in by_id:
                    by_id[(cam, ref)].labels = found
    return entries


@dataclass(frozen=True, slots=True)
class Downloaded:
    camera_id: str
    recording_id: str
    path: Path
    size: int


def download(
    state: CustomerState,
    out_dir: Path,
    selection: Selection,
    *,
    join: Container | None = None,
    audio: bool = True,
    progress: Callable[[int, int], None] | None = None,
    joined: list[Path] | None = None,
) -> list[Downloaded]:
    """Decrypt the selected recordings (one, or every recording of a time range) into
    ``out_dir/<camera>/<recording><ext>``; with ``join``, the video segments of each camera
    are also joined, in their signed time order, into one file that plays and seeks:
    ``out_dir/<camera>.ts`` or ``.mp4`` (a remux: :func:`clients.video.join_segments`;
    ``audio=False`` leaves the sound out). A recording that fails its checks stops the
    command; nothing of it is left behind. The joined files are added to ``joined``."""
    identities = state.identities()
    out_dir.mkdir(parents=True, exist_ok=True)
    done: list[Downloaded] = []
    with state.storage() as storage:
        targets = selection.targets(state, storage)
        for n, t in enumerate(targets):
            cam, rid = str(t["camera_id"]), str(t["recording_id"])
            (out_dir / cam).mkdir(parents=True, exist_ok=True)
            tmp = out_dir / cam / f"{rid}.part"
            try:
                with tmp.open("wb") as fh:
                    m = fetch_checked(state, storage, cam, rid, identities, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            path = out_dir / cam / (rid + EXTENSIONS.get(m.kind.value, ".bin"))
            tmp.replace(path)  # only now, verified, under its name
            done.append(Downloaded(cam, rid, path, path.stat().st_size))
            if progress is not None:
                progress(n + 1, len(targets))
    if join is not None:
        for cam in sorted({d.camera_id for d in done}):
            video = [d.path for d in done if d.camera_id == cam and d.path.suffix == ".ts"]
            if video:
                path = join_segments(video, out_dir / f"{cam}.{join.value}", join, audio=audio)
                if joined is not None:
                    joined.append(path)
    return done


@dataclass
class CameraVerification:
    camera_id: str
    count: int
    deleted: int
    last_sequence: int | None
    problems: list[str]
    payload_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.payload_problems


def verify_cameras(
    state: CustomerState, *, camera_id: str | None = None, deep: bool = False
) -> list[CameraVerification]:
    """Check each camera's listing against its signed manifest chain (clients/customer/
    chain.py: gaps, reordering, substitution, replay, relabelled fields, the newest
    recordings hidden from this device). With ``deep``, also fetch every committed recording
    and check it against its manifest (clients/customer/checks.py)."""
    results = []
    identities = state.identities()
    with state.storage() as storage:
        for cam in cameras(state, camera_id):
            chain = read_chain(state, storage, cam)
            deleted = sum(1 for i in chain.items if i.get("status") == "deleted")
            res = CameraVerification(cam, len(chain.items), deleted, chain.top, chain.problems)
            if deep:
                for item in chain.committed(None, None):
                    try:
                        fetch_checked(state, storage, cam, str(item["recording_id"]), identities)
                    except (ClientError, httpx.HTTPError) as exc:
                        res.payload_problems.append(str(exc))
            remember(state, chain)
            results.append(res)
    state.save()
    return results


def _split(data: bytes, rid: str) -> tuple[bytes, bytes]:
    """An age file's header and payload."""
    stream = io.BytesIO(data)
    try:
        read_header(stream)
    except CryptoError as exc:
        raise SubstitutedError(f"{rid}: the exported file has no valid age header: {exc}") from exc
    return data[: stream.tell()], data[stream.tell() :]


def export(state: CustomerState, out_dir: Path, selection: Selection) -> list[Path]:
    """Standard age files (header || payload, decryptable with `age -d -i identity.txt`) and
    their signed manifests, as ``out_dir/<camera>/<recording>.age`` / ``.manifest.json``.
    Each file the service exports is checked like a download before it is kept."""
    _, site_id = state.site()
    out_dir.mkdir(parents=True, exist_ok=True)
    identities = state.identities()
    paths = []
    with state.storage() as storage:
        for t in selection.targets(state, storage):
            cam, rid = str(t["camera_id"]), str(t["recording_id"])
            key = state.camera_keys(cam)
            if key is None:
                raise ClientError(f"{cam} is not a camera this customer enrolled")
            manifest = t["manifest"] or storage.recording(site_id, cam, rid).get("manifest")
            path = out_dir / cam / f"{rid}.age"
            path.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            storage.export(site_id, cam, rid, buf)
            header, payload = _split(buf.getvalue(), rid)
            check_recording(
                manifest,
                header,
                payload,
                identities=identities,
                camera_key=key,
                site_id=site_id,
                camera_id=cam,
                recording_id=rid,
            )
            path.write_bytes(buf.getvalue())
            (out_dir / cam / f"{rid}.manifest.json").write_text(
                json.dumps(manifest, sort_keys=True)
            )
            paths.append(path)
    return paths


@dataclass
class Deleted:
    """Recordings crypto-shredded at the storage service (``count``), and each custodian's
    acknowledgement of the signed deletion (a custodian that did not acknowledge would
    still release their shares to an operator who kept a header: delete again to retry)."""

    count: int
    custodians: list[Ack]


def _deletions(
    site_id: str, recordings: dict[str, list[str]], key: Ed25519SigningKey
) -> list[SignedStatement]:
    """The RecordingDeletion statements naming ``recordings`` (camera -> ids), at most
    MAX_DELETION_RECORDINGS per statement."""
    out = []
    for camera_id, ids in sorted(recordings.items()):
        unique = sorted(set(ids))
        for i in range(0, len(unique), MAX_DELETION_RECORDINGS):
            chunk = tuple(unique[i : i + MAX_DELETION_RECORDINGS])
            body = RecordingDeletion(site_id, camera_id, chunk, now_ms())
            out.append(sign_statement(body, key))
    return out


def delete(state: CustomerState, selection: Selection) -> Deleted:
    """Crypto-shred one recording or a time range (optionally of one camera): first a
    signed RecordingDeletion to every custodian, sent directly (they refuse the recordings'
    stanzas from then on, whatever the storage service does), then the storage service's
    deletion. A range names every recording its cameras signed in it, deleted ones
    included (so that deleting a range again re-sends its deletion to a custodian that
    missed it), from listings checked against the cameras' chains: one that contradicts
    them is refused (:class:`~clients.customer.chain.ChainBrokenError`)."""
    _, site_id = state.site()
    with state.storage() as storage:
        one = selection.one()
        chosen: dict[str, list[str]] = {}
        shred: Callable[[], dict[str, Any]]
        if one is not None:
            chosen[one[0]] = [one[1]]
            shred = functools.partial(storage.delete_recording, site_id, *one)
        else:
            from_ms, to_ms = selection.from_ms, selection.to_ms
            if from_ms is None or to_ms is None:
                raise ClientError("deleting a range needs --from and --to")
            # what the cameras signed in the range, not what the service lists: a recording
            # left out of the listing would stay releasable at the custodians
            for chain in verified_chains(state, storage, selection.camera_id):
                for item in chain.items:
                    if from_ms <= item["start_ms"] < to_ms:
                        chosen.setdefault(chain.camera_id, []).append(str(item["recording_id"]))
            shred = functools.partial(
                storage.delete_range, site_id, from_ms, to_ms, selection.camera_id
            )
        statements = _deletions(site_id, chosen, state.site_key())
        for st in statements:
            state.remember(st)
        state.save()
        acks = Outbox(state.root).send(state.config.custodians, "deletion", site_id, statements)
        data = shred()
    return Deleted(int(data["deleted"]), acks)
