"""Regression tests of the security review's client-side findings: the operator client
binds a custodian's log entry to its own request and counts the threshold per recording;
the customer's audit matches releases to notices one to one, flags mislabelled entries,
survives malformed notices and can expose a split view. Custodians are in-process fakes
over a real signed log (escrow_service.services.tlog_store) that may lie in their entries.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.audit.log import CustodianLog, audit_custodian, cross_check_checkpoint
from clients.operator import release as operator_release
from clients.operator.release import (
    CustodianEndpoint,
    CustodianRelease,
    NothingReleased,
    ReceiptMismatch,
    Recording,
    ThresholdNotMet,
    gather_releases,
    recoverable,
    released_root,
    request_release,
)
from crypto import age, escrow
from crypto.age.x25519 import generate_identity
from crypto.canonical import canonical_json
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64decode
from crypto.escrow import SessionKey
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import AlarmEvent, AlarmType, SignedStatement, parse_signed, sign_statement
from crypto.tlog import EMPTY_ROOT
from crypto.tlog.note import Checkpoint, open_checkpoint
from escrow_service.core.keys import CustodianKeys, load_or_create
from escrow_service.db import make_engine, upgrade
from escrow_service.services.tlog_store import Appended, LogStore

T = 1_700_000_000_000


# --- in-process custodian log and fake custodians for the client-side findings ---------------


def new_store(tmp_path: Path, cid: str) -> tuple[CustodianKeys, LogStore]:
    url = f"sqlite:///{tmp_path / cid / 'escrow.db'}"
    upgrade(url)
    keys = load_or_create(tmp_path / cid, cid)
    store = LogStore(make_engine(url), keys)
    store.refresh()
    return keys, store


def append(store: LogStore, entry: dict[str, Any]) -> Appended:
    with store.writer() as conn:
        appended = store.append(
            conn, entry, kind=str(entry.get("type")), site_id=entry.get("site_id"), now_ms=T
        )
    store.refresh()
    return appended


def receipt(store: LogStore, appended: Appended) -> dict[str, Any]:
    size = appended.index + 1
    return {
        "index": appended.index,
        "entry": appended.entry.decode(),
        "tree_size": size,
        "checkpoint": store.checkpoint(size).decode(),
        "inclusion_proof": [
            base64.b64encode(h).decode() for h in store.inclusion_proof(appended.index, size)
        ],
    }


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class FakeCustodian:
    """Answers release requests like a custodian, from its own signed log, but may lie in the
    log entry (``patch``), release only some recordings, or answer slowly."""

    keys: CustodianKeys
    store: LogStore
    release: set[str] | None = None  # recording ids it releases (None: all)
    patch: dict[str, Any] = field(default_factory=dict)
    delay_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://fake-{self.keys.custodian_id}"

    def endpoint(self) -> CustodianEndpoint:
        k = self.keys
        return CustodianEndpoint(k.custodian_id, self.url, k.escrow_public, k.log_public_key)

    def answer(self, body: dict[str, Any], operator_id: str) -> dict[str, Any]:
        time.sleep(self.delay_s)
        metas = [RecordingMetadata.from_json(it["metadata"]) for it in body["items"]]
        released = [m for m in metas if self.release is None or m.recording_id in self.release]
        just = parse_signed(canonical_json(body["justification"]))
        release_id = secrets.token_urlsafe(12)
        entry = {
            "v": 1,
            "type": "release" if released else "refusal",
            "custodian_id": self.keys.custodian_id,
            "time_ms": T,
            "reason": None,
            "release_id": release_id,
            "site_id": metas[0].site_id,
            "operator_id": operator_id,
            "operator_verified": True,
            "purpose": body["purpose"],
            "justification": {"sha256": just.statement_hash().hex()},
            "session_key": b64url(b64decode(body["session_key"])),
            "requested": len(metas),
            "released": {
                "count": len(released),
                "root": released_root(released),
                "cameras": sorted({m.camera_id for m in released}),
                "from_ms": None,
                "to_ms": None,
            },
            "refused": {"count": len(metas) - len(released), "reasons": {}},
        }
        entry.update(self.patch)
        appended = append(self.store, entry)
        return {
            "custodian_id": self.keys.custodian_id,
            "release_id": release_id,
            "log": receipt(self.store, appended),
            "items": [
                {
                    "recording_id": m.recording_id,
                    "status": "released" if m in released else "refused",
                    "sealed_share": (
                        base64.b64encode(os.urandom(80)).decode() if m in released else None
                    ),
                    "reason": None if m in released else "outside_window_after",
                    "message": None if m in released else "no",
                }
                for m in metas
            ],
        }


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[FakeCustodian]:
    world = [FakeCustodian(*new_store(tmp_path, f"c{i}")) for i in (1, 2, 3)]
    by_url = {f.url: f for f in world}

    class FakeClient:
        def __init__(self, url: str, keyid: str, key: object, timeout: float = 30.0) -> None:
            self.custodian = by_url[url]
            self.operator_id = keyid.split(":", 1)[1]

        def __enter__(self) -> FakeClient:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def post(self, path: str, json: dict[str, Any]) -> httpx.Response:
            return httpx.Response(200, json=self.custodian.answer(json, self.operator_id))

    monkeypatch.setattr(operator_release, "SignedClient", FakeClient)
    return world


def recordings(fakes: list[FakeCustodian], *ids: str) -> list[Recording]:
    out = []
    for rid in ids:
        meta = RecordingMetadata("site-a", "cam-front", rid, RecordingKind.SEGMENT, T, T + 1)
        recipients = escrow.build_recipient_set(
            [generate_identity().recipient()], [f.keys.escrow_public for f in fakes], 2, meta
        )
        header, _ = age.encrypt_header(recipients)
        out.append(Recording(header, meta))
    return out


def alarm() -> SignedStatement:
    ev = AlarmEvent("site-a", "panel-1", "ev-1", AlarmType.INTRUSION, T, 1)
    return sign_statement(ev, Ed25519SigningKey.generate())


def ask(fake: FakeCustodian, recs: list[Recording], session: SessionKey) -> CustodianRelease:
    return request_release(
        fake.endpoint(),
        "op-1",
        Ed25519SigningKey.generate(),
        purpose="alarm-verification",
        justification=alarm(),
        session=session,
        recordings=recs,
    )


# --- finding 2 (operator side): an entry that does not describe the request ------------------


def test_operator_accepts_an_entry_that_describes_the_request(fakes: list[FakeCustodian]) -> None:
    recs = recordings(fakes, "r1", "r2")
    fakes[0].release = {"r2"}
    rel = ask(fakes[0], recs, SessionKey.generate())
    assert set(rel.sealed) == {"r2"} and set(rel.refused) == {"r1"}


@pytest.mark.parametrize(
    ("patch", "field_name"),
    [
        ({"site_id": None}, "site_id"),
        ({"site_id": "site-other"}, "site_id"),
        ({"operator_id": "op-someone-else"}, "operator_id"),
        ({"operator_verified": False}, "operator_verified"),
        ({"session_key": b64url(bytes(range(32)))}, "session_key"),
        ({"type": "refusal"}, "type"),
        ({"release_id": "another-release"}, "release_id"),
        ({"custodian_id": "c9"}, "custodian_id"),
        ({"purpose": "maintenance"}, "purpose"),
        ({"justification": {"sha256": "00" * 32}}, "justification"),
        ({"released": {"count": 500, "root": EMPTY_ROOT.hex()}}, "released.count"),
        ({"released": {"count": 2, "root": EMPTY_ROOT.hex()}}, "released.root"),
    ],
)
def test_operator_refuses_a_mislabelled_log_entry(
    fakes: list[FakeCustodian], patch: dict[str, Any], field_name: str
) -> None:
    recs = recordings(fakes, "r1", "r2")
    fakes[0].patch = patch
    with pytest.raises(ReceiptMismatch) as info:
        ask(fakes[0], recs, SessionKey.generate())
    assert f"{field_name}:" in str(info.value)


# --- finding 7: threshold counted per recording ----------------------------------------------


def test_gather_counts_each_recording_and_ignores_answers_that_release_nothing(
    fakes: list[FakeCustodian],
) -> None:
    recs = recordings(fakes, "r1", "r2")
    # c1 answers first and releases nothing; c2 and c3 release r1; only c3 releases r2.
    fakes[0].release = set()
    fakes[1].release, fakes[1].delay_s = {"r1"}, 0.2
    fakes[2].release, fakes[2].delay_s = {"r1", "r2"}, 0.4
    rels = gather_releases(
        [f.endpoint() for f in fakes],
        2,
        "op-1",
        Ed25519SigningKey.generate(),
        purpose="alarm-verification",
        justification=alarm(),
        session=SessionKey.generate(),
        recordings=recs,
    )
    # The answer with nothing released did not count toward t: c3 was waited for.
    assert sorted(r.custodian_id for r in rels) == ["c2", "c3"]
    assert recoverable(rels, 2) == {"r1"}


def test_gather_waits_for_a_recording_short_of_t(fakes: list[FakeCustodian]) -> None:
    recs = recordings(fakes, "r1", "r2")
    # Two answers arrive quickly but each holds one share of r2: r2 needs the third.
    fakes[0].release = {"r1"}
    fakes[1].release = {"r1", "r2"}
    fakes[2].release, fakes[2].delay_s = {"r2"}, 0.3
    rels = gather_releases(
        [f.endpoint() for f in fakes],
        2,
        "op-1",
        Ed25519SigningKey.generate(),
        purpose="alarm-verification",
        justification=alarm(),
        session=SessionKey.generate(),
        recordings=recs,
    )
    assert len(rels) == 3
    assert recoverable(rels, 2) == {"r1", "r2"}


def test_gather_with_no_recording_at_t_is_threshold_not_met(fakes: list[FakeCustodian]) -> None:
    recs = recordings(fakes, "r1", "r2")
    fakes[0].release, fakes[1].release, fakes[2].release = {"r1"}, set(), {"r2"}
    with pytest.raises(ThresholdNotMet) as info:
        gather_releases(
            [f.endpoint() for f in fakes],
            2,
            "op-1",
            Ed25519SigningKey.generate(),
            purpose="alarm-verification",
            justification=alarm(),
            session=SessionKey.generate(),
            recordings=recs,
        )
    assert isinstance(info.value.errors["c2"], NothingReleased)


# --- findings 2 and 3 (customer side): the audit ----------------------------------------------


class StoreLog(CustodianLog):
    """The customer's view of an in-process custodian log."""

    def __init__(self, keys: CustodianKeys, store: LogStore) -> None:
        self.url = "in-process"
        self.origin = keys.origin
        self.verifier = keys.log_verifier
        self.store = store
        self.witnesses = None  # no witness policy: the audit checks the log key alone
        self.cosigned = None
        self.now_s = 0

    def checkpoint(self) -> Checkpoint:
        return open_checkpoint(self.store.checkpoint(), [self.verifier], self.origin)

    def consistency(self, old: int, new: int) -> list[bytes]:
        return self.store.consistency_proof(old, new)

    def inclusion(self, index: int, tree_size: int) -> list[bytes]:
        return self.store.inclusion_proof(index, tree_size)

    def entries(self, start: int, end: int) -> list[tuple[int, bytes]]:
        return self.store.entries(start, end)


