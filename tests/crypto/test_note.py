"""Tests of crypto.tlog.note: C2SP signed notes (Ed25519) and tlog checkpoints.

Known answers come from Go's golang.org/x/mod/sumdb/note (package documentation example and
tests/vectors/go_note_vectors/vectors.json, produced by the Go program next to it), the C2SP
tlog-checkpoint spec example, and tests/vectors/tlog.json.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import KeyFormatError, LogProofError
from crypto.tlog.merkle import EMPTY_ROOT
from crypto.tlog.note import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    InvalidNoteSignatureError,
    NoteError,
    NoteSigner,
    NoteVerifier,
    UnverifiedNoteError,
    check_key_name,
    key_id,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
GO = json.loads((VECTORS / "go_note_vectors" / "vectors.json").read_text(encoding="utf-8"))
ORIGIN = "camvault.io/custodian/test-1"
DASH = "\u2014"


def seed_for(name: str) -> bytes:
    return hashlib.sha256(b"camvault/test/note-seed\n" + name.encode()).digest()


LOG = NoteSigner(ORIGIN, seed_for(ORIGIN))
WITNESS = NoteSigner("witness.example/w1", seed_for("witness.example/w1"))
OTHER = NoteSigner("other.example/log", seed_for("other.example/log"))
TEXT = "camvault.io/custodian/test-1\n3\n" + base64.b64encode(b"\x07" * 32).decode() + "\n"


# --- known answers ----------------------------------------------------------------------

# golang.org/x/mod/sumdb/note package documentation ("Signed Note Format" example).
PN_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PN_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PN_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PN_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)


def test_go_documentation_example() -> None:
    signer = NoteSigner.from_text(PN_SKEY)
    verifier = NoteVerifier.from_text(PN_VKEY)
    assert signer.verifier == verifier
    assert signer.to_text() == PN_SKEY
    assert verifier.to_text() == PN_VKEY
    assert verifier.key_id == 0xC74F20A3
    signed = sign_note(PN_TEXT, [signer])
    assert signed == f"{PN_TEXT}\n{DASH} PeterNeumann {PN_SIG}\n".encode()
    note = open_note(signed, [verifier])
    assert note.text == PN_TEXT
    assert [(s.name, s.key_id) for s in note.signatures] == [("PeterNeumann", 0xC74F20A3)]
    assert note.unverified == ()


def test_go_keys() -> None:
    for k in GO["keys"]:
        signer = NoteSigner(k["name"], bytes.fromhex(k["seed_hex"]))
        assert signer.to_text() == k["signer_key"]
        assert signer.verifier.to_text() == k["verifier_key"]
        assert f"{signer.key_id:08x}" == k["key_id_hex"]
        assert f"{key_id(k['name'], signer.verifier.public_key):08x}" == k["key_id_hex"]
        assert NoteSigner.from_text(k["signer_key"]).verifier == signer.verifier
        assert NoteVerifier.from_text(k["verifier_key"]) == signer.verifier


def test_go_signed_notes() -> None:
    signers = {k["name"]: NoteSigner(k["name"], bytes.fromhex(k["seed_hex"])) for k in GO["keys"]}
    verifiers = [s.verifier for s in signers.values()]
    assert len(GO["notes"]) == 4
    for v in GO["notes"]:
        signed = sign_note(v["text"], [signers[name] for name in v["signers"]])
        assert signed == v["signed"].encode(), v["description"]
        note = open_note(signed, verifiers)
        assert note.text == v["text"]
        assert [s.name for s in note.signatures] == v["signers"]


def test_go_checkpoint_opens() -> None:
    go_root = bytes.fromhex(GO["roots_hex"][12])
    log_verifier = NoteVerifier.from_text(GO["keys"][0]["verifier_key"])
    witness_verifier = NoteVerifier.from_text(GO["keys"][1]["verifier_key"])
    single, cosigned, with_ext, _ = (v["signed"].encode() for v in GO["notes"])
    cp = open_checkpoint(single, [log_verifier], ORIGIN)
    assert cp == Checkpoint(ORIGIN, 13, go_root)
    # A witness cosignature is ignored by open_checkpoint (only the log's key counts).
    assert open_checkpoint(cosigned, [log_verifier, witness_verifier], ORIGIN) == cp
    ext = open_checkpoint(with_ext, [log_verifier], ORIGIN)
    assert ext.extensions == ("camvault extension line",)
    assert sign_checkpoint(ext, LOG) == with_ext


def test_spec_checkpoint_example_parses() -> None:
    """The note text of the C2SP tlog-checkpoint spec's example."""
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = Checkpoint.from_text(text)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert base64.b64encode(cp.root_hash).decode() == "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    assert cp.to_text() == text


