"""The hybrid post-quantum age recipient (mlkem768x25519, age v1.3): round trips through the
``camvault`` command line, the mixing rule, attacks refused for the right reason, and interop
both ways with the reference age 1.3 (Go).

The CCTV known-answer vectors for this type run in test_cctv.py. age 1.3 is looked up in
``$CAMVAULT_AGE13_DIR`` or ``.cache/age13`` (scripts/install-tools.sh builds it there with
``go install filippo.io/age/cmd/...@v1.3.2``); the Debian ``age`` (1.1) predates the type.
A missing age 1.3 fails the interop tests, never skips them.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crypto.age import (
    Header,
    HybridIdentity,
    HybridRecipient,
    Identity,
    Recipient,
    Stanza,
    X25519Identity,
    bech32,
    decrypt,
    encrypt,
    encrypt_header,
    encrypt_payload,
    format_hybrid_identity_file,
    format_identity_file,
    generate_file_key,
    generate_hybrid_identity,
    generate_identity,
    parse_identity,
    parse_identity_file,
    parse_recipient,
    read_header,
    seal_header,
)
from crypto.age.mlkem import ENC_SIZE, STANZA_TYPE
from crypto.encoding import b64decode, b64encode
from crypto.errors import HeaderError, KeyFormatError, NoIdentityMatchError

REPO_ROOT = Path(__file__).resolve().parents[2]
CAMVAULT = str(Path(sys.executable).with_name("camvault"))
CHUNK = 64 * 1024
SIZES = [0, CHUNK - 1, CHUNK, CHUNK + 1]  # CHUNK + 1: a full chunk and a 1-byte last one


def _data(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def _cli(
    args: Sequence[str], data: bytes = b"", ok: bool = True
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        [CAMVAULT, *args], input=data, capture_output=True, timeout=60, check=False
    )
    if ok:
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    else:
        assert proc.returncode == 1, f"expected failure, got exit {proc.returncode}"
        err = proc.stderr.decode(errors="replace")
        assert err.startswith("camvault: error: ") and err.count("\n") == 1, err
    return proc


def _error(proc: subprocess.CompletedProcess[bytes]) -> str:
    return proc.stderr.decode(errors="replace")


def _enc(recipients: Sequence[Recipient], data: bytes, armor: bool = False) -> bytes:
    out = io.BytesIO()
    encrypt(recipients, io.BytesIO(data), out, armor=armor)
    return out.getvalue()


def _dec(identities: Sequence[Identity], data: bytes) -> bytes:
    out = io.BytesIO()
    decrypt(identities, io.BytesIO(data), out)
    return out.getvalue()


@pytest.fixture(scope="module")
def pq_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``camvault keygen --pq -o FILE``: the file, and the recipient it printed on stderr."""
    path = tmp_path_factory.mktemp("pq") / "key.txt"
    proc = _cli(["keygen", "--pq", "-o", str(path)])
    recipient = _error(proc).removeprefix("Public key: ").strip()
    assert recipient.startswith("age1pq1")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    return path, recipient


# --- keys -------------------------------------------------------------------------------


def test_keygen_pq_file_matches_its_recipient(pq_key: tuple[Path, str]) -> None:
    path, recipient = pq_key
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# created: ")
    assert lines[1] == f"# public key: {recipient}"
    assert lines[2].startswith("AGE-SECRET-KEY-PQ-1")
    (identity,) = parse_identity_file(path.read_text())
    assert isinstance(identity, HybridIdentity)
    assert str(identity.recipient()) == recipient
    # age 1.3 sizes: a 32-byte seed, a 1216-byte public key (ML-KEM-768 1184 + X25519 32)
    assert len(bech32.decode(lines[2])[1]) == 32
    assert len(HybridRecipient.parse(recipient).public_key) == 1216
    assert _cli(["keygen", "-y", str(path)]).stdout.decode() == f"{recipient}\n"


def test_secret_key_is_never_in_repr() -> None:
    identity = generate_hybrid_identity()
    assert identity.to_text() not in repr(identity) and identity.to_text() not in str(identity)


