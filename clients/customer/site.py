"""Site setup and key changes: enroll the site and its devices with the storage service and
with every custodian, add a customer device, cancel an alarm, set the retention.

Every statement is signed with the site key and sent to the storage service AND directly to
each custodian (the custodians pin the site key on first enrollment and log every later
statement; the customer's audit expects exactly the statements listed in the local state).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clients.api.errors import ClientError, ServiceRefused
from clients.api.escrow import Ack, CustodianApi, CustodianEndpoint, fetch_custodian
from clients.api.storage import StorageApi, header_bytes
from clients.common import signed_from_json
from clients.customer.outbox import Outbox
from clients.customer.state import CustomerState
from common.time import now_ms
from crypto.age import decrypt_header, seal_header
from crypto.age.format import parse_header
from crypto.age.x25519 import X25519Recipient
from crypto.ed25519 import Ed25519PublicKey
from crypto.siteid import is_bound
from crypto.statements import (
    AlarmCancel,
    CameraProfile,
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    RetentionPolicy,
    SignedStatement,
    SiteKeys,
    sign_statement,
    verify,
)


def post_custodians(
    custodians: Sequence[CustodianEndpoint],
    send: Callable[[CustodianApi], str],
) -> dict[str, str]:
    """Send one signed statement to every custodian (``send`` calls the route on each);
    ``{custodian_id: status}``."""
    out: dict[str, str] = {}
    for c in custodians:
        with CustodianApi.of(c) as api:
            out[c.custodian_id] = send(api)
    return out


@dataclass(frozen=True, slots=True)
class SiteCreated:
    site_id: str
    keys_version: int
    custodians: list[CustodianEndpoint]
    threshold: int
    storage_status: int
    pq_escrow: bool = False  # SiteKeys lists the custodians' hybrid escrow keys


def create_site(
    state: CustomerState,
    storage_url: str,
    site_id: str,
    custodian_urls: Sequence[str],
    threshold: int,
    retention_days: int | None = None,
    *,
    pq_escrow: bool | None = None,
) -> SiteCreated:
    """Sign SiteKeys v1 (this device's recipient, the custodians' keys as they publish them)
    and enroll the site with the storage service and every custodian. ``site_id`` must be
    bound to this state's site key (:func:`crypto.siteid.site_id_for`): the services refuse
    any other id, so that nobody can claim another customer's site id first.

    ``pq_escrow``: the custodians' hybrid (ML-KEM-768 + X25519) escrow keys go into SiteKeys
    too, so that cameras seal new recordings' shares with them. None (the default): when every
    custodian publishes one, else X25519 only; True: every custodian must publish one (else
    ClientError, nothing written); False: X25519 only."""
    cfg = state.config
    if cfg.site_id is not None and (cfg.site_id != site_id or cfg.site_keys is None):
        raise ClientError(f"this state already belongs to site {cfg.site_id}")
    if not is_bound(site_id, state.site_key().public_key):
        raise ClientError(
            f"site id {site_id!r} is not bound to this state's site key: "
            "give --label instead, the id is then <label>-<tag of the site key>"
        )
    if cfg.site_keys is not None:
        # a retry (e.g. a custodian was down): post the statement already signed, unchanged
        signed = signed_from_json(cfg.site_keys)
        custodians, threshold = cfg.custodians, cfg.threshold or threshold
    else:
        if not 1 <= threshold <= len(custodian_urls):
            raise ClientError(f"threshold {threshold} needs 1..{len(custodian_urls)} custodians")
        custodians = [fetch_custodian(u) for u in custodian_urls]
        lacking = [c.custodian_id for c in custodians if c.hybrid_escrow_key is None]
        if pq_escrow and lacking:
            raise ClientError(f"--pq-escrow: custodian {lacking[0]} publishes no hybrid escrow key")
        hybrid = not lacking if pq_escrow is None else pq_escrow
        keys = SiteKeys(
            site_id=site_id,
            version=1,
            customer_key=state.site_key().public_key,
            recipients=(state.identity().recipient(),),
            custodians=tuple(
                Custodian(
                    c.custodian_id,
                    c.escrow_key,
                    c.log_key,
                    c.url,
                    c.hybrid_escrow_key if hybrid else None,
                )
                for c in custodians
            ),
            threshold=threshold,
            issued_at_ms=now_ms(),
        )
        signed = sign_statement(keys, state.site_key())
        # kept before it is sent: a retry re-sends the same statement (idempotent everywhere)
        cfg.storage_url, cfg.site_id = storage_url.rstrip("/"), site_id
        cfg.site_keys, cfg.custodians, cfg.threshold = signed.to_json(), custodians, threshold
        state.remember(signed)
        state.save()
    with StorageApi.connect(storage_url, f"customer:{site_id}", state.site_key()) as storage:
        status = storage.create_site(signed, retention_days)
    post_custodians(custodians, lambda api: api.enroll_site(signed))
    if retention_days is not None:
        policy = retention_policy(state, site_id, retention_days)
        post_custodians(custodians, lambda api: api.set_retention(site_id, policy))
    pq = any(c.get("hybrid_escrow_key") for c in signed.to_json()["body"]["custodians"])
    return SiteCreated(site_id, 1, custodians, threshold, status, pq)


def retention_policy(state: CustomerState, site_id: str, days: int | None) -> SignedStatement:
    """A RetentionPolicy signed by the site key, remembered (the audit expects it)."""
    signed = sign_statement(RetentionPolicy(site_id, days, now_ms()), state.site_key())
    state.remember(signed)
    state.save()
    return signed


@dataclass(frozen=True, slots=True)
class RetentionSet:
    """The retention the storage service applies, and each custodian's acknowledgement of the
    signed policy (one that did not acknowledge keeps releasing shares of recordings past it
    to an operator who kept their headers: set it again to retry)."""

    retention_days: int | None
    custodians: list[Ack]


def set_retention(state: CustomerState, days: int | None) -> RetentionSet:
    """The site's retention: a signed RetentionPolicy to every custodian, sent directly (they
    refuse the stanzas of recordings past it, whatever the storage service does), then the
    storage service's setting (its sweeper deletes them)."""
    _, site_id = state.site()
    policy = retention_policy(state, site_id, days)
    acks = Outbox(state.root).send(state.config.custodians, "retention", site_id, [policy])
    with state.storage() as storage:
        out = storage.set_retention(site_id, days)
    return RetentionSet(out.get("retention_days"), acks)