def test_tlog_json_checkpoint_reproduced() -> None:
    stored = json.loads((VECTORS / "tlog.json").read_text(encoding="utf-8"))["checkpoint"]
    signer = NoteSigner(stored["origin"], bytes.fromhex(stored["seed_hex"]))
    assert signer.to_text() == stored["signer_key"]
    assert signer.verifier.to_text() == stored["verifier_key"]
    cp = Checkpoint(stored["origin"], stored["size"], bytes.fromhex(stored["root_hex"]))
    assert cp.to_text() == stored["text"]
    assert sign_checkpoint(cp, signer).decode() == stored["signed_note"]
    verifier = NoteVerifier.from_text(stored["verifier_key"])
    assert open_checkpoint(stored["signed_note"].encode(), [verifier], stored["origin"]) == cp


# --- signing and opening ----------------------------------------------------------------


def test_round_trip_and_unknown_signatures() -> None:
    signed = sign_note(TEXT, [LOG, WITNESS])
    note = open_note(signed, [LOG.verifier])
    assert note.text == TEXT
    assert [s.name for s in note.signatures] == [ORIGIN]
    assert [s.name for s in note.unverified] == ["witness.example/w1"]
    both = open_note(signed, [WITNESS.verifier, LOG.verifier])
    assert [s.name for s in both.signatures] == [ORIGIN, "witness.example/w1"]


def test_text_may_contain_empty_lines() -> None:
    text = "first\n\nthird\n"
    assert open_note(sign_note(text, [LOG]), [LOG.verifier]).text == text


def test_duplicate_valid_signature_reported_once() -> None:
    signed = sign_note(TEXT, [LOG])
    line = signed.decode().split("\n\n")[-1]
    note = open_note(signed + line.encode(), [LOG.verifier])
    assert len(note.signatures) == 1


def test_sixteen_signatures_accepted_and_limit_enforced() -> None:
    signed = sign_note(TEXT, [LOG])
    line = signed.decode().split("\n\n")[-1]
    unknown = [NoteSigner(f"w{i}.example", seed_for(f"w{i}")) for i in range(MAX_SIGNATURES)]
    fifteen = sign_note(TEXT, unknown[:15]).decode().split("\n\n")[-1]
    assert len(open_note(signed + fifteen.encode(), [LOG.verifier]).unverified) == 15
    many = sign_note(TEXT, unknown).decode().split("\n\n")[-1]
    with pytest.raises(NoteError, match="more than 100 signatures"):
        open_note((TEXT + "\n" + many + line).encode(), [LOG.verifier])
    # Exactly 100 lines are accepted.
    ninety_nine = "".join(many.splitlines(keepends=True)[:99])
    assert open_note((TEXT + "\n" + ninety_nine + line).encode(), [LOG.verifier])


def _sig_line(signer: NoteSigner, text: str) -> str:
    return sign_note(text, [signer]).decode().split("\n\n")[-1]


def _with_sig(name: str, kid: int, sig: bytes) -> str:
    return f"{DASH} {name} {base64.b64encode(kid.to_bytes(4, 'big') + sig).decode()}\n"


