"""`camvault keygen / encrypt / decrypt` through the installed console script, against real age.

Every command runs as a separate process (``.venv/bin/camvault``), the way a user runs it.
Passphrase prompts and terminal checks run under a pseudo-terminal (pexpect), which becomes
the controlling terminal of the spawned process, so ``/dev/tty`` is the pty.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

CAMVAULT = Path(sys.executable).parent / "camvault"
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def cv() -> str:
    if not CAMVAULT.is_file():
        pytest.fail(f"console script {CAMVAULT} missing: run `make venv`", pytrace=False)
    return str(CAMVAULT)


@pytest.fixture(scope="module")
def age_bin(age_cli: tuple[str, str]) -> str:
    return age_cli[0]


@pytest.fixture(scope="module")
def keygen_bin(age_cli: tuple[str, str]) -> str:
    return age_cli[1]


def run(*args: str, stdin: bytes = b"", check: bool = True) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(args, input=stdin, capture_output=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}): {proc.stderr.decode()}")
    return proc


def refused(proc: subprocess.CompletedProcess[bytes], fragment: str) -> str:
    """Assert a clean refusal: exit status 1, one 'camvault: error:' line, no traceback."""
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert err.startswith("camvault: error: "), err
    assert fragment in err, err
    assert "Traceback" not in err, err
    return err


@pytest.fixture
def identity(cv: str, tmp_path: Path) -> tuple[Path, str]:
    """A camvault-generated identity file and its recipient."""
    path = tmp_path / "key.txt"
    proc = run(cv, "keygen", "-o", str(path))
    recipient = run(cv, "keygen", "-y", str(path)).stdout.decode().strip()
    assert proc.stderr.decode() == f"Public key: {recipient}\n"
    return path, recipient


@pytest.fixture
def plaintext(tmp_path: Path) -> Path:
    path = tmp_path / "plain.bin"
    path.write_bytes(os.urandom(3 * 65536 + 1234))
    return path


def spawn(*args: str, cwd: Path) -> pexpect.spawn[bytes]:
    return pexpect.spawn(args[0], list(args[1:]), cwd=str(cwd), timeout=60)


def finish(child: pexpect.spawn[bytes]) -> tuple[int, str]:
    out = child.read().decode(errors="replace")
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1), out


# --- keygen -----------------------------------------------------------------------------


def test_keygen_file_mode_format_and_age_reads_it(
    cv: str, age_bin: str, keygen_bin: str, identity: tuple[Path, str], tmp_path: Path
) -> None:
    path, recipient = identity
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# created: 20") and lines[0][-1] in "Z0123456789"
    assert lines[1] == f"# public key: {recipient}"
    assert lines[2].startswith("AGE-SECRET-KEY-1") and len(lines) == 3
    # age-keygen derives the same recipient, and age decrypts to it with this identity.
    assert run(keygen_bin, "-y", str(path)).stdout.decode().strip() == recipient
    ciphertext = run(cv, "encrypt", "-r", recipient, stdin=b"to real age").stdout
    assert run(age_bin, "-d", "-i", str(path), stdin=ciphertext).stdout == b"to real age"


def test_keygen_refuses_to_overwrite(cv: str, tmp_path: Path) -> None:
    path = tmp_path / "key.txt"
    path.write_text("precious\n")
    refused(run(cv, "keygen", "-o", str(path), check=False), "already exists")
    assert path.read_text() == "precious\n"


def test_keygen_to_stdout_and_y_from_stdin(cv: str, keygen_bin: str) -> None:
    proc = run(cv, "keygen")
    text = proc.stdout
    assert text.count(b"AGE-SECRET-KEY-1") == 1
    # Output is not a terminal: the public key also goes to stderr, as age-keygen does.
    recipient = proc.stderr.decode().removeprefix("Public key: ").strip()
    assert run(cv, "keygen", "-y", stdin=text).stdout.decode() == recipient + "\n"
    assert run(keygen_bin, "-y", stdin=text).stdout.decode() == recipient + "\n"


def test_keygen_y_refuses_garbage(cv: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("# comment\nAGE-SECRET-KEY-1NOTAKEY\n")
    err = refused(run(cv, "keygen", "-y", str(bad), check=False), "line 2")
    assert "NOTAKEY" not in err  # a malformed line may be a secret: never echoed
    refused(run(cv, "keygen", "-y", str(tmp_path / "missing"), check=False), "failed to open")


# --- round trips ------------------------------------------------------------------------


def test_roundtrip_files_r_and_o(
    cv: str, identity: tuple[Path, str], plaintext: Path, tmp_path: Path
) -> None:
    key, recipient = identity
    enc, dec = tmp_path / "p.age", tmp_path / "p.out"
    run(cv, "encrypt", "-r", recipient, "-o", str(enc), str(plaintext))
    assert enc.read_bytes().startswith(b"age-encryption.org/v1\n-> X25519 ")
    run(cv, "decrypt", "-i", str(key), "-o", str(dec), str(enc))
    assert dec.read_bytes() == plaintext.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_roundtrip_stdin_stdout_dash_and_armor(
    cv: str, identity: tuple[Path, str], plaintext: Path
) -> None:
    key, recipient = identity
    data = plaintext.read_bytes()
    armored = run(cv, "encrypt", "-a", "-r", recipient, "-", stdin=data).stdout
    assert armored.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert armored.endswith(b"-----END AGE ENCRYPTED FILE-----\n")
    assert run(cv, "decrypt", "-i", str(key), "-", stdin=armored).stdout == data
    binary = run(cv, "encrypt", "-r", recipient, stdin=data).stdout
    assert run(cv, "decrypt", "-i", str(key), stdin=binary).stdout == data


def test_roundtrip_recipients_file_and_several_identities(
    cv: str, identity: tuple[Path, str], tmp_path: Path
) -> None:
    key, recipient = identity
    other = tmp_path / "other.txt"
    run(cv, "keygen", "-o", str(other))
    other_recipient = run(cv, "keygen", "-y", str(other)).stdout.decode().strip()
    rfile = tmp_path / "recipients.txt"
    rfile.write_text(f"# the family\n\n{recipient}\n# phone\n{other_recipient}\n")
    ciphertext = run(cv, "encrypt", "-R", str(rfile), stdin=b"both").stdout
    assert ciphertext.count(b"-> X25519 ") == 2
    for ident in (key, other):
        assert run(cv, "decrypt", "-i", str(ident), stdin=ciphertext).stdout == b"both"
    # An identity that does not match, then one that does: the second is used.
    stranger = tmp_path / "stranger.txt"
    run(cv, "keygen", "-o", str(stranger))
    out = run(cv, "decrypt", "-i", str(stranger), "-i", str(other), stdin=ciphertext).stdout
    assert out == b"both"


def test_empty_input_roundtrip(cv: str, identity: tuple[Path, str]) -> None:
    key, recipient = identity
    ciphertext = run(cv, "encrypt", "-r", recipient).stdout
    assert run(cv, "decrypt", "-i", str(key), stdin=ciphertext).stdout == b""


# --- interoperability with age ----------------------------------------------------------


def test_age_encrypts_camvault_decrypts(
    cv: str, age_bin: str, keygen_bin: str, plaintext: Path, tmp_path: Path
) -> None:
    key = tmp_path / "agekey.txt"
    run(keygen_bin, "-o", str(key))
    recipient = run(keygen_bin, "-y", str(key)).stdout.decode().strip()
    data = plaintext.read_bytes()
    for flags in ([], ["-a"]):
        ciphertext = run(age_bin, *flags, "-r", recipient, stdin=data).stdout
        assert run(cv, "decrypt", "-i", str(key), stdin=ciphertext).stdout == data


def test_camvault_armor_decrypts_with_age(
    cv: str, age_bin: str, identity: tuple[Path, str], plaintext: Path
) -> None:
    key, recipient = identity
    data = plaintext.read_bytes()
    armored = run(cv, "encrypt", "-a", "-r", recipient, stdin=data).stdout
    assert run(age_bin, "-d", "-i", str(key), stdin=armored).stdout == data


# --- passphrases through a pseudo-terminal ----------------------------------------------


def _enter(child: pexpect.spawn[bytes], prompt: str, answer: str) -> None:
    child.expect_exact(prompt)
    child.sendline(answer)


def test_passphrase_camvault_to_age(cv: str, age_bin: str, plaintext: Path, tmp_path: Path) -> None:
    enc, dec = tmp_path / "p.age", tmp_path / "p.out"
    child = spawn(cv, "encrypt", "-p", "-o", str(enc), str(plaintext), cwd=tmp_path)
    _enter(child, "Enter passphrase: ", PASSPHRASE)
    _enter(child, "Confirm passphrase: ", PASSPHRASE)
    status, out = finish(child)
    assert status == 0, out
    assert PASSPHRASE not in out  # echo was off
    assert enc.read_bytes().startswith(b"age-encryption.org/v1\n-> scrypt ")
    child = spawn(age_bin, "-d", "-o", str(dec), str(enc), cwd=tmp_path)
    _enter(child, "passphrase", PASSPHRASE)
    status, out = finish(child)
    assert status == 0, out
    assert dec.read_bytes() == plaintext.read_bytes()


def test_passphrase_age_to_camvault_and_wrong_passphrase(
    cv: str, age_bin: str, plaintext: Path, tmp_path: Path
) -> None:
    enc, dec = tmp_path / "p.age", tmp_path / "p.out"
    child = spawn(age_bin, "-p", "-o", str(enc), str(plaintext), cwd=tmp_path)
    _enter(child, "Enter passphrase", PASSPHRASE)
    _enter(child, "Confirm passphrase", PASSPHRASE)
    status, out = finish(child)
    assert status == 0, out
    # No -i and an scrypt file: camvault prompts, like age.
    child = spawn(cv, "decrypt", "-o", str(dec), str(enc), cwd=tmp_path)
    _enter(child, "Enter passphrase: ", "not the passphrase")
    status, out = finish(child)
    assert status == 1 and "camvault: error: incorrect passphrase" in out, out
    assert not dec.exists()
    child = spawn(cv, "decrypt", "-o", str(dec), str(enc), cwd=tmp_path)
    _enter(child, "Enter passphrase: ", PASSPHRASE)
    status, out = finish(child)
    assert status == 0, out
    assert dec.read_bytes() == plaintext.read_bytes()


def test_passphrase_confirmation_mismatch(cv: str, plaintext: Path, tmp_path: Path) -> None:
    enc = tmp_path / "p.age"
    child = spawn(cv, "encrypt", "-p", "-o", str(enc), str(plaintext), cwd=tmp_path)
    _enter(child, "Enter passphrase: ", PASSPHRASE)
    _enter(child, "Confirm passphrase: ", PASSPHRASE + "!")
    status, out = finish(child)
    assert status == 1 and "camvault: error: passphrases didn't match" in out, out
    assert not enc.exists()


def test_passphrase_without_terminal_refused(cv: str, plaintext: Path) -> None:
    # A new session has no controlling terminal: no /dev/tty, and stdin is never read instead.
    proc = subprocess.run(
        [cv, "encrypt", "-p", str(plaintext)],
        input=PASSPHRASE.encode() + b"\n",
        capture_output=True,
        start_new_session=True,
        timeout=60,
    )
    refused(proc, "cannot prompt for a passphrase: no terminal")
    assert proc.stdout == b""


def test_identity_given_for_passphrase_file_refused(
    cv: str, identity: tuple[Path, str], plaintext: Path, tmp_path: Path
) -> None:
    enc = tmp_path / "p.age"
    child = spawn(cv, "encrypt", "-p", "-o", str(enc), str(plaintext), cwd=tmp_path)
    _enter(child, "Enter passphrase: ", PASSPHRASE)
    _enter(child, "Confirm passphrase: ", PASSPHRASE)
    assert finish(child)[0] == 0
    key, _ = identity
    refused(run(cv, "decrypt", "-i", str(key), str(enc), check=False), "passphrase-encrypted")


# --- refusals ---------------------------------------------------------------------------


def test_refuse_passphrase_with_recipient(cv: str, identity: tuple[Path, str]) -> None:
    _, recipient = identity
    proc = run(cv, "encrypt", "-p", "-r", recipient, stdin=b"x", check=False)
    refused(proc, "-p/--passphrase can't be combined with -r/--recipient")
    assert proc.stdout == b""


def test_refuse_no_recipients(cv: str) -> None:
    proc = run(cv, "encrypt", stdin=b"x", check=False)
    refused(proc, "missing recipients")
    assert proc.stdout == b""


@pytest.mark.parametrize(
    "bad",
    [
        "age1notarecipient",
        "AGE-SECRET-KEY-1QQQQ",
        "ssh-ed25519",
        "",
    ],
)
def test_refuse_bad_recipient(cv: str, bad: str) -> None:
    proc = run(cv, "encrypt", "-r", bad, stdin=b"x", check=False)
    refused(proc, "invalid recipient")
    assert proc.stdout == b""


def test_refuse_bad_recipient_checksum(cv: str, identity: tuple[Path, str]) -> None:
    _, recipient = identity
    flipped = recipient[:-1] + ("q" if recipient[-1] != "q" else "p")
    refused(run(cv, "encrypt", "-r", flipped, stdin=b"x", check=False), "invalid recipient")


def test_refuse_bad_recipients_file(cv: str, tmp_path: Path) -> None:
    rfile = tmp_path / "r.txt"
    rfile.write_text("# nobody\n")
    refused(run(cv, "encrypt", "-R", str(rfile), check=False), "contains no recipient")
    rfile.write_text("age1qqqq\n")
    refused(run(cv, "encrypt", "-R", str(rfile), check=False), "line 1")
    refused(run(cv, "encrypt", "-R", str(tmp_path / "none"), check=False), "failed to open")


def test_refuse_wrong_identity(
    cv: str, identity: tuple[Path, str], tmp_path: Path, plaintext: Path
) -> None:
    _, recipient = identity
    stranger = tmp_path / "stranger.txt"
    run(cv, "keygen", "-o", str(stranger))
    enc, out = tmp_path / "p.age", tmp_path / "p.out"
    run(cv, "encrypt", "-r", recipient, "-o", str(enc), str(plaintext))
    proc = run(cv, "decrypt", "-i", str(stranger), "-o", str(out), str(enc), check=False)
    refused(proc, "no identity matched any of the recipients")
    assert not out.exists()


def test_refuse_missing_identity_file_and_input(
    cv: str, identity: tuple[Path, str], tmp_path: Path
) -> None:
    key, _ = identity
    proc = run(cv, "decrypt", "-i", str(tmp_path / "nokey"), stdin=b"x", check=False)
    refused(proc, "failed to open identity file")
    proc = run(cv, "decrypt", "-i", str(key), str(tmp_path / "nofile"), check=False)
    refused(proc, "failed to open input file")


def test_refuse_decrypt_without_identity_for_x25519_file(
    cv: str, identity: tuple[Path, str]
) -> None:
    _, recipient = identity
    ciphertext = run(cv, "encrypt", "-r", recipient, stdin=b"x").stdout
    refused(run(cv, "decrypt", stdin=ciphertext, check=False), "specify -i/--identity")


def test_refuse_encrypted_identity_file(cv: str, tmp_path: Path) -> None:
    enc_key = tmp_path / "key.age"
    enc_key.write_bytes(b"age-encryption.org/v1\n-> scrypt x 18\n")
    refused(run(cv, "decrypt", "-i", str(enc_key), stdin=b"", check=False), "encrypted")


def test_truncated_input_removes_partial_output_and_keeps_old_file(
    cv: str, identity: tuple[Path, str], plaintext: Path, tmp_path: Path
) -> None:
    key, recipient = identity
    enc, out = tmp_path / "p.age", tmp_path / "p.out"
    run(cv, "encrypt", "-r", recipient, "-o", str(enc), str(plaintext))
    data = enc.read_bytes()
    enc.write_bytes(data[:-1000])  # drops the end of the final chunk
    proc = run(cv, "decrypt", "-i", str(key), "-o", str(out), str(enc), check=False)
    refused(proc, "payload")
    assert not out.exists()
    # Truncated exactly at a chunk boundary (header + nonce + two full chunks).
    header_len = data.index(b"\n---") + len(b"\n--- ") + 43 + 1
    enc.write_bytes(data[: header_len + 16 + 2 * (65536 + 16)])
    out.write_bytes(b"previous content")
    proc = run(cv, "decrypt", "-i", str(key), "-o", str(out), str(enc), check=False)
    refused(proc, "truncated")
    assert out.read_bytes() == b"previous content"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_corrupted_payload_and_header(cv: str, identity: tuple[Path, str], plaintext: Path) -> None:
    key, recipient = identity
    data = bytearray(run(cv, "encrypt", "-r", recipient, str(plaintext)).stdout)
    flipped = bytearray(data)
    flipped[-5] ^= 0x01
    proc = run(cv, "decrypt", "-i", str(key), stdin=bytes(flipped), check=False)
    refused(proc, "failed authentication")
    mac_line = data.index(b"\n--- ") + 6
    bad_mac = bytearray(data)
    bad_mac[mac_line] = ord("A") if bad_mac[mac_line] != ord("A") else ord("B")
    proc = run(cv, "decrypt", "-i", str(key), stdin=bytes(bad_mac), check=False)
    refused(proc, "header MAC")
    refused(run(cv, "decrypt", "-i", str(key), stdin=b"not age\n", check=False), "header")
    armored = run(cv, "encrypt", "-a", "-r", recipient, stdin=b"x").stdout
    broken = armored.replace(b"-----END", b"-----NED")
    refused(run(cv, "decrypt", "-i", str(key), stdin=broken, check=False), "armor")


def test_refuse_binary_to_terminal_but_allow_armor(
    cv: str, identity: tuple[Path, str], plaintext: Path, tmp_path: Path
) -> None:
    _, recipient = identity
    child = spawn(cv, "encrypt", "-r", recipient, str(plaintext), cwd=tmp_path)
    status, out = finish(child)
    assert status == 1, out
    assert "camvault: error: refusing to output binary to the terminal" in out
    assert "age-encryption.org" not in out
    child = spawn(cv, "encrypt", "-a", "-r", recipient, str(plaintext), cwd=tmp_path)
    status, out = finish(child)
    assert status == 0 and "-----BEGIN AGE ENCRYPTED FILE-----" in out, out


# --- progress bar -----------------------------------------------------------------------


def test_progress_bar_only_on_a_terminal(
    cv: str, identity: tuple[Path, str], tmp_path: Path
) -> None:
    _, recipient = identity
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(40 * 1024 * 1024)
    enc = tmp_path / "big.age"
    # Not a terminal: stderr stays empty.
    proc = run(cv, "encrypt", "-r", recipient, "-o", str(enc), str(big))
    assert proc.stderr == b""
    enc.unlink()
    # A terminal: rich draws a bar (it hides the cursor with an escape sequence).
    child = spawn(cv, "encrypt", "-r", recipient, "-o", str(enc), str(big), cwd=tmp_path)
    status, out = finish(child)
    assert status == 0, out
    assert "\x1b[?25l" in out, repr(out)
    assert enc.stat().st_size > 40 * 1024 * 1024