SITE = "site-a"


def meta(rid: str) -> RecordingMetadata:
    return RecordingMetadata(SITE, "cam-front", rid, RecordingKind.SEGMENT, T, T + 1)


def release_entry(release_id: str, metas: list[RecordingMetadata], **kw: Any) -> dict[str, Any]:
    entry = {
        "type": "release",
        "release_id": release_id,
        "site_id": SITE,
        "operator_id": "op",
        "released": {
            "count": len(metas),
            "root": released_root(metas),
            "cameras": sorted({m.camera_id for m in metas}),
        },
    }
    entry.update(kw)
    return entry


def notice_for(index: int, entry: dict[str, Any], metas: list[RecordingMetadata]) -> str:
    return json.dumps(
        {
            "log_index": index,
            "release_id": entry["release_id"],
            "site_id": entry["site_id"],
            "operator_id": entry["operator_id"],
            "released_root": released_root(metas),
            "recordings": [m.to_json() for m in metas],
        }
    )


@pytest.fixture
def custodian_log(tmp_path: Path) -> tuple[LogStore, StoreLog]:
    keys, store = new_store(tmp_path, "c1")
    return store, StoreLog(keys, store)


def test_audit_of_an_honest_log_is_clean(
    custodian_log: tuple[LogStore, StoreLog], tmp_path: Path
) -> None:
    store, log = custodian_log
    metas = [meta("r1")]
    e = release_entry("R1", metas)
    n = notice_for(append(store, e).index, e, metas)
    empty = {"count": 0, "root": EMPTY_ROOT.hex(), "cameras": []}
    append(store, {"type": "refusal", "release_id": "R2", "site_id": SITE, "released": empty})
    append(store, {"type": "refusal", "release_id": "R3", "site_id": None, "released": empty})
    state = tmp_path / "state.json"
    report = audit_custodian(log, state, SITE, [n])
    assert report.ok, report.findings
    assert json.loads(state.read_text())["size"] == 3