@pytest.mark.parametrize(
    ("message", "error", "fragment"),
    [
        (b"\xff" + sign_note(TEXT, [LOG]), NoteError, "not valid UTF-8"),
        (b"a\rb\n" + sign_note(TEXT, [LOG]), NoteError, "control character U+000D"),
        (TEXT.encode() + b"\t\n" + _sig_line(LOG, TEXT).encode(), NoteError, "U+0009"),
        (TEXT.encode() + _sig_line(LOG, TEXT).encode(), NoteError, "no blank line"),
        (sign_note(TEXT, [LOG])[:-1], NoteError, "does not end in a newline"),
        (TEXT.encode() + b"\n", NoteError, "empty or does not end in a newline"),
        (sign_note(TEXT, [LOG]) + b"\n", NoteError, "empty or does not end in a newline"),
        (
            sign_note(TEXT, [LOG]).replace(DASH.encode(), b"--"),
            NoteError,
            "does not start with an em dash",
        ),
        (
            sign_note(TEXT, [LOG]).replace(DASH.encode(), "\u2013".encode()),
            NoteError,
            "does not start with an em dash",
        ),
        (
            sign_note(TEXT, [LOG]).replace(f"{ORIGIN} ".encode(), ORIGIN.encode()),
            NoteError,
            "no space between key name and signature",
        ),
        (
            sign_note(TEXT, [LOG]).replace(ORIGIN.encode() + b" ", b"a+b "),
            NoteError,
            "contains '+'",
        ),
        (
            sign_note(TEXT, [LOG]).replace(f"{DASH} {ORIGIN}".encode(), f"{DASH} ".encode()),
            NoteError,
            "key name must be a non-empty string",
        ),
        (
            (TEXT + "\n" + f"{DASH} {ORIGIN} AAAAAA==\n").encode(),
            NoteError,
            "too short",
        ),
        (
            (TEXT + "\n" + f"{DASH} {ORIGIN} AAAAAAB=\n").encode(),
            NoteError,
            "not canonical base64",
        ),
        (
            (TEXT + "\n" + f"{DASH} {ORIGIN} AAAAAAA\n").encode(),
            NoteError,
            "not canonical base64",
        ),
    ],
)
def test_malformed_notes_refused(message: bytes, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        open_note(message, [LOG.verifier])


def test_bad_signature_by_known_key_refused() -> None:
    signed = sign_note(TEXT, [LOG])
    raw = base64.b64decode(signed.decode().split(" ")[-1])
    forged = raw[:4] + bytes([raw[4] ^ 1]) + raw[5:]
    bad = signed.decode().rsplit(" ", 1)[0] + " " + base64.b64encode(forged).decode() + "\n"
    with pytest.raises(InvalidNoteSignatureError, match=f"known key {ORIGIN}\\+{LOG.key_id:08x}"):
        open_note(bad.encode(), [LOG.verifier])
    # A changed text fails the known key's signature.
    tampered = signed.replace(b"\n3\n", b"\n4\n")
    with pytest.raises(InvalidNoteSignatureError, match="invalid signature by known key"):
        open_note(tampered, [LOG.verifier])
    # Wrong signature length (63 bytes) from a known key.
    short = _with_sig(ORIGIN, LOG.key_id, LOG.sign(TEXT.encode())[:63])
    with pytest.raises(InvalidNoteSignatureError, match="invalid signature by known key"):
        open_note((TEXT + "\n" + short).encode(), [LOG.verifier])


def test_bad_duplicate_after_good_signature_refused() -> None:
    """Stricter than Go (which skips repeats): every line naming a known key must verify."""
    signed = sign_note(TEXT, [LOG])
    bad = _with_sig(ORIGIN, LOG.key_id, b"\x00" * 64)
    with pytest.raises(InvalidNoteSignatureError, match="invalid signature by known key"):
        open_note(signed + bad.encode(), [LOG.verifier])


def test_no_known_signature_refused() -> None:
    signed = sign_note(TEXT, [WITNESS])
    with pytest.raises(UnverifiedNoteError, match="no valid signature by a known key"):
        open_note(signed, [LOG.verifier])
    with pytest.raises(UnverifiedNoteError):
        open_note(signed, [])


def test_same_name_or_same_id_as_known_key_is_ignored() -> None:
    """Spec: unknown keys are ignored even if they share a name or an ID with a known key."""
    sig = LOG.sign(TEXT.encode())
    same_name = _with_sig(ORIGIN, LOG.key_id ^ 1, sig)
    same_id = _with_sig("impostor.example", LOG.key_id, sig)
    for line in (same_name, same_id):
        with pytest.raises(UnverifiedNoteError):
            open_note((TEXT + "\n" + line).encode(), [LOG.verifier])
        note = open_note((TEXT + "\n" + line + _sig_line(LOG, TEXT)).encode(), [LOG.verifier])
        assert len(note.unverified) == 1


def test_conflicting_verifiers_refused() -> None:
    impostor = NoteVerifier.__new__(NoteVerifier)
    object.__setattr__(impostor, "name", ORIGIN)
    object.__setattr__(impostor, "key_id", LOG.key_id)
    object.__setattr__(impostor, "public_key", b"\x01" * 32)
    with pytest.raises(NoteError, match="two known keys share the name and ID"):
        open_note(sign_note(TEXT, [LOG]), [LOG.verifier, impostor])


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(
        st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), max_size=30),
        min_size=1,
        max_size=5,
    ),
    data=st.data(),
)
def test_any_bit_flip_breaks_a_signed_note(lines: list[str], data: st.DataObject) -> None:
    text = "".join(line + "\n" for line in lines)
    signed = sign_note(text, [LOG])
    assert open_note(signed, [LOG.verifier]).text == text
    bit = data.draw(st.integers(min_value=0, max_value=len(signed) * 8 - 1))
    mutated = bytearray(signed)
    mutated[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(NoteError):
        open_note(bytes(mutated), [LOG.verifier])


# --- signing refusals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("no newline", "must end in a newline"),
        ("", "must end in a newline"),
        ("tab\there\n", "control character U+0009"),
        ("cr\r\n", "control character U+000D"),
        ("lone \ud800 surrogate\n", "not valid Unicode"),
    ],
)
def test_sign_note_refuses_bad_text(text: str, fragment: str) -> None:
    with pytest.raises(NoteError, match=re.escape(fragment)):
        sign_note(text, [LOG])


