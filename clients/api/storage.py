"""The storage service's API as the clients call it (docs/API.md): one method per route,
JSON bodies built from typed arguments, answers parsed, every refusal raised as
:class:`~clients.api.errors.ServiceRefused` with the service's reason code.

:class:`StorageApi` wraps a :class:`~common.http.SignedClient`; the key id it signs with
says who calls (``customer:<site>``, ``device:<site>/<device>``, ``operator:<id>``), so
each group of methods below is for one of them. The presigned object-store transfers (not
the service's API: plain HTTP to the URLs it hands out) are :func:`download` and
:func:`put_object`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import httpx

from clients.api import direct
from clients.api.errors import ClientError, ServiceRefused, check
from clients.api.sse import iter_events
from common.http import SignedClient, tls_context
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64decode_padded, b64encode_padded
from crypto.statements import SignedStatement

PAGE_LIMIT = 500


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """What a technician asks a customer's consent for."""

    cameras: list[str]
    scope: list[str]  # recordings, live, stills
    from_ms: int  # recordings from ..
    to_ms: int  # .. to
    duration_s: int  # seconds of access asked
    reason: str  # shown to the customer

    def to_json(self) -> dict[str, Any]:
        return {
            "cameras": self.cameras,
            "scope": self.scope,
            "recordings_from_ms": self.from_ms,
            "recordings_to_ms": self.to_ms,
            "duration_s": self.duration_s,
            "reason": self.reason,
        }


class MalformedAnswerError(ClientError):
    """The service answered with success but not with what its API promises (a lying or
    broken service: the clients stop with one line instead of a traceback)."""