def enroll_device(
    state: CustomerState,
    device_id: str,
    kind: DeviceKind,
    model: str,
    device_key: Ed25519PublicKey,
    profile: CameraProfile | None,
) -> DeviceEnrollment:
    """Sign a DeviceEnrollment and send it to the storage service and every custodian."""
    _, site_id = state.site()
    enrollment = DeviceEnrollment(site_id, device_id, kind, model, device_key, profile, now_ms())
    signed = sign_statement(enrollment, state.site_key())
    with state.storage() as storage:
        storage.enroll_device(site_id, signed)
    post_custodians(state.config.custodians, lambda api: api.enroll_device(site_id, signed))
    state.config.devices[device_id] = {
        "kind": kind.value,
        "model": model,
        "device_key": device_key.to_text(),
        "camera_profile": None if profile is None else profile.to_json(),
    }
    state.remember(signed)
    state.save()
    return enrollment


def current_site_keys(state: CustomerState) -> SiteKeys:
    """The SiteKeys this customer last signed (checked under its own site key)."""
    if state.config.site_keys is None:
        raise ClientError("no SiteKeys yet: run `camvault customer site create`")
    return verify(signed_from_json(state.config.site_keys), state.site_key().public_key, SiteKeys)


@dataclass(frozen=True, slots=True)
class DeviceAdded:
    keys_version: int
    rewrapped: int
    skipped: list[tuple[str, str, str]]  # camera, recording, why


