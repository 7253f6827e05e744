"""No secret of a `make demo` run reaches a file the server side wrote.

After one full run of demo/story.py (shared with tests/test_story.py), every file the servers
produced is read as raw bytes: the storage service's data directory (SQLite database with its
WAL, object store), each custodian's data directory (database, key files), every server's
stdout/stderr log (the run asks for DEBUG level), and the settings the stage gave each
server (stage.json lists all of these). Everything else in the run's directory belongs to the
clients (customer, operator, technician, camera, panel, ARC); the secrets are taken from there:

* private keys: the customer device's age identity, the site signing key, the camera and panel
  device keys, the operators' and the ARC's signing keys (client-side key files);
* each custodian's escrow keys (X25519 and hybrid ML-KEM-768 + X25519) and log signing key:
  allowed in that custodian's own key file
  and nowhere else (not in its database or log, not at another custodian, not at storage);
* each recording's file key and header MAC key (the headers in the storage database opened
  with the customer's identity), and each custodian's Shamir share of it (its escrow stanza
  opened with that custodian's key);
* plaintext: windows of the decrypted video segments the clients wrote.

Each secret is searched for raw and in every spelling a server might write: hex (lower and
upper), base64 and base64url at all three alignments (so padded, unpadded and embedded in a
longer encoding all match), Bech32 data characters (lower and upper), and the key's own text
form. A hit names the file and the secret's kind, never the secret. Not covered: the
operator's per-release session keys, which exist only in the operator process's memory.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crypto.age import bech32
from crypto.age.api import decrypt_header, parse_identity_file
from crypto.age.format import Stanza, header_mac_key
from crypto.escrow.keys import CustodianKey
from crypto.escrow.pqkeys import HybridCustodianKey
from crypto.escrow.stanza import NotThisCustodianError, escrow_stanzas, open_escrow_stanza
from crypto.metadata import RecordingKind, RecordingMetadata
from tests.test_story import StoryRun, run_story_once

pytestmark = pytest.mark.slow

PROBE = 16  # every spelling is at least this long; the scan indexes spellings by this prefix
WINDOW = 32  # bytes of plaintext per window
WINDOWS_PER_SEGMENT = 6
BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_B64_TO_URL = bytes.maketrans(b"+/", b"-_")


@dataclass(frozen=True)
class Secret:
    kind: str
    raw: bytes
    texts: tuple[bytes, ...] = ()  # its own text forms (a key file's line)
    home: Path | None = None  # the one server file allowed to hold it


@dataclass
class Scan:
    files: int = 0
    scanned_bytes: int = 0
    hits: list[tuple[str, str]] = field(default_factory=list)  # (file, kind)


# --- spellings ---------------------------------------------------------------------------


def _b64_cores(raw: bytes) -> Iterator[bytes]:
    """The base64 characters that depend on ``raw`` alone, for each of the three alignments
    ``raw`` can have inside a longer encoded string (standard and url alphabets)."""
    for k in range(3):
        enc = base64.b64encode(bytes(k) + raw)
        core = enc[-(-8 * k // 6) : (8 * (k + len(raw))) // 6]
        yield core
        yield core.translate(_B64_TO_URL)


def _bech32_data(raw: bytes) -> bytes:
    """The Bech32 data characters of ``raw``, without the last (padded) one and checksum."""
    bits = "".join(f"{b:08b}" for b in raw)
    full = len(bits) // 5
    return "".join(BECH32_CHARSET[int(bits[i * 5 : i * 5 + 5], 2)] for i in range(full)).encode()


def spellings(secret: Secret) -> set[bytes]:
    raw = secret.raw
    out = {raw, raw.hex().encode(), raw.hex().upper().encode(), *_b64_cores(raw)}
    b32 = _bech32_data(raw)
    out |= {b32, b32.upper()}
    for text in secret.texts:
        out |= {text, text.lower(), text.upper()}
    return {s for s in out if len(s) >= PROBE}


# --- where the secrets come from ---------------------------------------------------------


def _bech32_key(text: bytes) -> bytes:
    return bech32.decode(text.decode())[1]


def _note_key(text: bytes) -> bytes:
    return base64.b64decode(text[-44:])[1:]  # base64(0x01 || seed), whose "+" may occur


def _ed25519_key(text: bytes) -> bytes:
    b64 = text.split(b":", 1)[1]
    return base64.urlsafe_b64decode(b64 + b"=" * (-len(b64) % 4))


KEY_TEXTS: tuple[tuple[str, re.Pattern[bytes], Callable[[bytes], bytes]], ...] = (
    ("age X25519 identity", re.compile(rb"AGE-SECRET-KEY-1[0-9A-Z]{58}"), _bech32_key),
    (
        "custodian escrow key",
        re.compile(rb"CAMVAULT-CUSTODIAN-SECRET-KEY-1[0-9A-Z]{58}"),
        _bech32_key,
    ),
    (
        "custodian hybrid escrow key",
        re.compile(rb"CAMVAULT-CUSTODIAN-PQ-SECRET-KEY-1[0-9A-Z]{58}"),
        _bech32_key,
    ),
    ("Ed25519 signing key", re.compile(rb"ed25519-secret:[A-Za-z0-9_-]{43}"), _ed25519_key),
    (
        "custodian log signing key",
        re.compile(rb"PRIVATE\+KEY\+[!-*,-~]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}"),
        _note_key,
    ),
)


def key_secrets(path: Path, home: Path | None) -> Iterator[Secret]:
    data = path.read_bytes()
    for kind, pattern, decode in KEY_TEXTS:
        for m in pattern.finditer(data):
            yield Secret(kind, decode(m.group()), (m.group(),), home)


@dataclass
class Layout:
    workdir: Path
    server_files: list[Path]
    server_settings: dict[str, bytes]  # name -> the settings the stage passed
    storage_db: Path
    custodian_key_files: dict[str, list[Path]]

    @classmethod
    def read(cls, workdir: Path) -> Layout:
        servers = json.loads((workdir / "stage.json").read_text())["servers"]
        files: list[Path] = []
        settings: dict[str, bytes] = {}
        keys: dict[str, list[Path]] = {}
        for name, info in servers.items():
            data_dir, log = Path(info["data_dir"]), Path(info["log"])
            files += [p for p in sorted(data_dir.rglob("*")) if p.is_file()] + [log]
            settings[name] = json.dumps(info["env"]).encode()
            if name.startswith("custodian-"):
                keys[name] = sorted(data_dir.glob("*.key"))
        db = Path(servers["storage"]["data_dir"]) / "camvault.db"
        return cls(workdir, files, settings, db, keys)

    def client_files(self) -> list[Path]:
        server = set(self.server_files)
        return [p for p in sorted(self.workdir.rglob("*")) if p.is_file() and p not in server]


def _stored_recordings(db: Path, tmp: Path) -> list[tuple[bytes, dict[str, object]]]:
    """(header, row) of every recording, read from a copy of the storage database."""
    for f in db.parent.glob(db.name + "*"):
        shutil.copy(f, tmp / f.name)
    con = sqlite3.connect(tmp / db.name)
    con.row_factory = sqlite3.Row
    try:
        rows = con.execute("SELECT * FROM recordings WHERE header IS NOT NULL").fetchall()
    finally:
        con.close()
    return [(bytes(r["header"]), dict(r)) for r in rows]


def _high_entropy_windows(data: bytes) -> Iterator[bytes]:
    step = max(1, len(data) // (WINDOWS_PER_SEGMENT + 1))
    for i in range(1, WINDOWS_PER_SEGMENT + 1):
        for start in range(i * step, min(len(data) - WINDOW, i * step + 4096), WINDOW):
            window = data[start : start + WINDOW]
            if len(set(window)) >= 24:  # not padding or a repeated table
                yield window
                break


def collect_secrets(layout: Layout, tmp: Path) -> list[Secret]:
    clients = layout.client_files()
    secrets: list[Secret] = []
    for path in clients:
        if path.stat().st_size < 64 * 1024:
            secrets += key_secrets(path, None)
    custodian_keys: list[CustodianKey | HybridCustodianKey] = []
    for key_files in layout.custodian_key_files.values():
        for path in key_files:
            found = list(key_secrets(path, path))
            secrets += found
            custodian_keys += [
                CustodianKey(s.raw) for s in found if s.kind == "custodian escrow key"
            ]
            custodian_keys += [
                HybridCustodianKey(s.raw) for s in found if s.kind == "custodian hybrid escrow key"
            ]
    identities = parse_identity_file((layout.workdir / "customer" / "identity.txt").read_text())
    for header_bytes, row in _stored_recordings(layout.storage_db, tmp):
        header, file_key = decrypt_header(identities, header_bytes)
        secrets.append(Secret("file key", file_key.data))
        secrets.append(Secret("header MAC key", header_mac_key(file_key)))
        secrets += escrow_shares(header.stanzas, custodian_keys, row)
    seen: set[bytes] = set()
    for path in clients:
        if path.suffix == ".ts":
            for window in _high_entropy_windows(path.read_bytes()):
                if window not in seen:
                    seen.add(window)
                    secrets.append(Secret("plaintext video", window))
    return secrets


def escrow_shares(
    stanzas: Iterable[Stanza],
    custodian_keys: Iterable[CustodianKey | HybridCustodianKey],
    row: dict[str, object],
) -> list[Secret]:
    """Each custodian's Shamir share of one recording's file key (its y bytes)."""
    metadata = RecordingMetadata(
        site_id=str(row["site_id"]),
        camera_id=str(row["camera_id"]),
        recording_id=str(row["recording_id"]),
        kind=RecordingKind(str(row["kind"])),
        start_ms=int(str(row["start_ms"])),
        end_ms=int(str(row["end_ms"])),
    )
    shares: list[Secret] = []
    for stanza in escrow_stanzas(stanzas):
        for key in custodian_keys:
            with contextlib.suppress(NotThisCustodianError):
                share = open_escrow_stanza(stanza, key, metadata)
                shares.append(Secret("escrow share", share.y))
    return shares


# --- the scan ----------------------------------------------------------------------------


def scan(named_blobs: Iterable[tuple[str, Path | None, bytes]], secrets: list[Secret]) -> Scan:
    """Search every blob for every spelling of every secret, in one pass per blob."""
    index: dict[bytes, list[tuple[bytes, Secret]]] = {}
    for secret in secrets:
        for sp in spellings(secret):
            index.setdefault(sp[:PROBE], []).append((sp, secret))
    homes = {s.home for s in secrets if s.home is not None}
    result = Scan()
    for name, path, data in named_blobs:
        result.files += 1
        result.scanned_bytes += len(data)
        found: set[str] = set()
        for i in range(len(data) - PROBE + 1):
            entries = index.get(data[i : i + PROBE])
            if entries is None:
                continue
            for sp, secret in entries:
                if data.startswith(sp, i) and (secret.home is None or secret.home != path):
                    found.add(secret.kind)
        for kind, pattern, _ in KEY_TEXTS:  # any key text, even one not used in this run
            if (path is None or path not in homes) and pattern.search(data):
                found.add(f"{kind} (text form)")
        result.hits += [(name, kind) for kind in sorted(found)]
    return result


def server_blobs(layout: Layout) -> Iterator[tuple[str, Path | None, bytes]]:
    for path in layout.server_files:
        if path.exists():
            yield str(path.relative_to(layout.workdir)), path, path.read_bytes()
    for name, settings in layout.server_settings.items():
        yield f"settings of {name}", None, settings


# --- tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def story(age_cli: tuple[str, str]) -> StoryRun:
    run = run_story_once()
    if run.returncode != 0:
        pytest.fail(f"the story failed; no run to inspect:\n{run.output[-4000:]}")
    return run


@pytest.fixture(scope="module")
def layout(story: StoryRun) -> Layout:
    return Layout.read(story.workdir)


@pytest.fixture(scope="module")
def secrets(layout: Layout, tmp_path_factory: pytest.TempPathFactory) -> list[Secret]:
    return collect_secrets(layout, tmp_path_factory.mktemp("storage-db"))


def test_no_secret_in_any_server_file(layout: Layout, secrets: list[Secret]) -> None:
    kinds = Counter(s.kind for s in secrets)
    assert kinds["age X25519 identity"] >= 1 and kinds["custodian escrow key"] == 3
    assert kinds["custodian hybrid escrow key"] == 3  # the story's sites seal hybrid stanzas
    assert kinds["custodian log signing key"] == 3 and kinds["Ed25519 signing key"] >= 6
    assert kinds["file key"] >= 3 and kinds["plaintext video"] >= 10
    assert kinds["escrow share"] == 3 * kinds["file key"]
    result = scan(server_blobs(layout), secrets)
    print(
        f"secrets hygiene: {result.files} server files, {result.scanned_bytes} bytes scanned; "
        f"secrets by kind: {dict(sorted(kinds.items()))}; found: {len(result.hits)}"
    )
    assert result.files > 10 and result.scanned_bytes > 100_000
    storage_log = layout.workdir / "logs" / "storage.log"
    assert storage_log.stat().st_size > 1000, "the storage service logged its requests"
    assert result.hits == [], "\n".join(f"{f}: holds a {k}" for f, k in result.hits)


def test_scan_finds_a_planted_secret(layout: Layout, secrets: list[Secret]) -> None:
    """The scan can fail: one file key's base64, planted in a copy of a server log, is found,
    and so is a custodian's escrow key text in another server's file."""
    log = next(p for p in layout.server_files if p.suffix == ".log")
    file_key = next(s for s in secrets if s.kind == "file key")
    planted = log.read_bytes() + b"\nfile_key=" + base64.b64encode(file_key.raw) + b"\n"
    result = scan([("planted.log", None, planted)], secrets)
    assert result.hits == [("planted.log", "file key")]
    escrow_key = next(s for s in secrets if s.kind == "custodian escrow key")
    assert escrow_key.home is not None
    own = scan([("own key file", escrow_key.home, escrow_key.home.read_bytes())], secrets)
    assert own.hits == []  # allowed in its own key file only
    moved = scan([("storage copy", None, escrow_key.home.read_bytes())], secrets)
    kinds = {kind for _, kind in moved.hits}
    assert {"custodian escrow key", "custodian escrow key (text form)"} <= kinds
