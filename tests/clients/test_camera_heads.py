"""The camera's chain-head module (clients/camera/heads.py) on its own: the head it signs from
the journal's chain, the setting's bounds, a head waiting for the manifest it names, a head kept
while the service is unreachable, a newer head replacing a waiting one. Against the real storage
service and a lying one: tests/security/test_chain_heads.py."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.api.storage import StorageApi
from clients.camera.config import CameraConfig
from clients.camera.heads import PENDING_KEY, ChainHeads, sign_head
from clients.camera.queue import Journal
from crypto.ed25519 import Ed25519SigningKey
from crypto.statements import ChainHead, parse_signed, verify

KEY = Ed25519SigningKey.generate()
H = hashlib.sha256(b"newest manifest").digest()


def _dead_url() -> str:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def heads(tmp_path: Path) -> Iterator[ChainHeads]:
    journal = Journal(tmp_path / "journal.sqlite", "site-1", "cam-1", KEY)
    api = StorageApi.connect(_dead_url(), "device:site-1/cam-1", KEY, timeout=2.0)
    try:
        yield ChainHeads(api, journal, KEY, "site-1", "cam-1", 60, retry_s=30.0)
    finally:
        api.close()
        journal.close()


def test_sign_head_names_the_newest_manifest() -> None:
    idle = verify(sign_head(KEY, "site-1", "cam-1", 0, None, 60), KEY.public_key, ChainHead)
    assert (idle.sequence, idle.manifest_sha256, idle.interval_s) == (None, None, 60)
    h = verify(sign_head(KEY, "site-1", "cam-1", 5, H, 30, at_ms=1234), KEY.public_key, ChainHead)
    assert (h.sequence, h.manifest_sha256, h.issued_at_ms, h.interval_s) == (4, H, 1234, 30)


@pytest.mark.parametrize("bad", [0, 86401, 1.5, True, "60"])
def test_interval_setting_is_bounded(bad: object) -> None:
    base = {"url": "http://x", "site_id": "s", "camera_id": "c", "key_file": "k", "state_dir": "d"}
    assert CameraConfig.from_json({**base, "chain_head_interval_s": 1}).chain_head_interval_s == 1
    assert CameraConfig.from_json(base).chain_head_interval_s == 60
    with pytest.raises(ValueError, match="chain_head_interval_s"):
        CameraConfig.from_json({**base, "chain_head_interval_s": bad})


def test_signed_once_per_interval_from_the_journal_chain(heads: ChainHeads) -> None:
    heads.journal.adopt_chain_head(8, H)
    assert heads.maybe_sign() and not heads.maybe_sign()
    waiting = heads.pending()
    assert waiting is not None
    body = verify(waiting, KEY.public_key, ChainHead)
    assert (body.sequence, body.manifest_sha256) == (7, H)


def test_head_waits_for_its_manifest_and_is_kept_while_offline(heads: ChainHeads) -> None:
    heads.journal.adopt_chain_head(3, H)
    heads.sign_now()
    # manifest #2 (the one it names) is still in the outbox: no request at all
    assert not heads.maybe_post(next_pending=2)
    assert heads.retry_at == 0.0
    # committed up to #2, but the service is unreachable: kept, retried later
    assert not heads.maybe_post(next_pending=3)
    assert heads.retry_at > 0 and heads.journal.get(PENDING_KEY) is not None
    assert not heads.maybe_post(None)  # within the retry delay: not even tried
    assert heads.posted == 0


def test_newer_head_replaces_the_waiting_one_and_is_never_lost(heads: ChainHeads) -> None:
    old = heads.sign_now()
    heads.journal.adopt_chain_head(1, H)
    new = heads.sign_now()
    waiting = heads.pending()
    assert waiting is not None and waiting.encode() == new.encode()
    heads._forget(old.encode())  # the uploader finishing with the old one: the new one stays
    assert heads.journal.get(PENDING_KEY) == new.encode()
    heads._forget(new.encode())
    assert heads.journal.get(PENDING_KEY) is None
    assert parse_signed(new.encode()).unverified_statement != old.unverified_statement
