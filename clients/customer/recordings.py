"""The customer's recordings: timeline, download and decrypt, chain verification, export,
delete and retention. Decryption happens here, with this device's age identity; the storage
service hands out ciphertext only (header from the database, payload by presigned GET)."""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from clients.api.errors import ClientError, ServiceRefused
from clients.api.escrow import Ack, CustodianApi, CustodianEndpoint, to_every_custodian
from clients.api.storage import StorageApi, header_bytes
from clients.api.storage import download as fetch_payload
from clients.common import EXTENSIONS, signed_from_json
from clients.customer.state import CustomerState
from common.bodies import loads
from common.time import now_ms
from crypto.age import Identity, decrypt_header, verify_header_mac
from crypto.age.format import FileKey
from crypto.age.stream import decrypt_payload
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.errors import CryptoError
from crypto.statements import (
    MAX_DELETION_RECORDINGS,
    ChainProblem,
    Manifest,
    RecordingDeletion,
    SignedStatement,
    sign_statement,
    verify_chain,
)


class SubstitutedError(ClientError):
    """What the service served is not the recording its camera signed for."""


def check_manifest(
    detail: dict[str, Any], camera_key: Ed25519PublicKey, site_id: str, payload: bytes
) -> None:
    """The detail's manifest is signed by the enrolled camera key, names this recording, and
    its payload hash and size are those of ``payload``: a service that serves another
    recording (also decryptable by the customer) under this id is caught here."""
    try:
        m = signed_from_json(detail["manifest"]).verify(camera_key, Manifest)
    except CryptoError as exc:
        raise SubstitutedError(f"{detail['recording_id']}: manifest: {exc}") from exc
    if (m.site_id, m.camera_id, m.recording_id) != (
        site_id,
        detail["camera_id"],
        detail["recording_id"],
    ):
        raise SubstitutedError(f"{detail['recording_id']}: manifest is for another recording")
    if len(payload) != m.payload_size or hashlib.sha256(payload).digest() != m.payload_sha256:
        raise SubstitutedError(
            f"{detail['recording_id']}: payload differs from the signed manifest "
            "(tampered or substituted)"
        )


def decrypt_detail(
    detail: dict[str, Any],
    identities: list[Identity],
    out: Any,
    *,
    camera_key: Ed25519PublicKey | None = None,
    site_id: str = "",
) -> FileKey:
    """Decrypt one recording (its detail: header + presigned GET) into ``out``; with
    ``camera_key``, first check the payload against the camera-signed manifest."""
    header = header_bytes(detail)
    if header is None or detail.get("download_url") is None:
        raise ServiceRefused("storage", 410, "recording_deleted", detail["recording_id"])
    _, file_key = decrypt_header(identities, header)
    buf = io.BytesIO()
    fetch_payload(detail["download_url"], buf)
    if camera_key is not None:
        check_manifest(detail, camera_key, site_id, buf.getvalue())
    buf.seek(0)
    decrypt_payload(file_key, buf, out)
    return file_key


def _committed(
    storage: StorageApi,
    site_id: str,
    camera_id: str | None,
    from_ms: int | None,
    to_ms: int | None,
) -> list[dict[str, Any]]:
    """The committed recordings of a time range (newest first)."""
    listed = storage.recordings(site_id, camera_id=camera_id, from_ms=from_ms, to_ms=to_ms)
    return [i for i in listed if i["status"] == "committed"]


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

    def committed(self, storage: StorageApi, site_id: str) -> list[dict[str, Any]]:
        """The committed recordings of the range (newest first)."""
        return _committed(storage, site_id, self.camera_id, self.from_ms, self.to_ms)