def add_device(
    state: CustomerState,
    recipient: X25519Recipient,
    progress: Callable[[int, int], None] | None = None,
) -> DeviceAdded:
    """Give a new customer device (its age recipient) access to the site.

    1. SiteKeys v+1 with the new recipient, signed by the pinned key, to the storage service
       and every custodian (cameras encrypt to it from then on);
    2. every stored recording's header that has fewer X25519 stanzas than the site has
       recipients is re-wrapped: its stanzas are kept as they are (the
       escrow stanzas stay valid) and one X25519 stanza for the new recipient is added; the
       header MAC is recomputed under the same file key (so the manifest's payload hash and
       the MAC still bind the recording), and the header is PUT back.

    Running it again with the same recipient resumes an interrupted run: the same signed
    SiteKeys are sent again and only the headers not yet re-wrapped are.
    """
    _, site_id = state.site()
    current = current_site_keys(state)
    if recipient in current.recipients:
        # resuming: the SiteKeys listing it were signed already; send them again, unchanged
        signed = signed_from_json(state.config.site_keys)
        new = current
    else:
        new = SiteKeys(
            site_id=site_id,
            version=current.version + 1,
            customer_key=current.customer_key,
            recipients=(*current.recipients, recipient),
            custodians=current.custodians,
            threshold=current.threshold,
            issued_at_ms=now_ms(),
        )
        signed = sign_statement(new, state.site_key())
        state.config.site_keys = signed.to_json()  # kept before it is sent (retries resend it)
        state.remember(signed)
        state.save()
    with state.storage() as storage:
        storage.put_site_keys(site_id, signed)
        post_custodians(state.config.custodians, lambda api: api.enroll_site(signed))
        items = [i for i in storage.recordings(site_id) if i["status"] == "committed"]
        identities = state.identities()
        done, skipped = 0, []
        for n, item in enumerate(items):
            cam, rid = item["camera_id"], item["recording_id"]
            try:
                header = header_bytes(storage.recording(site_id, cam, rid))
                if header is None:
                    skipped.append((cam, rid, "deleted"))
                    continue
                stanzas = list(parse_header(header).stanzas)
                if sum(st.type == "X25519" for st in stanzas) >= len(new.recipients):
                    continue  # already wrapped for every device (new, or done before)
                _, file_key = decrypt_header(identities, header)
                new_header = seal_header([*stanzas, *recipient.wrap(file_key)], file_key)
                storage.put_header(site_id, cam, rid, new_header)
                done += 1
            except (ServiceRefused, ValueError) as exc:
                skipped.append((cam, rid, str(exc)))
            if progress is not None:
                progress(n + 1, len(items))
    return DeviceAdded(new.version, done, skipped)


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The alarm's state at the storage service, and each custodian's acknowledgement of the
    signed cancel (one that did not acknowledge keeps releasing under the alarm until it gets
    it: the cancel is kept in the outbox and sent again)."""

    state: str
    custodians: list[Ack]


def cancel_alarm(state: CustomerState, alarm_id: str) -> Cancelled:
    """Cancel an alarm: a signed AlarmCancel to every custodian, sent directly (they refuse
    any release under that alarm from then on), and to the storage service."""
    _, site_id = state.site()
    with state.storage() as storage:
        match = [a for a in storage.alarms(site_id) if a.get("alarm_id") == alarm_id]
        if not match:
            raise ClientError(f"no alarm {alarm_id} at site {site_id}")
        event = match[0]["event"]["body"]
        cancel = sign_statement(
            AlarmCancel(site_id, event["panel_id"], event["event_id"], now_ms()),
            state.site_key(),
        )
        state.remember(cancel)
        state.save()
        acks = Outbox(state.root).send(state.config.custodians, "cancel", site_id, [cancel])
        out = storage.cancel_alarm(site_id, cancel)
    return Cancelled(str(out.get("state")), acks)


def list_alarms(state: CustomerState) -> list[dict[str, Any]]:
    _, site_id = state.site()
    with state.storage() as storage:
        return storage.alarms(site_id)
