"""Interoperability with the reference ``age`` CLI (Go, Debian package) and pyrage (rage).

Both directions: files camvault writes decrypt with ``age -d -i`` and pyrage, and files they
write decrypt with camvault. A missing ``age`` binary fails the suite: DESIGN.md invariant 5
(exported recordings decrypt with the standard tool) cannot be checked without it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyrage
import pytest

from crypto.age import (
    FileKey,
    Identity,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    Stanza,
    X25519Identity,
    decrypt,
    decrypt_header,
    encrypt,
    encrypt_header,
    encrypt_payload,
    export,
    format_identity_file,
    generate_identity,
    parse_identity_file,
    parse_recipients_file,
)
from crypto.errors import HeaderError

SIZES = [0, 1, 65536, 65537, 5 * 1024 * 1024 + 123]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` not found on PATH: install the Debian package `age` (interop tests)")
    return path


@pytest.fixture(scope="module")
def age_bin() -> str:
    return _tool("age")


@pytest.fixture(scope="module")
def keygen_bin() -> str:
    return _tool("age-keygen")


def _run(argv: Sequence[str], data: bytes) -> bytes:
    proc = subprocess.run(list(argv), input=data, capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{argv[0]} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def _identity_file(tmp_path: Path, identity: X25519Identity) -> Path:
    path = tmp_path / "key.txt"
    path.write_text(format_identity_file(identity, datetime.now(UTC)))
    return path


def _encrypt(recipients: Sequence[Recipient], data: bytes, armor: bool = False) -> bytes:
    out = io.BytesIO()
    encrypt(recipients, io.BytesIO(data), out, armor=armor)
    return out.getvalue()


def _decrypt(identities: Sequence[Identity], data: bytes) -> bytes:
    out = io.BytesIO()
    decrypt(identities, io.BytesIO(data), out)
    return out.getvalue()


class CustomRecipient:
    """Adds stanzas of types age does not know, as camvault's escrow stanzas will be."""

    def wrap(self, file_key: FileKey) -> list[Stanza]:
        return [
            Stanza("camvault.test/custom", ("1", "abc=="), os.urandom(70)),
            Stanza("grease-!#", (), b""),
            Stanza("camvault.test/exact", (), os.urandom(48)),  # full line + empty line
        ]


# --- camvault writes, age / pyrage read -------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("armor", [False, True])
@pytest.mark.parametrize("custom", [False, True])
def test_age_cli_decrypts_camvault_files(
    age_bin: str, tmp_path: Path, size: int, armor: bool, custom: bool
) -> None:
    identity = generate_identity()
    recipients: list[Recipient] = [identity.recipient()]
    if custom:
        recipients = [CustomRecipient(), identity.recipient(), CustomRecipient()]
    plaintext = os.urandom(size)
    ciphertext = _encrypt(recipients, plaintext, armor=armor)
    key_file = _identity_file(tmp_path, identity)
    assert _run([age_bin, "-d", "-i", str(key_file)], ciphertext) == plaintext


def test_age_cli_decrypts_for_each_of_several_recipients(age_bin: str, tmp_path: Path) -> None:
    ids = [generate_identity() for _ in range(3)]
    plaintext = os.urandom(1000)
    ciphertext = _encrypt([i.recipient() for i in ids], plaintext)
    for n, identity in enumerate(ids):
        key = tmp_path / f"k{n}"
        key.write_text(format_identity_file(identity, datetime.now(UTC)))
        assert _run([age_bin, "-d", "-i", str(key)], ciphertext) == plaintext


def test_age_cli_refuses_a_tampered_camvault_file(age_bin: str, tmp_path: Path) -> None:
    identity = generate_identity()
    ciphertext = bytearray(_encrypt([identity.recipient()], b"secret"))
    ciphertext[-1] ^= 1
    key_file = _identity_file(tmp_path, identity)
    proc = subprocess.run(
        [age_bin, "-d", "-i", str(key_file)], input=bytes(ciphertext), capture_output=True
    )
    assert proc.returncode != 0 and proc.stdout == b""


def test_exported_recording_decrypts_with_age(age_bin: str, tmp_path: Path) -> None:
    """Header (database) and payload (object store) written apart, joined by export()."""
    identity = generate_identity()
    header, file_key = encrypt_header([CustomRecipient(), identity.recipient()])
    plaintext = os.urandom(70_000)
    payload = io.BytesIO()
    encrypt_payload(file_key, io.BytesIO(plaintext), payload)
    key_file = _identity_file(tmp_path, identity)
    for armor in (False, True):
        out = io.BytesIO()
        export(header, io.BytesIO(payload.getvalue()), out, armor=armor)
        assert _run([age_bin, "-d", "-i", str(key_file)], out.getvalue()) == plaintext
        assert _decrypt([identity], out.getvalue()) == plaintext
    with pytest.raises(HeaderError, match="parsing age header"):
        export(header[:-2], io.BytesIO(payload.getvalue()), io.BytesIO())