@dataclass
class TimelineEntry:
    item: dict[str, Any]
    labels: list[dict[str, Any]] = field(default_factory=list)


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
    """Recordings per camera, oldest first, with the labels of their event records
    decrypted locally (and shown on the segment each event record describes)."""
    _, site_id = state.site()
    with state.storage() as storage:
        items = _committed(storage, site_id, camera_id, from_ms, to_ms)
        items.sort(key=lambda i: (i["camera_id"], i["start_ms"], i["sequence"]))
        entries = [TimelineEntry(i) for i in items]
        if labels:
            by_id = {(e.item["camera_id"], e.item["recording_id"]): e for e in entries}
            identities = state.identities()
            for e in entries:
                if e.item["kind"] != "event":
                    continue
                cam, rid = e.item["camera_id"], e.item["recording_id"]
                detail = storage.recording(site_id, cam, rid)
                out = io.BytesIO()
                try:
                    decrypt_detail(
                        detail, identities, out, camera_key=state.camera_key(cam), site_id=site_id
                    )
                except (CryptoError, ClientError):
                    continue  # no labels from a record that is not what the camera signed
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
    join: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Downloaded]:
    """Decrypt the selected recordings (one, or every recording of a time range) into
    ``out_dir/<camera>/<recording><ext>``; with ``join``, video segments of each camera are
    also concatenated in time order into ``out_dir/<camera>.ts``."""
    _, site_id = state.site()
    identities = state.identities()
    out_dir.mkdir(parents=True, exist_ok=True)
    done: list[Downloaded] = []
    with state.storage() as storage:
        one = selection.one()
        if one is not None:
            targets: list[dict[str, Any]] = [{"camera_id": one[0], "recording_id": one[1]}]
        else:
            targets = selection.committed(storage, site_id)
            targets.reverse()
        for n, t in enumerate(targets):
            cam, rid = str(t["camera_id"]), str(t["recording_id"])
            detail = storage.recording(site_id, cam, rid)
            path = out_dir / cam / (rid + EXTENSIONS.get(detail["kind"], ".bin"))
            path.parent.mkdir(parents=True, exist_ok=True)
            key = state.camera_key(cam)
            if key is None:
                raise ClientError(f"{cam} is not a camera this customer enrolled")
            tmp = path.with_suffix(path.suffix + ".part")
            try:
                with tmp.open("wb") as fh:
                    decrypt_detail(detail, identities, fh, camera_key=key, site_id=site_id)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            tmp.replace(path)
            done.append(Downloaded(cam, rid, path, path.stat().st_size))
            if progress is not None:
                progress(n + 1, len(targets))
    if join:
        for cam in sorted({d.camera_id for d in done}):
            with (out_dir / f"{cam}.ts").open("wb") as joined:
                for d in done:
                    if d.camera_id == cam and d.path.suffix == ".ts":
                        joined.write(d.path.read_bytes())
    return done


@dataclass
class CameraVerification:
    camera_id: str
    count: int
    deleted: int
    last_sequence: int | None
    problems: list[ChainProblem]
    payload_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.payload_problems


def verify_cameras(
    state: CustomerState, *, camera_id: str | None = None, deep: bool = False
) -> list[CameraVerification]:
    """Check each camera's manifest chain (crypto.statements.verify_chain) over everything the
    service lists, tombstones included, under the camera key the customer enrolled. The
    highest sequence verified before is remembered: a service that later drops the newest
    recordings is caught as a truncation. With ``deep``, each payload is downloaded and its
    size and SHA-256 compared with the signed manifest, and each header must either be the
    one first written (hash in the manifest) or carry a MAC valid under the file key (a
    re-wrapped header)."""
    _, site_id = state.site()
    cameras = [
        d
        for d, info in sorted(state.config.devices.items())
        if info["kind"] == "camera" and (camera_id is None or d == camera_id)
    ]
    if camera_id is not None and not cameras:
        raise ClientError(f"{camera_id} is not a camera this customer enrolled")
    results = []
    identities = state.identities()
    with state.storage() as storage:
        for cam in cameras:
            key = state.camera_key(cam)
            if key is None:
                continue
            items = list(storage.recordings(site_id, camera_id=cam, include_deleted=True))
            signed = [signed_from_json(i["manifest"]) for i in items]

            def seq(s: Any) -> int:
                m = s.unverified_statement
                return m.sequence if isinstance(m, Manifest) else -1

            order = sorted(range(len(signed)), key=lambda k: seq(signed[k]))
            problems = verify_chain(
                [signed[k] for k in order],
                key,
                site_id=site_id,
                camera_id=cam,
                expected_last_sequence=state.config.chain_heads.get(cam),
            )
            seqs = [seq(s) for s in signed]
            top = max(seqs, default=None)
            res = CameraVerification(
                cam,
                len(items),
                sum(1 for i in items if i["status"] == "deleted"),
                top,
                problems,
            )
            if deep:
                for i, s in zip(items, signed, strict=True):
                    if i["status"] != "committed":
                        continue
                    res.payload_problems.extend(
                        _check_recording(storage, site_id, i, s.unverified_statement, identities)
                    )
            if not problems and top is not None:
                state.config.chain_heads[cam] = max(top, state.config.chain_heads.get(cam, -1))
            results.append(res)
    state.save()
    return results


