"""The opener (escrow_service/services/opener.py) in-process: the worker-process path gives the same
results as the in-thread path, item by item, refusals included; the fast metadata parse
accepts and refuses exactly what RecordingMetadata.from_json does; the released-set root
precomputed while the opener works is the root of what was actually released."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from crypto import escrow
from crypto.age.format import FileKey, Stanza
from crypto.errors import StatementError
from crypto.escrow import CustodianKey, SessionKey, open_released_share
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.tlog import EMPTY_ROOT, leaf_hash, root_from_leaf_hashes
from escrow_service.core.errors import Reason
from escrow_service.schemas.metadata import MemoMetadata
from escrow_service.schemas.release import ItemResult
from escrow_service.services import opener as opener_module
from escrow_service.services.opener import Item, Opened, Opener
from escrow_service.services.record import ReleaseRecord, request_fields

T = 1_700_000_000_000


@pytest.fixture(scope="module")
def keys() -> tuple[CustodianKey, CustodianKey]:
    return CustodianKey.generate(), CustodianKey.generate()


@pytest.fixture(scope="module")
def pool(keys: tuple[CustodianKey, CustodianKey]) -> Iterator[Opener]:
    opener = Opener(keys[0], workers=2, parallel_threshold=4)
    yield opener
    opener.close()


def _meta(i: int) -> MemoMetadata:
    return MemoMetadata("site", "cam", f"rec-{i}", RecordingKind.SEGMENT, T + i, T + i + 1)


X = escrow.ESCROW_STANZA_TYPE


def _items(keys: tuple[CustodianKey, CustodianKey], n: int) -> list[Item]:
    """n good items, then one of each per-item refusal the opener reports."""
    mine, other = keys
    out: list[Item] = []
    for i in range(n + 4):
        stanzas = escrow.EscrowRecipients(
            [mine.public_key(), other.public_key()], 2, _meta(i)
        ).wrap(FileKey(secrets.token_bytes(16)))
        out.append((stanzas[0].args, stanzas[0].body, _meta(i), X))
    args, body, meta, _ = out[n]
    out[n] = (args[:4], body, meta, X)  # malformed: four arguments
    args, body, _, _ = out[n + 1]
    out[n + 1] = (args, body, _meta(999), X)  # relabelled: does not open
    stanza: Stanza = escrow.EscrowRecipients(
        [other.public_key(), mine.public_key()], 2, _meta(n + 2)
    ).wrap(FileKey(bytes(16)))[0]
    out[n + 2] = (stanza.args, stanza.body, _meta(n + 2), X)  # another custodian's stanza
    args, body, meta, _ = out[n + 3]
    out[n + 3] = (args, bytes(len(body)), meta, X)  # body replaced: does not open
    return out


EXPECTED = [
    Reason.MALFORMED_STANZA,
    Reason.STANZA_METADATA_MISMATCH,
    Reason.NOT_THIS_CUSTODIAN,
    Reason.STANZA_METADATA_MISMATCH,
]


def _check(results: list[Opened], items: list[Item], session: SessionKey, n: int) -> None:
    assert len(results) == len(items)
    for (_, _, meta, _), res in zip(items[:n], results[:n], strict=True):
        assert res.reason is None and res.sealed is not None
        share = open_released_share(res.sealed, session, meta, release_id="rel-1")
        assert share.threshold == 2
    assert [r.reason for r in results[n:]] == EXPECTED
    assert all(r.sealed is None and r.message for r in results[n:])


@pytest.mark.parametrize("chunk", [1, 7, 150])
def test_pool_and_thread_give_the_same_results(
    keys: tuple[CustodianKey, CustodianKey],
    pool: Opener,
    chunk: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(opener_module, "CHUNK", chunk)
    items = _items(keys, 20)
    session = SessionKey.generate()
    inline = Opener(keys[0], workers=0, parallel_threshold=4)
    _check(inline.open_and_seal(items, session.public_key(), "rel-1"), items, session, 20)
    _check(pool.open_and_seal(items, session.public_key(), "rel-1"), items, session, 20)


def test_pool_reports_a_bad_session_key_per_item(
    keys: tuple[CustodianKey, CustodianKey], pool: Opener
) -> None:
    items = _items(keys, 6)[:6]
    for opener in (pool, Opener(keys[0], workers=0, parallel_threshold=4)):
        out = opener.open_and_seal(items, bytes(32), "rel-1")  # low-order point
        assert [o.reason for o in out] == [Reason.BAD_SESSION_KEY] * 6


GOOD: dict[str, Any] = {
    "site_id": "s",
    "camera_id": "c",
    "recording_id": "r",
    "kind": "clip",
    "start_ms": T,
    "end_ms": T + 1,
}


def _variants() -> list[object]:
    out: list[object] = [GOOD, [], "x", None, {}, {**GOOD, "extra": 1}]
    out += [{k: v for k, v in GOOD.items() if k != key} for key in GOOD]
    bad_values: list[tuple[str, object]] = [
        ("kind", "movie"),
        ("kind", 3),
        ("kind", ["clip"]),
        ("kind", "CLIP"),
        ("site_id", ""),
        ("site_id", "-s"),
        ("site_id", 5),
        ("camera_id", "a b"),
        ("recording_id", "x" * 129),
        ("start_ms", -1),
        ("start_ms", True),
        ("start_ms", 1.5),
        ("end_ms", T - 1),
        ("end_ms", 2**53),
        ("end_ms", "1"),
    ]
    out += [{**GOOD, key: value} for key, value in bad_values]
    # Two problems at once: the first one named must be the same.
    out += [
        {**GOOD, "kind": "movie", "site_id": ""},
        {**GOOD, "site_id": "", "end_ms": -1},
        {**GOOD, "start_ms": -1, "camera_id": ""},
    ]
    return out


@pytest.mark.parametrize("obj", _variants())
def test_fast_metadata_parse_is_the_base_parse(obj: object) -> None:
    def outcome(parse: Any) -> object:
        try:
            m = parse(obj)
        except StatementError as exc:
            return str(exc)
        return m.to_json(), m.associated_data()

    assert outcome(MemoMetadata.from_json) == outcome(RecordingMetadata.from_json)
    if obj is GOOD:
        assert isinstance(MemoMetadata.from_json(obj), MemoMetadata)


def test_wire_item_rebuilds_the_same_metadata() -> None:
    m = _meta(3)
    args, body, fields, stanza_type = opener_module._wire((("a",), b"b", m, X))
    assert stanza_type == X
    site, camera, recording, kind, start, end = fields
    rebuilt = RecordingMetadata(site, camera, recording, RecordingKind(kind), start, end)
    assert (args, body, rebuilt.to_json()) == (("a",), b"b", m.to_json())
    assert rebuilt.associated_data() == m.associated_data()


# --- the released-set root, computed while the opener works -------------------------------


def _fields(rec: Any, results: list[Any], metas: list[MemoMetadata]) -> dict[str, Any]:
    return request_fields(rec, results, metas)


@pytest.mark.parametrize(
    ("passing", "released"),
    [
        ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4]),  # all pass and open: the precomputed root
        ([0, 2, 3, 4], [0, 2, 3, 4]),  # policy refused item 1
        ([0, 1, 2, 3, 4], [0, 1, 3]),  # items 2 and 4 did not open: recomputed
        ([0, 1], []),  # nothing released
    ],
)
def test_released_root_with_precomputed_leaves(passing: list[int], released: list[int]) -> None:
    metas = [_meta(i) for i in range(5)]
    results = [
        ItemResult(m.recording_id, b"x" if i in released else None, None, None)
        for i, m in enumerate(metas)
    ]
    want = root_from_leaf_hashes([leaf_hash(metas[i].associated_data()) for i in released])
    plain = ReleaseRecord("rel", T)
    assert _fields(plain, results, metas)["released"]["root"] == want.hex()
    rec = ReleaseRecord("rel", T)
    rec.leaves = [leaf_hash(m.associated_data()) for m in metas]
    rec.root_if_all_pass = (passing, root_from_leaf_hashes([rec.leaves[i] for i in passing]))
    assert _fields(rec, results, metas)["released"]["root"] == want.hex()
    # A request-level refusal logs no released set, whatever was precomputed.
    assert _fields(rec, [], [])["released"]["root"] == EMPTY_ROOT.hex()