def test_rewrapped_header_for_a_new_device(age_bin: str, tmp_path: Path) -> None:
    old, new = generate_identity(), generate_identity()
    header, file_key = encrypt_header([old.recipient()])
    payload = io.BytesIO()
    encrypt_payload(file_key, io.BytesIO(b"clip"), payload)
    _, recovered = decrypt_header([old], header)
    rewrapped, same_key = encrypt_header([old.recipient(), new.recipient()], recovered)
    assert same_key == file_key
    out = io.BytesIO()
    export(rewrapped, io.BytesIO(payload.getvalue()), out)
    key_file = _identity_file(tmp_path, new)
    assert _run([age_bin, "-d", "-i", str(key_file)], out.getvalue()) == b"clip"


@pytest.mark.parametrize("size", [0, 65537])
def test_pyrage_decrypts_camvault_files(size: int) -> None:
    identity = generate_identity()
    plaintext = os.urandom(size)
    for armor in (False, True):
        ciphertext = _encrypt([CustomRecipient(), identity.recipient()], plaintext, armor=armor)
        theirs = pyrage.x25519.Identity.from_str(identity.to_text())
        assert pyrage.decrypt(ciphertext, [theirs]) == plaintext


def test_pyrage_decrypts_camvault_passphrase_files() -> None:
    plaintext = os.urandom(1000)
    ciphertext = _encrypt([ScryptRecipient("correct horse", work_factor=10)], plaintext)
    assert pyrage.passphrase.decrypt(ciphertext, "correct horse") == plaintext


# --- age / pyrage write, camvault reads -------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("armor", [False, True])
def test_camvault_decrypts_age_cli_files(age_bin: str, size: int, armor: bool) -> None:
    identity = generate_identity()
    plaintext = os.urandom(size)
    argv = [age_bin, "-e", "-r", str(identity.recipient())] + (["-a"] if armor else [])
    ciphertext = _run(argv, plaintext)
    assert ciphertext.startswith(b"-----BEGIN" if armor else b"age-encryption.org/v1\n")
    assert _decrypt([identity], ciphertext) == plaintext


def test_camvault_decrypts_age_cli_multi_recipient_files(age_bin: str) -> None:
    a, b = generate_identity(), generate_identity()
    argv = [age_bin, "-e", "-r", str(a.recipient()), "-r", str(b.recipient())]
    ciphertext = _run(argv, b"two")
    assert _decrypt([b], ciphertext) == b"two"
    assert _decrypt([generate_identity(), a], ciphertext) == b"two"


def test_camvault_reads_age_keygen_identity_files(age_bin: str, keygen_bin: str) -> None:
    key_text = _run([keygen_bin], b"").decode()
    assert key_text.startswith("# created: ")
    [identity] = parse_identity_file(key_text)
    public = next(line for line in key_text.splitlines() if line.startswith("# public key: "))
    assert isinstance(identity, X25519Identity)
    assert f"# public key: {identity.recipient()}" == public
    [recipient] = parse_recipients_file(public.removeprefix("# public key: ") + "\n")
    ciphertext = _run([age_bin, "-e", "-r", str(recipient)], b"from keygen")
    assert _decrypt([identity], ciphertext) == b"from keygen"


def test_keygen_style_output_is_readable_by_age_keygen_y(keygen_bin: str, tmp_path: Path) -> None:
    identity = generate_identity()
    key_file = _identity_file(tmp_path, identity)
    assert _run([keygen_bin, "-y", str(key_file)], b"").decode().strip() == str(
        identity.recipient()
    )


@pytest.mark.parametrize("size", [0, 65536])
def test_camvault_decrypts_pyrage_files(size: int) -> None:
    theirs = pyrage.x25519.Identity.generate()
    plaintext = os.urandom(size)
    ciphertext = pyrage.encrypt(plaintext, [theirs.to_public()])
    mine = X25519Identity.parse(str(theirs))
    assert str(mine.recipient()) == str(theirs.to_public())
    assert _decrypt([mine], ciphertext) == plaintext


def test_camvault_decrypts_pyrage_passphrase_files() -> None:
    ciphertext = pyrage.passphrase.encrypt(b"scrypt interop", "pw from rage")
    assert ciphertext.split(b"\n")[1].startswith(b"-> scrypt ")
    assert _decrypt([ScryptIdentity("pw from rage")], ciphertext) == b"scrypt interop"


# --- camvault's known-answer vectors, checked by the reference tools --------------------

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "age.json").read_text())[
    "vectors"
]


@pytest.mark.parametrize("vec", [v for v in VECTORS if "file_hex" in v], ids=lambda v: v["name"])
def test_reference_tools_decrypt_camvault_vectors(
    age_bin: str, tmp_path: Path, vec: dict[str, Any]
) -> None:
    data = bytes.fromhex(vec["file_hex"])
    expected = bytes(i % 251 for i in range(vec["plaintext_size"]))
    if "passphrase" in vec:
        assert pyrage.passphrase.decrypt(data, vec["passphrase"]) == expected
        return
    for n, secret in enumerate(vec["identities"]):
        key = tmp_path / f"id{n}"
        key.write_text(secret + "\n")
        assert _run([age_bin, "-d", "-i", str(key)], data) == expected
        assert _run([age_bin, "-d", "-i", str(key)], vec["armored"].encode()) == expected