def test_audit_flags_a_custodian_that_mislabels_entries(
    custodian_log: tuple[LogStore, StoreLog], tmp_path: Path
) -> None:
    store, log = custodian_log
    metas = [meta("r1")]
    e = release_entry("R1", metas)
    genuine = append(store, e).index
    notice = notice_for(genuine, e, metas)
    # A hidden release reusing the notified release id (and operator): not one-to-one.
    hidden = append(store, release_entry("R1", [meta("r9")])).index
    # A release logged as a refusal.
    as_refusal = append(store, release_entry("R2", [meta("r8")], type="refusal")).index
    # A release labelled with no site at all (the operator client would refuse it now).
    no_site = append(store, release_entry("R3", [meta("r7")], site_id=None)).index
    # A refusal with no site that still records a released root.
    no_site_ref = append(
        store, release_entry("R4", [meta("r6")], type="refusal", site_id=None)
    ).index
    state = tmp_path / "state.json"
    report = audit_custodian(log, state, SITE, [notice])
    assert sorted((f.kind, f.index) for f in report.findings) == sorted(
        [
            ("unexpected_release", hidden),
            ("unexpected_release", as_refusal),
            ("unattributed_release", no_site),
            ("unattributed_release", no_site_ref),
        ]
    )
    assert not state.exists()  # nothing wrong must be forgotten at the next audit