def _check_recording(
    storage: StorageApi, site_id: str, item: dict[str, Any], m: Any, identities: list[Identity]
) -> list[str]:
    if not isinstance(m, Manifest):
        return []
    cam, rid = item["camera_id"], item["recording_id"]
    try:
        detail = storage.recording(site_id, cam, rid)
    except ServiceRefused as exc:
        return [f"{rid}: {exc.code}"]
    problems = []
    header = header_bytes(detail) or b""
    buf = io.BytesIO()
    try:
        fetch_payload(detail["download_url"], buf)
    except (ServiceRefused, httpx.HTTPError) as exc:
        return [f"{rid}: payload unavailable ({exc})"]
    payload = buf.getvalue()
    if len(payload) != m.payload_size or hashlib.sha256(payload).digest() != m.payload_sha256:
        problems.append(f"{rid}: payload differs from the signed manifest (tampered)")
    if hashlib.sha256(header).digest() != m.header_sha256:
        try:
            _, fk = decrypt_header(identities, header)
            verify_header_mac(header, fk)
        except CryptoError as exc:
            problems.append(f"{rid}: header differs from the signed manifest ({exc})")
    return problems


def export(state: CustomerState, out_dir: Path, selection: Selection) -> list[Path]:
    """Standard age files (header || payload, decryptable with `age -d -i identity.txt`) and
    their signed manifests, as ``out_dir/<camera>/<recording>.age`` / ``.manifest.json``."""
    _, site_id = state.site()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with state.storage() as storage:
        one = selection.one()
        if one is not None:
            targets = [storage.recording(site_id, *one)]
        else:
            targets = selection.committed(storage, site_id)
        for t in targets:
            cam, rid = t["camera_id"], t["recording_id"]
            path = out_dir / cam / f"{rid}.age"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fh:
                storage.export(site_id, cam, rid, fh)
            (out_dir / cam / f"{rid}.manifest.json").write_text(
                json.dumps(t["manifest"], sort_keys=True)
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
    deletion. A range names what the service lists in it, deleted ones included, so that
    deleting a range again re-sends its deletion to a custodian that missed it."""
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
            for item in storage.recordings(
                site_id,
                camera_id=selection.camera_id,
                from_ms=from_ms,
                to_ms=to_ms,
                include_deleted=True,
            ):
                chosen.setdefault(str(item["camera_id"]), []).append(str(item["recording_id"]))
            shred = functools.partial(
                storage.delete_range, site_id, from_ms, to_ms, selection.camera_id
            )
        statements = _deletions(site_id, chosen, state.site_key())
        for st in statements:
            state.remember(st)
        state.save()

        def send(api: CustodianApi, c: CustodianEndpoint) -> str:
            answers = {api.delete_recordings(site_id, st) for st in statements}
            return ", ".join(sorted(answers)) or "nothing to delete"

        acks = to_every_custodian(state.config.custodians, send)
        data = shred()
    return Deleted(int(data["deleted"]), acks)

