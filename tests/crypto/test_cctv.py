"""Known-answer vectors: the C2SP CCTV age vectors, and camvault's own tests/vectors/age.json.

CCTV: npm package cctv-age 0.2.0, one test per vector file.

The package embeds every ``testdata/<name>`` file of https://github.com/C2SP/CCTV (age) as a
base64 string in ``index.js``; ``CAMVAULT_CCTV_DIR`` may instead point at a directory holding
that ``index.js`` or the vector files themselves (``testdata/``). A missing vector directory
is a test failure, never a skip.

Vector format (the package README): ``key: value`` lines, an empty line, then the age file,
zlib-compressed if ``compressed: zlib``. ``expect`` maps onto our exceptions:

    success          no exception, SHA-256 of the plaintext == ``payload``
    no match         NoIdentityMatchError
    HMAC failure     HeaderError "header MAC mismatch"
    header failure   HeaderError (not a MAC mismatch), or PayloadError about the nonce:
                     the spec places the nonce in the payload, the testkit counts a missing
                     or short nonce as a header failure (stream_no_nonce, stream_short_nonce)
    payload failure  PayloadError
    armor failure    ArmorError

Whatever plaintext was released before a failure must hash to ``payload`` when given.
Every vector runs, the hybrid post-quantum ones (mlkem768x25519) included; those also run
through the ``camvault decrypt`` command line.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crypto.age import (
    Identity,
    ScryptIdentity,
    armor,
    decrypt,
    parse_identity,
    read_header,
)
from crypto.age.format import FileKey
from crypto.age.stream import NONCE_SIZE, _encrypt_payload_from_parts
from crypto.errors import (
    ArmorError,
    CryptoError,
    HeaderError,
    NoIdentityMatchError,
    PayloadError,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO_ROOT / ".cache" / "npm" / "node_modules" / "cctv-age"

# Every vector runs: the hybrid ones (mlkem768x25519, AGE-SECRET-KEY-PQ-) included, in
# process and, below, through the ``camvault decrypt`` command line.
HYBRID_NAMES = re.compile(r"(armor_)?hybrid(_\w+)?")
CAMVAULT = str(Path(sys.executable).with_name("camvault"))


def vector_dir() -> Path:
    return Path(os.environ.get("CAMVAULT_CCTV_DIR", DEFAULT_DIR))


def load_vectors(root: Path) -> dict[str, bytes]:
    """Vector name -> raw file bytes, from the npm ``index.js`` or a testdata directory."""
    index = root / "index.js"
    if index.is_file():
        pattern = re.compile(r'// \.\./testdata/(\S+)\nvar \w+ = __toBinary\("([A-Za-z0-9+/=]*)"\)')
        return {m[1]: base64.b64decode(m[2]) for m in pattern.finditer(index.read_text())}
    data_dir = root / "testdata" if (root / "testdata").is_dir() else root
    return {p.name: p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file()}


def _vector_names() -> list[str]:
    root = vector_dir()
    if not root.is_dir():
        return ["<vector directory missing>"]
    return sorted(load_vectors(root)) or ["<no vectors found>"]


@dataclass
class Vector:
    name: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def one(self, key: str) -> str | None:
        values = self.fields.get(key, [])
        return values[0] if values else None

    @classmethod
    def parse(cls, name: str, raw: bytes) -> Vector:
        head, sep, body = raw.partition(b"\n\n")
        if not sep:
            raise ValueError(f"{name}: no empty line after the vector header")
        vec = cls(name)
        for line in head.decode("utf-8").split("\n"):
            key, _, value = line.partition(": ")
            vec.fields.setdefault(key, []).append(value)
        vec.body = zlib.decompress(body) if vec.one("compressed") == "zlib" else body
        return vec

    def identities(self) -> list[Identity]:
        ids: list[Identity] = [parse_identity(i) for i in self.fields.get("identity", [])]
        ids += [ScryptIdentity(p) for p in self.fields.get("passphrase", [])]
        return ids


@pytest.fixture(scope="module")
def vectors() -> dict[str, bytes]:
    root = vector_dir()
    if not root.is_dir():
        pytest.fail(
            f"CCTV age vectors not found at {root}: run "
            "`npm install --no-save --prefix .cache/npm cctv-age@0.2.0` or set CAMVAULT_CCTV_DIR"
        )
    found = load_vectors(root)
    if not found:
        pytest.fail(f"no CCTV age vectors in {root}")
    return found


def _run(vec: Vector) -> tuple[bytes, CryptoError | None]:
    out = io.BytesIO()
    armored = vec.one("armored") == "yes"
    try:
        decrypt(vec.identities(), io.BytesIO(vec.body), out, armored=armored)
    except CryptoError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def _check_outcome(vec: Vector, err: CryptoError | None) -> None:
    expect = vec.one("expect")
    if expect == "success":
        assert err is None, f"{vec.name}: expected success, got {err!r}"
    elif expect == "no match":
        assert isinstance(err, NoIdentityMatchError), f"{vec.name}: got {err!r}"
    elif expect == "HMAC failure":
        assert isinstance(err, HeaderError), f"{vec.name}: got {err!r}"
        assert "MAC mismatch" in str(err)
    elif expect == "header failure":
        nonce_alias = isinstance(err, PayloadError) and "nonce" in str(err)
        assert isinstance(err, HeaderError) or nonce_alias, f"{vec.name}: got {err!r}"
        assert "MAC mismatch" not in str(err)
    elif expect == "payload failure":
        assert isinstance(err, PayloadError), f"{vec.name}: got {err!r}"
    elif expect == "armor failure":
        assert isinstance(err, ArmorError), f"{vec.name}: got {err!r}"
    else:
        pytest.fail(f"{vec.name}: unknown expect value {expect!r}")


def _binary_file(vec: Vector) -> bytes:
    return armor.dearmor(vec.body) if vec.one("armored") == "yes" else vec.body


def _check_round_trips(vec: Vector, released: bytes) -> None:
    """The package README's round trips: header re-encoding, armor, STREAM re-encryption."""
    expect = vec.one("expect")
    if expect in ("header failure", "armor failure"):
        return
    data = _binary_file(vec)
    stream = io.BytesIO(data)
    header = read_header(stream)
    header_len = stream.tell()
    assert header.encode() == data[:header_len], "header does not re-encode byte for byte"
    if vec.one("armored") == "yes":
        canonical = vec.body.strip(b" \t\r\n").replace(b"\r\n", b"\n") + b"\n"
        assert armor.armor(data) == canonical, "armor does not re-encode canonically"
    if expect == "success" and vec.one("file key"):
        file_key = FileKey(bytes.fromhex(vec.one("file key") or ""))
        payload = data[header_len:]
        again = io.BytesIO()
        _encrypt_payload_from_parts(file_key, payload[:NONCE_SIZE], io.BytesIO(released), again)
        assert again.getvalue() == payload, "STREAM re-encryption differs"