def test_audit_matches_a_notice_to_its_own_entry_only(
    custodian_log: tuple[LogStore, StoreLog], tmp_path: Path
) -> None:
    store, log = custodian_log
    metas = [meta("r1")]
    e = release_entry("R1", metas)
    first = append(store, e).index
    second = append(store, dict(e)).index  # same release id, same recordings, another entry
    notice = notice_for(first, e, metas)
    report = audit_custodian(log, tmp_path / "s.json", SITE, [notice, notice])  # redelivered
    assert [(f.kind, f.index) for f in report.findings] == [("unexpected_release", second)]
    # A second, different notice claiming the first entry is a mismatch, not a cover.
    other = json.loads(notice)
    other["operator_id"] = "op-2"
    report = audit_custodian(
        log, tmp_path / "s2.json", SITE, [notice, json.dumps(other), notice_for(second, e, metas)]
    )
    assert [(f.kind, f.index) for f in report.findings] == [("notice_mismatch", first)]


@pytest.mark.parametrize(
    "bad",
    [
        '{"log_index": 0}',
        "not json",
        "[1, 2]",
        '{"log_index": -1, "site_id": "site-a", "release_id": "R", "recordings": []}',
        '{"log_index": 1e30, "site_id": "site-a", "release_id": "R", "recordings": []}',
        '{"log_index": 0, "site_id": "site-a", "release_id": "R", "recordings": [{"x": 1}]}',
        '{"log_index": true, "site_id": "site-a", "release_id": "R", "recordings": []}',
    ],
)
def test_a_malformed_notice_is_a_finding_and_the_audit_goes_on(
    custodian_log: tuple[LogStore, StoreLog], tmp_path: Path, bad: str
) -> None:
    store, log = custodian_log
    metas = [meta("r1")]
    e = release_entry("R1", metas)
    good = notice_for(append(store, e).index, e, metas)
    state = tmp_path / "state.json"
    report = audit_custodian(log, state, SITE, [bad, good])
    assert [f.kind for f in report.findings] == ["notice_malformed"]
    # The log itself checked out: the state advances, and the good notice covered R1.
    assert json.loads(state.read_text())["size"] == 1
    e2 = release_entry("R2", metas)
    good2 = notice_for(append(store, e2).index, e2, metas)
    report = audit_custodian(log, state, SITE, [good, bad, good2])
    assert [f.kind for f in report.findings] == ["notice_malformed"]
    assert json.loads(state.read_text())["size"] == 2