def test_sign_note_refuses_bad_signer_lists() -> None:
    with pytest.raises(NoteError, match="at least one signer"):
        sign_note(TEXT, [])
    with pytest.raises(NoteError, match="duplicate signer"):
        sign_note(TEXT, [LOG, NoteSigner(ORIGIN, seed_for(ORIGIN))])


# --- keys -------------------------------------------------------------------------------


def test_key_id_definition() -> None:
    pub = LOG.verifier.public_key
    digest = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + pub).digest()
    assert key_id(ORIGIN, pub) == int.from_bytes(digest[:4], "big")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "non-empty"),
        ("a b", "space"),
        ("a\u00a0b", "space"),
        ("a\u3000b", "space"),
        ("a\u2028b", "space"),
        ("a\u0085b", "space"),
        ("a+b", "'+'"),
        ("a\x01b", "control character"),
        ("a\ud800", "not valid Unicode"),
    ],
)
def test_key_name_rules(name: str, fragment: str) -> None:
    with pytest.raises(KeyFormatError, match=re.escape(fragment)):
        check_key_name(name)


def test_key_name_may_be_non_ascii() -> None:
    check_key_name("caf\u00e9.example/log")
    NoteSigner("caf\u00e9.example/log", seed_for("x"))


def _vkey(name: str, kid: str, material: bytes) -> str:
    return f"{name}+{kid}+{base64.b64encode(material).decode()}"


PUB = LOG.verifier.public_key
KID = f"{LOG.key_id:08x}"