# --- round trips through the command line -----------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_cli_round_trip_around_chunk_boundaries(
    pq_key: tuple[Path, str], tmp_path: Path, armor: bool
) -> None:
    path, recipient = pq_key
    for size in SIZES:
        plain = tmp_path / f"p{size}"
        plain.write_bytes(_data(size))
        sealed = tmp_path / f"p{size}.age"
        _cli(
            ["encrypt", *(["-a"] if armor else []), "-r", recipient, "-o", str(sealed), str(plain)]
        )
        body = sealed.read_bytes()
        assert body.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----" if armor else b"age-")
        header = read_header(io.BytesIO(body)) if not armor else None
        if header is not None:
            assert [s.type for s in header.stanzas] == [STANZA_TYPE]
        assert _cli(["decrypt", "-i", str(path), str(sealed)]).stdout == _data(size), size


def test_cli_recipients_file_with_hybrid_keys(pq_key: tuple[Path, str], tmp_path: Path) -> None:
    path, recipient = pq_key
    other = generate_hybrid_identity()
    rfile = tmp_path / "recipients.txt"
    rfile.write_text(f"# two hybrid recipients\n{recipient}\n{other.recipient()}\n")
    sealed = _cli(["encrypt", "-R", str(rfile)], b"hello").stdout
    assert _dec([other], sealed) == b"hello"
    assert _cli(["decrypt", "-i", str(path)], sealed).stdout == b"hello"


# --- mixing with X25519 -----------------------------------------------------------------


def test_cli_refuses_to_mix_hybrid_and_x25519_recipients(
    pq_key: tuple[Path, str], tmp_path: Path
) -> None:
    """age 1.3's rule (labels, "postquantum"): a file also sealed to X25519 would be no
    stronger against a quantum adversary than X25519, so encryption refuses the mix."""
    _, recipient = pq_key
    classic = str(generate_identity().recipient())
    proc = _cli(["encrypt", "-r", classic, "-r", recipient], b"x", ok=False)
    assert "can't mix post-quantum and classic recipients" in _error(proc)
    assert proc.stdout == b""
    rfile = tmp_path / "mixed.txt"
    rfile.write_text(f"{recipient}\n{classic}\n")
    proc = _cli(["encrypt", "-R", str(rfile)], b"x", ok=False)
    assert "can't mix post-quantum and classic recipients" in _error(proc)
    with pytest.raises(HeaderError, match="can't mix"):
        encrypt_header([parse_recipient(classic), parse_recipient(recipient)])


def test_a_header_mixing_both_decrypts_with_either_identity(pq_key: tuple[Path, str]) -> None:
    """Decryption does not apply the mixing rule (age neither): such files exist (CCTV
    hybrid_and_x25519) and each identity finds its own stanza."""
    path, recipient = pq_key
    (hybrid,) = parse_identity_file(path.read_text())
    classic = generate_identity()
    file_key = generate_file_key()
    stanzas = [
        *classic.recipient().wrap(file_key),
        *parse_recipient(recipient).wrap(file_key),
    ]
    payload = io.BytesIO()
    encrypt_payload(file_key, io.BytesIO(_data(CHUNK + 1)), payload)
    data = seal_header(stanzas, file_key) + payload.getvalue()
    assert _dec([classic], data) == _data(CHUNK + 1)
    assert _dec([hybrid], data) == _data(CHUNK + 1)
    assert _cli(["decrypt", "-i", str(path)], data).stdout == _data(CHUNK + 1)


# --- attacks ----------------------------------------------------------------------------


def _hybrid_file(identity: HybridIdentity, data: bytes = b"secret") -> tuple[bytes, int]:
    sealed = _enc([identity.recipient()], data)
    return sealed, len(read_header(io.BytesIO(sealed)).encode())


def _with_stanza(sealed: bytes, header_len: int, change: dict[str, object]) -> bytes:
    """The file with its one stanza changed (the header re-encoded with its old MAC)."""
    header = read_header(io.BytesIO(sealed))
    old = header.stanzas[0]
    fields: dict[str, object] = {"type": old.type, "args": old.args, "body": old.body, **change}
    stanza = Stanza(**fields)  # type: ignore[arg-type]
    return Header((stanza,), header.mac).encode() + sealed[header_len:]