def test_a_notice_for_another_site_is_a_mismatch(
    custodian_log: tuple[LogStore, StoreLog], tmp_path: Path
) -> None:
    store, log = custodian_log
    metas = [meta("r1")]
    e = release_entry("R1", metas)
    index = append(store, e).index
    foreign = json.loads(notice_for(index, e, metas))
    foreign["site_id"] = "site-b"
    report = audit_custodian(log, tmp_path / "s.json", SITE, [json.dumps(foreign)])
    assert sorted(f.kind for f in report.findings) == ["notice_mismatch", "unexpected_release"]


# --- finding 8: split view, detectable only when checkpoints are exchanged --------------------


def test_a_checkpoint_from_an_operator_receipt_exposes_a_split_view(tmp_path: Path) -> None:
    keys, honest = new_store(tmp_path, "c1")
    # The same custodian (same log key) keeps a second, forked log for the operator.
    fork_url = f"sqlite:///{tmp_path / 'fork.db'}"
    upgrade(fork_url)
    fork = LogStore(make_engine(fork_url), keys)
    metas = [meta("r1")]
    for store in (honest, fork):
        append(store, release_entry("R0", metas))
    append(fork, release_entry("R-hidden", [meta("r2")]))  # shown to the operator only
    append(honest, release_entry("R-other", [meta("r3")]))  # shown to the customer only
    append(honest, release_entry("R-later", [meta("r4")]))
    log = StoreLog(keys, honest)
    cp = log.checkpoint()
    operator_receipt = fork.checkpoint()  # what CustodianRelease.checkpoint would hold
    findings = cross_check_checkpoint(log, operator_receipt, cp)
    assert [f.kind for f in findings] == ["split_view"]
    same_size = fork.checkpoint(2)
    assert [f.kind for f in cross_check_checkpoint(log, same_size, honest_cp(honest, 2))] == [
        "split_view"
    ]
    # A checkpoint of the same history (older or equal) passes; a forged one is refused.
    assert cross_check_checkpoint(log, honest.checkpoint(1), cp) == []
    assert cross_check_checkpoint(log, honest.checkpoint(), cp) == []
    stranger = load_or_create(tmp_path / "stranger", "c1")
    forged = LogStore(honest._engine, stranger).checkpoint()
    assert [f.kind for f in cross_check_checkpoint(log, forged, cp)] == ["bad_checkpoint"]


def honest_cp(store: LogStore, size: int) -> Checkpoint:
    keys = store._keys
    return open_checkpoint(store.checkpoint(size), [keys.log_verifier], keys.origin)