@pytest.mark.parametrize(
    ("vkey", "fragment"),
    [
        (_vkey(ORIGIN, "00000000", b"\x01" + PUB), "ID 00000000 does not match the key"),
        (_vkey(ORIGIN, KID.upper(), b"\x01" + PUB), "8 lowercase hex digits"),
        (_vkey(ORIGIN, KID[:7], b"\x01" + PUB), "8 lowercase hex digits"),
        (_vkey(ORIGIN, "0x" + KID[:6], b"\x01" + PUB), "8 lowercase hex digits"),
        (_vkey(ORIGIN, KID, b"\x02" + PUB), "unknown algorithm byte 0x02"),
        (_vkey(ORIGIN, KID, b"\x01" + PUB[:31]), "32 bytes of Ed25519 key"),
        (_vkey(ORIGIN, KID, b""), "not canonical base64"),
        (f"{ORIGIN}+{KID}+!!!!", "not canonical base64"),
        (f"{ORIGIN}+{KID}", "must have the form"),
        (_vkey("bad name", KID, b"\x01" + PUB), "space"),
        (_vkey("", KID, b"\x01" + PUB), "non-empty"),
    ],
)
def test_verifier_key_refusals(vkey: str, fragment: str) -> None:
    with pytest.raises(KeyFormatError, match=re.escape(fragment)):
        NoteVerifier.from_text(vkey)


def test_signer_key_refusals_and_redaction() -> None:
    good = LOG.to_text()
    with pytest.raises(KeyFormatError, match="must start with PRIVATE\\+KEY\\+"):
        NoteSigner.from_text(good.removeprefix("PRIVATE+KEY+"))
    with pytest.raises(KeyFormatError, match="must start with PRIVATE\\+KEY\\+"):
        NoteSigner.from_text(LOG.verifier.to_text())
    wrong_id = good.replace(f"+{KID}+", "+00000000+")
    with pytest.raises(KeyFormatError, match="signer key ID 00000000 does not match"):
        NoteSigner.from_text(wrong_id)
    with pytest.raises(KeyFormatError, match="must have the form"):
        NoteSigner.from_text(f"PRIVATE+KEY+{ORIGIN}+{KID}")
    with pytest.raises(KeyFormatError, match="seed must be 32 bytes"):
        NoteSigner(ORIGIN, b"\x00" * 31)
    seed_b64 = base64.b64encode(b"\x01" + seed_for(ORIGIN)).decode()
    for shown in (repr(LOG), str(LOG)):
        assert "redacted" in shown
        assert seed_for(ORIGIN).hex() not in shown
        assert seed_b64 not in shown


def test_verifier_construction_checks_key_id() -> None:
    with pytest.raises(KeyFormatError, match="does not match key"):
        NoteVerifier(ORIGIN, LOG.key_id ^ 1, PUB)
    with pytest.raises(KeyFormatError, match=r"key ID must be an integer in 0\.\.2\*\*32-1"):
        NoteVerifier(ORIGIN, LOG.key_id + 2**32, PUB)
    with pytest.raises(KeyFormatError, match="public key must be 32 bytes"):
        NoteVerifier.from_public_key(ORIGIN, PUB[:31])


def test_generated_signer_works() -> None:
    signer = NoteSigner.generate("fresh.example/log")
    assert open_note(sign_note(TEXT, [signer]), [signer.verifier]).signatures


# --- checkpoints ------------------------------------------------------------------------

ROOT = bytes(range(32))


def test_checkpoint_round_trip_and_size_bounds() -> None:
    for size in (1, 2**64 - 1):
        cp = Checkpoint(ORIGIN, size, ROOT, ("ext one", "ext two"))
        assert Checkpoint.from_text(cp.to_text()) == cp
        assert open_checkpoint(sign_checkpoint(cp, LOG), [LOG.verifier], ORIGIN) == cp
    empty = Checkpoint(ORIGIN, 0, EMPTY_ROOT)
    assert Checkpoint.from_text(empty.to_text()) == empty