@pytest.mark.parametrize("delta", [-1, 1, -32])
def test_wrong_length_encapsulation_is_a_header_error(delta: int) -> None:
    identity = generate_hybrid_identity()
    sealed, n = _hybrid_file(identity)
    enc = b64decode(read_header(io.BytesIO(sealed)).stanzas[0].args[0])
    assert len(enc) == ENC_SIZE
    bad = enc + bytes(delta) if delta > 0 else enc[:delta]
    forged = _with_stanza(sealed, n, {"args": (b64encode(bad),)})
    with pytest.raises(HeaderError, match=f"enc must be {ENC_SIZE} bytes"):
        _dec([identity], forged)


def test_tampered_body_or_enc_means_no_match() -> None:
    """A flipped bit in the sealed file key or in either half of enc: the AEAD tag fails
    (ML-KEM rejects implicitly), so the stanza is "not for this identity"."""
    identity = generate_hybrid_identity()
    sealed, n = _hybrid_file(identity)
    stanza = read_header(io.BytesIO(sealed)).stanzas[0]
    body = bytearray(stanza.body)
    body[0] ^= 1
    enc = bytearray(b64decode(stanza.args[0]))
    changes: list[dict[str, object]] = [
        {"body": bytes(body)},
        {"args": (b64encode(bytes(enc[:5]) + bytes([enc[5] ^ 1]) + bytes(enc[6:])),)},  # ML-KEM
        {"args": (b64encode(bytes(enc[:-1]) + bytes([enc[-1] ^ 2])),)},  # X25519 share
    ]
    for change in changes:
        with pytest.raises(NoIdentityMatchError):
            _dec([identity], _with_stanza(sealed, n, change))
    assert _dec([identity], sealed) == b"secret"  # the untouched file still opens


def test_longer_body_is_refused_before_decrypting() -> None:
    identity = generate_hybrid_identity()
    sealed, n = _hybrid_file(identity)
    stanza = read_header(io.BytesIO(sealed)).stanzas[0]
    with pytest.raises(HeaderError, match="body must be 32 bytes"):
        _dec([identity], _with_stanza(sealed, n, {"body": stanza.body + b"\0"}))


def test_low_order_x25519_share_is_a_header_error() -> None:
    identity = generate_hybrid_identity()
    sealed, n = _hybrid_file(identity)
    enc = b64decode(read_header(io.BytesIO(sealed)).stanzas[0].args[0])
    forged = _with_stanza(sealed, n, {"args": (b64encode(enc[:-32] + bytes(32)),)})
    with pytest.raises(HeaderError, match="all zeros"):
        _dec([identity], forged)


def test_wrong_identity_gets_the_usual_no_match(pq_key: tuple[Path, str], tmp_path: Path) -> None:
    _, recipient = pq_key
    sealed = _cli(["encrypt", "-r", recipient], b"for the right key").stdout
    other = tmp_path / "other.txt"
    other.write_text(format_hybrid_identity_file(generate_hybrid_identity(), datetime.now(UTC)))
    classic = tmp_path / "classic.txt"
    classic.write_text(format_identity_file(generate_identity(), datetime.now(UTC)))
    for key_file in (other, classic):  # another hybrid key; an X25519 key (wrong type)
        proc = _cli(["decrypt", "-i", str(key_file)], sealed, ok=False)
        assert "no identity matched any of the recipients" in _error(proc)
        assert proc.stdout == b""
    with pytest.raises(NoIdentityMatchError):
        _dec([X25519Identity.generate()], sealed)