@pytest.mark.parametrize("name", _vector_names())
def test_cctv_vector(name: str, vectors: dict[str, bytes]) -> None:
    if name not in vectors:
        pytest.fail(f"vector {name} not loaded")
    vec = Vector.parse(name, vectors[name])
    released, err = _run(vec)
    _check_outcome(vec, err)
    expected_hash = vec.one("payload")
    if expected_hash is not None:
        assert hashlib.sha256(released).hexdigest() == expected_hash, "released plaintext"
    elif err is not None:
        assert released == b"", "plaintext released before a header/armor failure"
    _check_round_trips(vec, released)


def test_hybrid_vectors_are_present(vectors: dict[str, bytes]) -> None:
    """The 19 mlkem768x25519 vectors of cctv-age 0.2.0 are there, so the CLI test below ran."""
    assert len([n for n in vectors if HYBRID_NAMES.fullmatch(n)]) == 19
    assert len(vectors) >= 143, "suspiciously few vectors"


def _hybrid_vector_names() -> list[str]:
    return [n for n in _vector_names() if HYBRID_NAMES.fullmatch(n)] or ["<no hybrid vectors>"]


@pytest.mark.parametrize("name", _hybrid_vector_names())
def test_cctv_hybrid_vector_through_the_cli(
    name: str, vectors: dict[str, bytes], tmp_path: Path
) -> None:
    """``camvault decrypt -i KEYFILE`` on each hybrid vector: exit status, one-line error of
    the expected class, and the plaintext written to stdout (all of it, or the released
    prefix before a payload failure)."""
    if name not in vectors:
        pytest.fail(f"vector {name} not loaded")
    vec = Vector.parse(name, vectors[name])
    key_file = tmp_path / "key.txt"
    key_file.write_text("".join(f"{i}\n" for i in vec.fields.get("identity", [])))
    proc = subprocess.run(
        [CAMVAULT, "decrypt", "-i", str(key_file)],
        input=vec.body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = proc.stderr.decode("utf-8", "replace")
    expect = vec.one("expect")
    if expect == "success":
        assert proc.returncode == 0 and err == "", f"{name}: {err}"
    else:
        assert proc.returncode == 1, f"{name}: exit {proc.returncode}"
        assert err.startswith("camvault: error: ") and err.count("\n") == 1, err
        no_match = "no identity matched" in err
        mac = "MAC mismatch" in err
        if expect == "no match":
            assert no_match, f"{name}: {err}"
        elif expect == "HMAC failure":
            assert mac, f"{name}: {err}"
        else:
            assert not no_match and not mac, f"{name}: {err}"
    expected_hash = vec.one("payload")
    if expected_hash is not None:
        assert hashlib.sha256(proc.stdout).hexdigest() == expected_hash, "released plaintext"
    else:
        assert proc.stdout == b"", "plaintext released before a header failure"


# --- camvault's own known-answer vectors (tests/vectors/age.json) -----------------------

VECTORS_JSON = REPO_ROOT / "tests" / "vectors" / "age.json"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_age", VECTORS_JSON.with_name("gen_age.py"))
    if spec is None or spec.loader is None:
        raise AssertionError("cannot load tests/vectors/gen_age.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _camvault_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_JSON.read_text())["vectors"]
    return vectors


def test_camvault_vectors_are_reproduced_exactly() -> None:
    assert _load_generator().vectors() == _camvault_vectors()


@pytest.mark.parametrize("vec", _camvault_vectors(), ids=lambda v: str(v["name"]))
def test_camvault_vector_decrypts(vec: dict[str, Any]) -> None:
    file_key = FileKey(bytes.fromhex(vec["file_key"]))
    plaintext = bytes(i % 251 for i in range(vec["plaintext_size"]))
    assert hashlib.sha256(plaintext).hexdigest() == vec["plaintext_sha256"]
    payload = io.BytesIO()
    nonce = bytes.fromhex(vec["payload_nonce"])
    _encrypt_payload_from_parts(file_key, nonce, io.BytesIO(plaintext), payload)
    data = vec["header"].encode("ascii") + payload.getvalue()
    assert hashlib.sha256(data).hexdigest() == vec["file_sha256"]
    assert len(data) == vec["file_size"]
    if "file_hex" in vec:
        assert bytes.fromhex(vec["file_hex"]) == data
        assert armor.dearmor(vec["armored"].encode("ascii")) == data
    identities: list[Identity] = [parse_identity(i) for i in vec.get("identities", [])]
    if "passphrase" in vec:
        identities.append(ScryptIdentity(vec["passphrase"]))
    for identity in identities:
        out = io.BytesIO()
        decrypt([identity], io.BytesIO(data), out)
        assert out.getvalue() == plaintext