B64ROOT = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"{ORIGIN}\n13\n{B64ROOT}", "must end in a newline"),
        (f"{ORIGIN}\n13\n", "needs origin, tree size and root hash"),
        (f"{ORIGIN}\n13\n{B64ROOT}\n\n", "empty line"),
        (f"{ORIGIN}\n13\n{B64ROOT}\n\next\n", "empty line"),
        (f"\n13\n{B64ROOT}\n", "empty line"),
        (f"{ORIGIN}\n013\n{B64ROOT}\n", "'013' is not canonical decimal"),
        (f"{ORIGIN}\n+13\n{B64ROOT}\n", "not canonical decimal"),
        (f"{ORIGIN}\n 13\n{B64ROOT}\n", "not canonical decimal"),
        (f"{ORIGIN}\n1_3\n{B64ROOT}\n", "not canonical decimal"),
        (f"{ORIGIN}\n\u0661\u0663\n{B64ROOT}\n", "not canonical decimal"),
        (f"{ORIGIN}\n-1\n{B64ROOT}\n", "not canonical decimal"),
        (f"{ORIGIN}\n{2**64}\n{B64ROOT}\n", "does not fit in 64 bits"),
        (f"{ORIGIN}\n13\n{base64.b64encode(ROOT[:31]).decode()}\n", "base64 of 32 bytes"),
        (f"{ORIGIN}\n13\n{ROOT.hex()}\n", "base64 of 32 bytes"),
        (f"{ORIGIN}\n13\n{B64ROOT[:-2]}B=\n", "base64 of 32 bytes"),
        (f"{ORIGIN}\n0\n{B64ROOT}\n", "size 0 must have the empty-tree root"),
        (f"bad origin\n13\n{B64ROOT}\n", "checkpoint origin: key name 'bad origin' contains"),
        (f"a+b\n13\n{B64ROOT}\n", "checkpoint origin"),
    ],
)
def test_checkpoint_text_refusals(text: str, fragment: str) -> None:
    with pytest.raises(CheckpointError, match=re.escape(fragment)):
        Checkpoint.from_text(text)


def test_checkpoint_construction_refusals() -> None:
    with pytest.raises(CheckpointError, match="tree size must be an integer"):
        Checkpoint(ORIGIN, True, ROOT)
    with pytest.raises(CheckpointError, match=r"outside 0\.\.2"):
        Checkpoint(ORIGIN, 2**64, ROOT)
    with pytest.raises(CheckpointError, match="root hash must be 32 bytes"):
        Checkpoint(ORIGIN, 1, ROOT[:31])
    with pytest.raises(CheckpointError, match="extension lines must be non-empty"):
        Checkpoint(ORIGIN, 1, ROOT, ("",))
    with pytest.raises(CheckpointError, match="extension line contains a control character"):
        Checkpoint(ORIGIN, 1, ROOT, ("a\nb",))
    with pytest.raises(CheckpointError, match="extensions must be a tuple"):
        Checkpoint(ORIGIN, 1, ROOT, ["x"])  # type: ignore[arg-type]


def test_checkpoint_errors_are_log_proof_errors() -> None:
    assert issubclass(CheckpointError, LogProofError)
    assert issubclass(InvalidNoteSignatureError, LogProofError)


def test_open_checkpoint_refusals() -> None:
    cp = Checkpoint(ORIGIN, 3, ROOT)
    signed = sign_checkpoint(cp, LOG)
    # The caller expects another log.
    with pytest.raises(CheckpointError, match="no known key named after the expected origin"):
        open_checkpoint(signed, [LOG.verifier], "camvault.io/custodian/test-2")
    # Only a witness signature is verifiable: not enough, the log itself must have signed.
    cosigned = sign_note(cp.to_text(), [WITNESS])
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(cosigned, [LOG.verifier, WITNESS.verifier], ORIGIN)
    # The log's key signed a checkpoint whose body names another origin.
    foreign = sign_note(Checkpoint("other.example/log", 3, ROOT).to_text(), [LOG])
    with pytest.raises(CheckpointError, match=r"origin 'other\.example/log' is not the expected"):
        open_checkpoint(foreign, [LOG.verifier], ORIGIN)
    # A valid signature over text that is not a checkpoint.
    with pytest.raises(CheckpointError, match="needs origin, tree size and root hash"):
        open_checkpoint(sign_note("hello\n", [LOG]), [LOG.verifier], ORIGIN)
    # Signed by the right name but an unknown key (e.g. a rotated-out or attacker key).
    impostor = NoteSigner(ORIGIN, seed_for("impostor"))
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(sign_checkpoint(cp, impostor), [LOG.verifier], ORIGIN)


def test_sign_checkpoint_requires_key_named_after_origin() -> None:
    with pytest.raises(CheckpointError, match="differs from checkpoint origin"):
        sign_checkpoint(Checkpoint(ORIGIN, 3, ROOT), OTHER)