def test_truncated_or_mistyped_recipient_is_refused(pq_key: tuple[Path, str]) -> None:
    _, recipient = pq_key
    for bad, reason in (
        (recipient[:-1], "invalid checksum"),
        (recipient[:600], "invalid checksum"),
        (recipient[:-1] + ("q" if recipient[-1] != "q" else "p"), "invalid checksum"),
        (bech32.encode("age1pq", bytes(1215)), "must be 1216 bytes"),
        (bech32.encode("age1pq", b"\xff" * 1216), "invalid MLKEM768-X25519 public key"),
    ):
        proc = _cli(["encrypt", "-r", bad], b"x", ok=False)
        assert reason in _error(proc), _error(proc)
        with pytest.raises(KeyFormatError, match=reason):
            parse_recipient(bad)


def test_identity_of_the_wrong_type_or_shape_is_refused(
    pq_key: tuple[Path, str], tmp_path: Path
) -> None:
    path, recipient = pq_key
    secret = path.read_text().splitlines()[2]
    cases = (
        (recipient, "identity file line 1"),  # a public key where a secret key belongs
        (secret[:-1], "invalid checksum"),
        (secret.lower(), "not an age hybrid secret key"),  # age writes identities uppercase
        (bech32.encode("AGE-SECRET-KEY-PQ-", bytes(64)), "must encode 32 bytes"),
    )
    for text, reason in cases:
        key_file = tmp_path / "bad.txt"
        key_file.write_text(f"{text}\n")
        proc = _cli(["decrypt", "-i", str(key_file)], b"age-encryption.org/v1\n", ok=False)
        assert reason in _error(proc), _error(proc)
        assert secret not in _error(proc)  # never echo a secret key
    with pytest.raises(KeyFormatError, match="want 'AGE-SECRET-KEY-PQ-1"):
        HybridIdentity.parse(X25519Identity.generate().to_text())
    assert isinstance(parse_identity(secret), HybridIdentity)


# --- interop with age 1.3 (Go) ----------------------------------------------------------


@pytest.fixture(scope="module")
def age13() -> Path:
    root = Path(os.environ.get("CAMVAULT_AGE13_DIR", REPO_ROOT / ".cache" / "age13"))
    for name in ("age", "age-keygen"):
        if not (root / name).is_file():
            pytest.fail(
                f"age 1.3 not found at {root / name}: run scripts/install-tools.sh age13 "
                "(go install filippo.io/age/cmd/...@v1.3.2) or set CAMVAULT_AGE13_DIR"
            )
    version = subprocess.run([root / "age", "--version"], capture_output=True, check=True)
    assert version.stdout.startswith(b"v1.3."), version.stdout
    return root


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_age13_decrypts_camvault_hybrid_files(
    age13: Path, pq_key: tuple[Path, str], tmp_path: Path, armor: bool
) -> None:
    path, recipient = pq_key
    for size in SIZES:
        sealed = _enc([parse_recipient(recipient)], _data(size), armor=armor)
        proc = subprocess.run(
            [age13 / "age", "-d", "-i", path], input=sealed, capture_output=True, check=False
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == _data(size), size


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_camvault_decrypts_age13_hybrid_files(age13: Path, tmp_path: Path, armor: bool) -> None:
    key = tmp_path / "age13-key.txt"
    subprocess.run([age13 / "age-keygen", "-pq", "-o", key], capture_output=True, check=True)
    recipient = (
        subprocess.run([age13 / "age-keygen", "-y", key], capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )
    assert _cli(["keygen", "-y", str(key)]).stdout.decode().strip() == recipient
    identities = parse_identity_file(key.read_text())
    for size in SIZES:
        proc = subprocess.run(
            [age13 / "age", *(["-a"] if armor else []), "-r", recipient],
            input=_data(size),
            capture_output=True,
            check=True,
        )
        assert _dec(identities, proc.stdout) == _data(size), size
    assert _cli(["decrypt", "-i", str(key)], proc.stdout).stdout == _data(SIZES[-1])


def test_age13_refuses_the_mix_camvault_refuses(age13: Path, pq_key: tuple[Path, str]) -> None:
    _, recipient = pq_key
    classic = str(generate_identity().recipient())
    proc = subprocess.run(
        [age13 / "age", "-r", classic, "-r", recipient], input=b"x", capture_output=True
    )
    assert proc.returncode != 0
    assert b"can't mix post-quantum and classic recipients" in proc.stderr