def _object(data: Any, service: str, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedAnswerError(f"{service} answered {what} with something not a JSON object")
    return data


def header_bytes(detail: dict[str, Any]) -> bytes | None:
    """The age header of a recording detail (None once the recording is deleted)."""
    header = detail.get("header")
    return None if header is None else b64decode_padded(header)


class StorageApi:
    """The storage service, called by one signed principal."""

    def __init__(self, client: SignedClient, service: str = "storage") -> None:
        self.client = client
        self.service = service

    @classmethod
    def connect(
        cls, url: str, keyid: str, key: Ed25519SigningKey, *, timeout: float = 120.0
    ) -> StorageApi:
        return cls(SignedClient(url, keyid, key, timeout=timeout))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> StorageApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        return check(self.client.request(method, path, **kw), self.service, ok)

    def _items(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return list(self._call("GET", path, params=params)["items"])

    def _pages(self, path: str, params: dict[str, Any], cursor: str) -> Iterator[dict[str, Any]]:
        """Every item of a paged listing, following ``next_cursor`` (sent as ``cursor``)."""
        params = dict(params)
        while True:
            page = _object(self._call("GET", path, params=params), self.service, path)
            items, more = page.get("items"), page.get("next_cursor")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise MalformedAnswerError(
                    f"{self.service} answered {path} without a list of items"
                )
            if more is not None and not isinstance(more, str):
                raise MalformedAnswerError(f"{self.service} answered {path} with a bad cursor")
            yield from items
            if not more:
                return
            params[cursor] = more

    # --- the customer: site, devices, keys --------------------------------------------------

    def create_site(self, site_keys: SignedStatement, retention_days: int | None) -> int:
        """Enroll the site; 201 when created, 200 when these SiteKeys were enrolled before."""
        resp = self.client.post(
            "/v1/sites", json={"site_keys": site_keys.to_json(), "retention_days": retention_days}
        )
        check(resp, self.service)
        return resp.status_code

    def enroll_device(self, site_id: str, enrollment: SignedStatement) -> dict[str, Any]:
        return dict(
            self._call(
                "POST", f"/v1/sites/{site_id}/devices", json={"enrollment": enrollment.to_json()}
            )
        )

    def revoke_device(
        self, site_id: str, device_id: str, revocation: SignedStatement
    ) -> dict[str, Any]:
        """A customer-signed DeviceRevocation: the device's key is refused from now on."""
        path = f"/v1/sites/{site_id}/devices/{device_id}/revocations"
        return dict(self._call("POST", path, json={"revocation": revocation.to_json()}))

    def put_site_keys(self, site_id: str, site_keys: SignedStatement) -> dict[str, Any]:
        return dict(
            self._call("PUT", f"/v1/sites/{site_id}/keys", json={"site_keys": site_keys.to_json()})
        )

    def set_retention(self, site_id: str, days: int | None) -> dict[str, Any]:
        return dict(
            self._call("PUT", f"/v1/sites/{site_id}/retention", json={"retention_days": days})
        )

    # --- recordings (customer; ``arc=True``: an operator's justified route) ---------------

    def recordings(
        self,
        site_id: str,
        *,
        camera_id: str | None = None,
        from_ms: int | None = None,
        to_ms: int | None = None,
        include_deleted: bool = False,
        arc: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Every listed recording (newest first), following the cursor."""
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        for k, v in (("camera_id", camera_id), ("from_ms", from_ms), ("to_ms", to_ms)):
            if v is not None:
                params[k] = v
        if include_deleted:
            params["include_deleted"] = "true"
        base = f"/v1/sites/{site_id}/arc" if arc else f"/v1/sites/{site_id}"
        return self._pages(f"{base}/recordings", params, "cursor")

    @staticmethod
    def _recording_path(
        site_id: str, camera_id: str, recording_id: str, *, arc: bool = False
    ) -> str:
        base = f"/v1/sites/{site_id}/arc" if arc else f"/v1/sites/{site_id}"
        return f"{base}/cameras/{camera_id}/recordings/{recording_id}"

    def recording(
        self, site_id: str, camera_id: str, recording_id: str, *, arc: bool = False
    ) -> dict[str, Any]:
        """One recording's detail: metadata, manifest, age header, presigned GET."""
        path = self._recording_path(site_id, camera_id, recording_id, arc=arc)
        return _object(self._call("GET", path), self.service, path)

    def put_header(
        self, site_id: str, camera_id: str, recording_id: str, header: bytes
    ) -> dict[str, Any]:
        path = self._recording_path(site_id, camera_id, recording_id) + "/header"
        return dict(self._call("PUT", path, json={"header": b64encode_padded(header)}))

    def export(self, site_id: str, camera_id: str, recording_id: str, out: Writable) -> None:
        """Write the standard age file (header || payload) of one recording to ``out``."""
        path = self._recording_path(site_id, camera_id, recording_id) + "/export"
        with self.client.stream("GET", path) as resp:
            if resp.status_code != 200:
                resp.read()
                check(resp, self.service)
            for chunk in resp.iter_bytes(1 << 16):
                out.write(chunk)

    def delete_recording(self, site_id: str, camera_id: str, recording_id: str) -> dict[str, Any]:
        return dict(self._call("DELETE", self._recording_path(site_id, camera_id, recording_id)))

    def delete_range(
        self, site_id: str, from_ms: int, to_ms: int, camera_id: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"from_ms": from_ms, "to_ms": to_ms}
        if camera_id is not None:
            params["camera_id"] = camera_id
        return dict(self._call("DELETE", f"/v1/sites/{site_id}/recordings", params=params))

    # --- alarms (customer, panel) -----------------------------------------------------------

    def alarms(self, site_id: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/v1/sites/{site_id}/alarms").get("items", []))

    def post_alarm(self, site_id: str, event: SignedStatement) -> dict[str, Any]:
        """A panel's signed AlarmEvent; the same event again answers the same alarm."""
        return dict(
            self._call("POST", f"/v1/sites/{site_id}/alarms", json={"event": event.to_json()})
        )

    def cancel_alarm(self, site_id: str, cancel: SignedStatement) -> dict[str, Any]:
        return dict(
            self._call(
                "POST", f"/v1/sites/{site_id}/alarms/cancel", json={"cancel": cancel.to_json()}
            )
        )

    # --- consents (customer) -----------------------------------------------------------------

    def consent_requests(self, site_id: str, *, pending_only: bool = False) -> list[dict[str, Any]]:
        params = {"state": "pending"} if pending_only else None
        return self._items(f"/v1/sites/{site_id}/consent-requests", params)

    def consents(self, site_id: str) -> list[dict[str, Any]]:
        return self._items(f"/v1/sites/{site_id}/consents")

    def grant_consent(
        self, site_id: str, consent: SignedStatement, request_id: str
    ) -> dict[str, Any]:
        body = {"consent": consent.to_json(), "request_id": request_id}
        return dict(self._call("POST", f"/v1/sites/{site_id}/consents", json=body))

    def refuse_consent(self, site_id: str, request_id: str, reason: str | None) -> dict[str, Any]:
        body = {"request_id": request_id, "reason": reason}
        return dict(self._call("POST", f"/v1/sites/{site_id}/consent-refusals", json=body))

    def revoke(self, site_id: str, revocation: SignedStatement) -> dict[str, Any]:
        body = {"revocation": revocation.to_json()}
        return dict(self._call("POST", f"/v1/sites/{site_id}/revocations", json=body))

    # --- inbox (customer) --------------------------------------------------------------------

    def inbox(
        self, site_id: str, *, kind: str | None = None, after: int = 0
    ) -> Iterator[dict[str, Any]]:
        """Every inbox item after ``after``, oldest first."""
        params: dict[str, Any] = {"after": after, "limit": PAGE_LIMIT}
        if kind is not None:
            params["kind"] = kind
        return self._pages(f"/v1/sites/{site_id}/inbox", params, "after")

    # --- the operator -------------------------------------------------------------------------

    def post_release_receipts(self, site_id: str, report_id: str, report: str) -> dict[str, Any]:
        """Post a release-receipt report to the site's inbox (clients/audit/receipts.py)."""
        body = {"report_id": report_id, "report": report}
        return dict(self._call("POST", f"/v1/sites/{site_id}/release-receipts", json=body))

    def register_operator(self, registration: SignedStatement) -> int:
        """Register an ARC-signed OperatorRegistration; the HTTP status (201 or 200)."""
        resp = self.client.post("/v1/operators", json={"registration": registration.to_json()})
        check(resp, self.service)
        return resp.status_code

    def alarm_queue(self, states: Sequence[str]) -> list[dict[str, Any]]:
        return self._items("/v1/alarms", {"state": list(states)})

    def alarm(self, alarm_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/alarms/{alarm_id}"))

    def alarm_action(self, alarm_id: str, action: str) -> dict[str, Any]:
        """``ack`` or ``close`` an alarm."""
        return dict(self._call("POST", f"/v1/alarms/{alarm_id}/{action}"))

    def alarm_feed(self, alarm_id: str, timeout_s: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """The alarm's live feed: ``recording`` events, then one ``end``."""
        return iter_events(self.client, f"/v1/alarms/{alarm_id}/feed", timeout_s)

    def operator_consents(self) -> list[dict[str, Any]]:
        """The consents granted to this operator."""
        return self._items("/v1/consents")

    def request_consent(self, site_id: str, request: ConsentRequest) -> dict[str, Any]:
        path = f"/v1/sites/{site_id}/consent-requests"
        return dict(self._call("POST", path, json=request.to_json()))

    def my_consent_requests(self) -> list[dict[str, Any]]:
        """The consent requests this operator made."""
        return self._items("/v1/consent-requests")

    def telemetry(
        self, site_id: str, device_id: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if device_id is not None:
            params["device_id"] = device_id
        return self._items(f"/v1/sites/{site_id}/telemetry", params)

    # --- devices (camera) ---------------------------------------------------------------------

    def site(self, site_id: str) -> dict[str, Any]:
        """The site as a device sees it: its current signed SiteKeys."""
        return dict(self._call("GET", f"/v1/sites/{site_id}"))

    def device(self, site_id: str, device_id: str) -> dict[str, Any]:
        """A device's signed enrollment and the head of its manifest chain."""
        return dict(self._call("GET", f"/v1/sites/{site_id}/devices/{device_id}"))

    def alarm_state(self, site_id: str, device_id: str) -> dict[str, Any]:
        """The open alarms a camera must react to, and whether one is active."""
        return dict(self._call("GET", f"/v1/sites/{site_id}/devices/{device_id}/alarm-state"))

    def post_telemetry(
        self, site_id: str, device_id: str, report: dict[str, Any]
    ) -> dict[str, Any]:
        path = f"/v1/sites/{site_id}/devices/{device_id}/telemetry"
        return dict(self._call("POST", path, ok=(201,), json=report))

    def post_smart_alert(
        self, site_id: str, camera_id: str, alert_id: str, created_ms: int, payload: bytes
    ) -> dict[str, Any]:
        """A smart alert (an age file to the customer's recipients)."""
        body = {
            "alert_id": alert_id,
            "created_ms": created_ms,
            "payload": b64encode_padded(payload),
        }
        return dict(
            self._call("POST", f"/v1/sites/{site_id}/cameras/{camera_id}/smart-alerts", json=body)
        )

    def request_upload(self, site_id: str, camera_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Open (or get back) the upload of a recording: presigned PUT URL(s)."""
        path = f"/v1/sites/{site_id}/cameras/{camera_id}/uploads"
        return dict(self._call("POST", path, json=body))

    def commit(
        self,
        site_id: str,
        camera_id: str,
        recording_id: str,
        *,
        upload_id: str,
        header: bytes,
        manifest: SignedStatement,
        parts: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Commit an uploaded payload with its header and signed manifest."""
        body: dict[str, Any] = {
            "upload_id": upload_id,
            "header": b64encode_padded(header),
            "manifest": manifest.to_json(),
        }
        if parts:
            body["parts"] = parts
        path = self._recording_path(site_id, camera_id, recording_id) + "/commit"
        return dict(self._call("POST", path, json=body))


# --- presigned object-store transfers ---------------------------------------------------------


def download(
    url: str, out: Writable | BinaryIO, timeout: float = 120.0, client: httpx.Client | None = None
) -> None:
    """Stream a presigned GET into ``out`` (on ``client``'s connections when given: many
    small downloads, e.g. the live view's fragments, then reuse one connection each)."""
    opened = (
        httpx.stream("GET", url, timeout=timeout, verify=tls_context())
        if client is None
        else client.stream("GET", url, timeout=timeout)
    )
    with opened as resp:
        if resp.status_code != 200:
            raise ServiceRefused("object store", resp.status_code, "download_failed", url)
        for chunk in resp.iter_bytes(1 << 16):
            out.write(chunk)


#: Bytes read (and sent) at a time by :func:`put_part` and :class:`PayloadStream`.
TRANSFER_CHUNK = 1 << 20


def _file_range(fd: int, offset: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of the open file ``fd`` from ``offset``, TRANSFER_CHUNK at a time
    (``os.pread``: many threads can read one descriptor at once)."""
    end = offset + length
    while offset < end:
        data = os.pread(fd, min(TRANSFER_CHUNK, end - offset), offset)
        if not data:
            raise ClientError(f"the payload file ends {end - offset} bytes early")
        offset += len(data)
        yield data


def put_part(
    client: httpx.Client,
    url: str,
    fd: int,
    offset: int,
    length: int,
    *,
    checksum: bool,
    sha256: str | None = None,
) -> tuple[str, str | None]:
    """A presigned part PUT streamed from a byte range of an open file, in bounded memory.
    With ``checksum`` it carries ``x-amz-checksum-sha256`` (the store refuses the part if the
    bytes it receives hash otherwise): ``sha256`` (hex) when the caller has it, else the
    range is hashed first. The part's ETag and hex SHA-256 (None without ``checksum``)."""
    headers = {"content-length": str(length)}
    sha: str | None = None
    if checksum:
        if sha256 is None:
            digest = hashlib.sha256()
            for data in _file_range(fd, offset, length):
                digest.update(data)
            sha256 = digest.hexdigest()
        sha = sha256
        headers["x-amz-checksum-sha256"] = base64.b64encode(bytes.fromhex(sha)).decode()
    resp: httpx.Response | direct.Response
    if direct.applies(url):  # sent by the kernel from the file (clients/api/direct.py)
        resp = direct.put_range(url, fd, offset, length, headers, client.timeout.write or 60.0)
        if resp.status_code not in (200, 201, 204):
            raise ServiceRefused("object store", resp.status_code, "upload_failed", resp.text[:300])
    else:
        resp = client.put(url, content=_file_range(fd, offset, length), headers=headers)
        check(resp, "object store", ok=(200, 201, 204))
    etag = resp.headers.get("etag")
    if not etag:
        raise ClientError("the object store answered a part PUT without an ETag")
    return etag, sha


class PayloadStream(io.RawIOBase):
    """A presigned GET as a readable binary stream (``readinto``), one HTTP response read
    as it arrives: memory stays at one network chunk whatever the payload's size. Use it
    as a context manager (:func:`open_download`)."""

    def __init__(self, resp: httpx.Response) -> None:
        super().__init__()
        self._chunks = resp.iter_raw(TRANSFER_CHUNK)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


@contextlib.contextmanager
def open_download(url: str, timeout: float = 120.0) -> Iterator[PayloadStream | direct.Download]:
    """Stream a presigned GET (read straight from the socket: clients/api/direct.py, or a
    :class:`PayloadStream` through a proxy); refused answers raise ServiceRefused."""
    if direct.applies(url):
        with direct.get(url, timeout) as (answer, body):
            if answer.status_code != 200:
                raise ServiceRefused("object store", answer.status_code, "download_failed", url)
            yield body
        return
    with httpx.stream("GET", url, timeout=timeout, verify=tls_context()) as resp:
        if resp.status_code != 200:
            raise ServiceRefused("object store", resp.status_code, "download_failed", url)
        with PayloadStream(resp) as stream:
            yield stream


def put_object(
    url: str, content: bytes, timeout: float, *, sha256: bytes | None = None
) -> httpx.Response:
    """A presigned PUT (a whole payload or one part); the object store's answer. With
    ``sha256`` (the content's, e.g. the manifest's ``payload_sha256``) it carries
    ``x-amz-checksum-sha256``: a URL opened with the payload's SHA-256 signs that header and
    the store refuses bytes that hash otherwise (docs/API.md §3.2)."""
    headers = {"x-amz-checksum-sha256": base64.b64encode(sha256).decode()} if sha256 else {}
    resp = httpx.put(url, content=content, timeout=timeout, headers=headers, verify=tls_context())
    check(resp, "object store", ok=(200, 201, 204))
    return resp
