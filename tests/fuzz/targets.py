"""The fuzz targets: every parser an attacker can feed, with its documented error types.

Each target turns raw bytes into what the parser receives in real use (HTTP header fields
as latin-1 text, key files and notes as UTF-8 text, age files as byte streams) and, where a
parse succeeds, goes on to the next step that input reaches in the product (MAC check,
payload decryption, signature verification, share opening), so the fuzzers reach past the
grammar. Keys are fixed (derived from constants) so the corpus stays valid.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from common.bodies import JsonError, loads
from crypto import age
from crypto.age import armor, bech32
from crypto.age.format import FileKey, parse_header
from crypto.age.scrypt import ScryptIdentity, ScryptRecipient
from crypto.age.stream import decrypt_payload, encrypt_payload
from crypto.age.x25519 import X25519Identity, X25519Recipient
from crypto.canonical import canonical_json, parse_canonical_json
from crypto.ed25519 import Ed25519PublicKey, Ed25519SigningKey
from crypto.encoding import Base64Error
from crypto.errors import CryptoError, KeyFormatError, StatementError
from crypto.escrow import (
    CustodianKey,
    CustodianPublicKey,
    SessionKey,
    Share,
    ShareReleaser,
    build_recipient_set,
    open_escrow_stanza,
    open_released_share,
    seal_share_to_session,
    split,
)
from crypto.httpsig import (
    HttpRequest,
    SignatureParams,
    check_content_digest,
    content_digest,
    parse_signature,
    request_from_asgi,
    sign_request,
    verify_request,
)
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import (
    Manifest,
    manifest_hash,
    parse_signed,
    sign_statement,
    verify,
    verify_chain,
)
from crypto.tlog import merkle
from crypto.tlog.note import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)
from tests.fuzz.engine import Target

VECTORS = Path(__file__).parent.parent / "vectors"
# Everything crypto/ raises on bad input; Base64Error is crypto.encoding's documented
# ValueError subclass (its decoders are called directly by the key and note parsers), and
# JsonError common.bodies' (untrusted JSON).
DOCUMENTED: tuple[type[BaseException], ...] = (CryptoError, Base64Error, JsonError)


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"camvault fuzz " + label.encode()).digest()


@dataclass(frozen=True)
class Keys:
    """The fixed keys every target and seed uses."""

    identity: X25519Identity
    scrypt: ScryptIdentity
    custodian: CustodianKey
    session: SessionKey
    signer: Ed25519SigningKey
    camera: Ed25519SigningKey
    log: NoteSigner
    witness: NoteSigner


@cache
def keys() -> Keys:
    return Keys(
        identity=X25519Identity(_seed("age identity")),
        scrypt=ScryptIdentity("fuzz passphrase", max_work_factor=2),
        custodian=CustodianKey(_seed("custodian")),
        session=SessionKey(_seed("session")),
        signer=Ed25519SigningKey(_seed("request signer")),
        camera=Ed25519SigningKey(_seed("camera")),
        log=NoteSigner("fuzz.camvault.example/log", _seed("log")),
        witness=NoteSigner("fuzz.camvault.example/witness", _seed("witness")),
    )


METADATA = RecordingMetadata(
    site_id="site-fuzz",
    camera_id="cam-fuzz",
    recording_id="rec-fuzz",
    kind=RecordingKind.CLIP,
    start_ms=1_717_000_000_000,
    end_ms=1_717_000_030_000,
)
RELEASE_ID = "rel-fuzz"
FILE_KEY = FileKey(_seed("file key")[:16])


def _ident() -> X25519Identity:
    return keys().identity


def _text(data: bytes) -> str:
    """Bytes as the text a reader of a UTF-8 file or body would hand over (bad bytes become
    U+FFFD, as Python's text I/O with errors='replace' does), so non-ASCII reaches parsers."""
    return data.decode("utf-8", errors="replace")


# --- age -------------------------------------------------------------------------------


def _age_file(plaintext: bytes, *, armored: bool = False, scrypt: bool = False) -> bytes:
    out = io.BytesIO()
    recipients: list[age.Recipient] = (
        [ScryptRecipient("fuzz passphrase", work_factor=2)]
        if scrypt
        else [_ident().recipient(), X25519Identity(_seed("other")).recipient()]
    )
    age.encrypt(recipients, io.BytesIO(plaintext), out, armor=armored)
    return out.getvalue()


def _vector_files() -> list[bytes]:
    vectors = json.loads((VECTORS / "age.json").read_text())["vectors"]
    return [bytes.fromhex(v["file_hex"]) for v in vectors if 0 < len(v.get("file_hex", "")) < 4096]


def _header_of(data: bytes) -> bytes:
    return data[: data.index(b"\n", data.index(b"\n---") + 1) + 1]


def run_age_header(data: bytes) -> None:
    header = parse_header(data)
    assert header.encode() == data, "a parsed header re-encodes to other bytes"
    age.decrypt_header([_ident(), keys().scrypt], data)


def seeds_age_header() -> list[bytes]:
    files = [_age_file(b"x"), _age_file(b"", scrypt=True)]
    vectors = json.loads((VECTORS / "age.json").read_text())["vectors"]
    return [_header_of(f) for f in files] + [v["header"].encode() for v in vectors]


def run_age_file(data: bytes) -> None:
    age.decrypt([_ident(), keys().scrypt], io.BytesIO(data), io.BytesIO())


def seeds_age_file() -> list[bytes]:
    return [
        _age_file(b""),
        _age_file(b"camvault" * 10),
        _age_file(b"a" * 200, armored=True),
        _age_file(b"b" * 30, scrypt=True),
        *_vector_files(),
    ]


def run_stream(data: bytes) -> None:
    out = io.BytesIO()
    decrypt_payload(FILE_KEY, io.BytesIO(data), out)


def seeds_stream() -> list[bytes]:
    seeds = []
    for size in (0, 1, 100, 65536, 65537):
        out = io.BytesIO()
        encrypt_payload(FILE_KEY, io.BytesIO(bytes(size % 251 for size in range(size))), out)
        seeds.append(out.getvalue())
    return seeds


def run_armor(data: bytes) -> None:
    decoded = armor.dearmor(data)
    # Streaming reader: same answer in small reads.
    reader = armor.reader(io.BytesIO(data))
    parts = []
    while chunk := reader.read(7):
        parts.append(chunk)
    assert b"".join(parts) == decoded, "streaming and whole dearmor disagree"


def seeds_armor() -> list[bytes]:
    return [armor.armor(b""), armor.armor(b"\x00" * 47), armor.armor(bytes(range(256)) * 2)]


# --- key text --------------------------------------------------------------------------


def run_bech32(data: bytes) -> None:
    hrp, payload = bech32.decode(_text(data))
    assert bech32.decode(bech32.encode(hrp, payload)) == (hrp, payload)


def run_key_text(data: bytes) -> None:
    """Every key spelling a user, a statement or a config file can hand over."""
    text = _text(data)
    parsers = (
        X25519Identity.parse,
        X25519Recipient.parse,
        Ed25519PublicKey.from_text,
        Ed25519SigningKey.from_text,
        CustodianPublicKey.from_text,
        CustodianKey.from_text,
        NoteVerifier.from_text,
        NoteSigner.from_text,
        age.parse_identity_file,
        age.parse_recipients_file,
    )
    accepted = 0
    for parse in parsers:
        try:
            parse(text)
            accepted += 1
        except DOCUMENTED:
            continue
    if not accepted:
        raise KeyFormatError("no key parser accepts this text")


def seeds_key_text() -> list[bytes]:
    k = keys()
    texts = [
        _ident().to_text(),
        str(_ident().recipient()),
        k.signer.to_text(),
        k.signer.public_key.to_text(),
        k.custodian.to_text(),
        k.custodian.public_key().to_text(),
        k.log.to_text(),
        k.log.verifier.to_text(),
        "# created: 2026-01-01\n# comment\n" + _ident().to_text() + "\n",
    ]
    return [t.encode() for t in texts]


def seeds_bech32() -> list[bytes]:
    return [
        _ident().to_text().encode(),
        str(_ident().recipient()).encode(),
        bech32.encode("a", b"").encode(),
        bech32.encode("camvault-test", bytes(range(40))).encode(),
    ]


# --- canonical JSON, statements, metadata -----------------------------------------------


def run_canonical_json(data: bytes) -> None:
    value = parse_canonical_json(data)
    assert canonical_json(value) == data, "accepted input is not its own canonical form"


def _statement_vectors() -> list[bytes]:
    vectors = json.loads((VECTORS / "statements.json").read_text())
    return [v["encoded"].encode() for v in vectors["valid"]] + [
        v["encoded"].encode() for v in vectors["invalid"] if isinstance(v.get("encoded"), str)
    ][:8]


def seeds_canonical_json() -> list[bytes]:
    return [*_statement_vectors()[:6], METADATA.canonical(), b"[]", b'{"a":[1,-2,"\\u0000"]}']


def run_statement(data: bytes) -> None:
    signed = parse_signed(data)
    assert signed.encode() == data, "accepted statement is not its own wire form"
    verify(signed, None, type(signed.unverified_statement))


def seeds_statement() -> list[bytes]:
    return _statement_vectors()


def run_metadata(data: bytes) -> None:
    meta = RecordingMetadata.parse(data)
    assert meta.canonical() == data


def seeds_metadata() -> list[bytes]:
    return [METADATA.canonical()]


def run_chain(data: bytes) -> None:
    """A camera's manifests as a malicious storage service lists them (one per line)."""
    manifests = [parse_signed(line) for line in data.split(b"\n") if line]
    problems = verify_chain(
        manifests, keys().camera.public_key, site_id="site-fuzz", camera_id="cam-fuzz"
    )
    if problems:
        raise StatementError(f"{len(problems)} chain problems")


def seeds_chain() -> list[bytes]:
    prev, lines = None, []
    for seq in range(4):
        m = Manifest(
            site_id="site-fuzz",
            camera_id="cam-fuzz",
            recording_id=f"rec-{seq}",
            kind=RecordingKind.SEGMENT,
            start_ms=1_717_000_000_000 + seq * 2000,
            end_ms=1_717_000_002_000 + seq * 2000,
            payload_sha256=_seed(f"payload {seq}"),
            payload_size=1000 + seq,
            header_sha256=_seed(f"header {seq}"),
            sequence=seq,
            prev_manifest_sha256=prev,
            issued_at_ms=1_717_000_002_500 + seq * 2000,
        )
        signed = sign_statement(m, keys().camera)
        prev = manifest_hash(signed)
        lines.append(signed.encode())
    return [b"\n".join(lines), lines[0], b"\n".join(lines[1:])]


def run_json_body(data: bytes) -> None:
    """Untrusted JSON as the services and clients read it (common.bodies.loads)."""
    loads(data, max_depth=32)


def seeds_json_body() -> list[bytes]:
    return [b'{"a":[1,2,{"b":null}]}', b"[" * 31 + b"]" * 31, METADATA.canonical()]


# --- transparency log -------------------------------------------------------------------


def _verifiers() -> list[NoteVerifier]:
    return [keys().log.verifier, keys().witness.verifier]


def run_note(data: bytes) -> None:
    open_note(data, _verifiers())
    open_checkpoint(data, _verifiers(), "fuzz.camvault.example/log")


def run_checkpoint(data: bytes) -> None:
    """Checkpoint text signed by the log itself: what a client gets from a lying custodian
    that holds its own log key (the signature is valid, the text is anything)."""
    signed = sign_note(_text(data), [keys().log])
    open_checkpoint(signed, _verifiers(), "fuzz.camvault.example/log")


def seeds_checkpoint() -> list[bytes]:
    cp = Checkpoint("fuzz.camvault.example/log", 40, bytes(range(32)), ("ext line",))
    return [cp.to_text().encode(), Checkpoint(cp.origin, 0, merkle.EMPTY_ROOT).to_text().encode()]


def seeds_note() -> list[bytes]:
    log, witness = keys().log, keys().witness
    cp = Checkpoint("fuzz.camvault.example/log", 40, bytes(range(32)), ("ext line",))
    signed = sign_checkpoint(cp, log)
    tlog = json.loads((VECTORS / "tlog.json").read_text())
    return [
        signed,
        sign_note(cp.to_text(), [log, witness]),
        sign_note("hello\n\nworld\n", [witness]),
        tlog["checkpoint"]["signed_note"].encode(),
    ]


_INT = 9  # bytes per integer: signed and wider than 64 bits, so both range ends are reached


def _ints(data: bytes) -> tuple[int, int, bytes]:
    """Two signed 72-bit integers, then the rest."""
    head = data[: 2 * _INT].ljust(2 * _INT, b"\0")
    a, b = (int.from_bytes(head[i : i + _INT], "big", signed=True) for i in (0, _INT))
    return a, b, data[2 * _INT :]


def _pack(a: int, b: int) -> bytes:
    return a.to_bytes(_INT, "big", signed=True) + b.to_bytes(_INT, "big", signed=True)


def _hashes(blob: bytes) -> list[bytes]:
    """32-byte hashes; a short last piece stays short (a malformed proof element)."""
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]


def run_inclusion(data: bytes) -> None:
    """``index, size`` (signed 72-bit), then leaf, root, proof hashes."""
    index, size, rest = _ints(data)
    hashes = _hashes(rest)
    leaf, root, proof = [*hashes, b"", b""][0], [*hashes, b"", b""][1], hashes[2:]
    merkle.verify_inclusion(leaf, index, size, proof, root)


def run_consistency(data: bytes) -> None:
    """``old size, new size`` (signed 72-bit), then old root, new root, proof hashes."""
    old, new, rest = _ints(data)
    hashes = _hashes(rest)
    old_root, new_root, proof = [*hashes, b"", b""][0], [*hashes, b"", b""][1], hashes[2:]
    merkle.verify_consistency(old, new, old_root, new_root, proof)


def _tree() -> list[bytes]:
    return [merkle.leaf_hash(b"entry %d" % i) for i in range(23)]


def seeds_inclusion() -> list[bytes]:
    leaves, seeds = _tree(), []
    for index, size in ((0, 1), (0, 2), (5, 8), (12, 13), (22, 23), (7, 16)):
        root = merkle.root_from_leaf_hashes(leaves[:size])
        proof = merkle.inclusion_proof(leaves, index, size)
        seeds.append(_pack(index, size) + leaves[index] + root + b"".join(proof))
    return seeds


def seeds_consistency() -> list[bytes]:
    leaves, seeds = _tree(), []
    for old, new in ((1, 1), (1, 2), (3, 7), (4, 8), (6, 23), (0, 5), (16, 23)):
        roots = [merkle.root_from_leaf_hashes(leaves[:n]) for n in (old, new)]
        proof = merkle.consistency_proof(leaves, old, new)
        seeds.append(_pack(old, new) + b"".join(roots) + b"".join(proof))
    return seeds


# --- HTTP message signatures ------------------------------------------------------------

_REQUEST = HttpRequest(
    method="POST",
    authority="127.0.0.1:8000",
    path="/v1/sites/site-fuzz/recordings",
    query="",
    headers={"content-type": "application/json", "content-digest": content_digest(b"{}")},
)
_COVERED = ("@method", "@authority", "@path", "@query", "content-digest", "content-type")


def run_httpsig(data: bytes) -> None:
    """``Signature-Input LF Signature LF Content-Digest`` as the latin-1 field values an ASGI
    server decodes; then the verification a service does with them."""
    fields = [*data.split(b"\n", 2), b"", b""]
    sig_input, sig, digest = (f.decode("latin-1") for f in fields[:3])
    with contextlib.suppress(*DOCUMENTED):
        check_content_digest(digest, b"{}")
    parsed = parse_signature(sig_input, sig)
    verify_request(_REQUEST, parsed, keys().signer.public_key, required=_COVERED)


def seeds_httpsig() -> list[bytes]:
    signer: Ed25519SigningKey = keys().signer
    seeds = []
    variants = (("nonce-one-for-fuzz", _COVERED), ("nonce-two-for-the-fuzzer", _COVERED[:4]))
    for nonce, covered in variants:
        params = SignatureParams(1_800_000_000, 1_800_000_060, "customer:site-fuzz", nonce)
        sig_input, sig = sign_request(_REQUEST, covered, params, signer)
        seeds.append(f"{sig_input}\n{sig}\n{content_digest(b'{}')}".encode())
    return seeds


def run_asgi_request(data: bytes) -> None:
    """Raw header pairs (``name: value`` lines) and path as an ASGI scope gives them."""
    lines = data.split(b"\n")
    pairs = [(n, v) for n, _, v in (line.partition(b":") for line in lines[1:] if b":" in line)]
    request = request_from_asgi("GET", pairs, lines[0], b"a=1")
    parsed = parse_signature(
        request.headers.get("signature-input"), request.headers.get("signature")
    )
    verify_request(request, parsed, keys().signer.public_key, required=_COVERED[:4])


def seeds_asgi_request() -> list[bytes]:
    signer: Ed25519SigningKey = keys().signer
    request = HttpRequest("GET", "127.0.0.1:8000", "/v1/sites/s", "a=1", {})
    params = SignatureParams(1_800_000_000, 1_800_000_060, "customer:s", "nonce-for-asgi-fuzz")
    sig_input, sig = sign_request(request, _COVERED[:4], params, signer)
    return [
        f"/v1/sites/s\nhost:127.0.0.1:8000\nsignature-input:{sig_input}\nsignature:{sig}".encode()
    ]


# --- escrow -----------------------------------------------------------------------------


def run_escrow_header(data: bytes) -> None:
    """A header as a custodian receives it in a release request: every stanza opened with
    its key (both code paths), for the claimed metadata."""
    header = parse_header(data)
    custodian: CustodianKey = keys().custodian
    session: SessionKey = keys().session
    releaser = ShareReleaser(custodian, session.public_key(), RELEASE_ID)
    for stanza in header.stanzas:
        try:
            share = releaser.open(stanza, METADATA)
        except DOCUMENTED:
            continue
        assert open_escrow_stanza(stanza, custodian, METADATA) == share
        releaser.seal(share, METADATA)


def seeds_escrow_header() -> list[bytes]:
    custodian: CustodianKey = keys().custodian
    others = [CustodianKey(_seed(f"custodian {i}")).public_key() for i in (2, 3)]
    recipients = build_recipient_set(
        [_ident().recipient()], [custodian.public_key(), *others], 2, METADATA
    )
    header, _ = age.encrypt_header(recipients)
    vectors = json.loads((VECTORS / "escrow.json").read_text())["escrow"]
    return [header, *(v["header"].encode() for v in vectors)]


def run_escrow_release(data: bytes) -> None:
    """A released share as the operator's client receives it from a custodian."""
    session: SessionKey = keys().session
    open_released_share(data, session, METADATA, release_id=RELEASE_ID)


def seeds_escrow_release() -> list[bytes]:
    session: SessionKey = keys().session
    share = split(FILE_KEY.data, 2, 3)[0]
    return [seal_share_to_session(share, session.public_key(), METADATA, release_id=RELEASE_ID)]


def run_share(data: bytes) -> None:
    share = Share.from_bytes(data)
    assert Share.from_bytes(share.to_bytes()) == share


def seeds_share() -> list[bytes]:
    return [s.to_bytes() for s in split(FILE_KEY.data, 2, 3)]


def _t(name: str, run: Callable[[bytes], object], seeds: Callable[[], Sequence[bytes]]) -> Target:
    return Target(name, run, DOCUMENTED, seeds)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        _t("age_header", run_age_header, seeds_age_header),
        _t("age_file", run_age_file, seeds_age_file),
        _t("stream", run_stream, seeds_stream),
        _t("armor", run_armor, seeds_armor),
        _t("bech32", run_bech32, seeds_bech32),
        _t("key_text", run_key_text, seeds_key_text),
        _t("canonical_json", run_canonical_json, seeds_canonical_json),
        _t("statement", run_statement, seeds_statement),
        _t("metadata", run_metadata, seeds_metadata),
        _t("note", run_note, seeds_note),
        _t("checkpoint", run_checkpoint, seeds_checkpoint),
        _t("inclusion_proof", run_inclusion, seeds_inclusion),
        _t("consistency_proof", run_consistency, seeds_consistency),
        _t("httpsig", run_httpsig, seeds_httpsig),
        _t("asgi_request", run_asgi_request, seeds_asgi_request),
        _t("escrow_header", run_escrow_header, seeds_escrow_header),
        _t("escrow_release", run_escrow_release, seeds_escrow_release),
        _t("share", run_share, seeds_share),
        _t("manifest_chain", run_chain, seeds_chain),
        _t("json_body", run_json_body, seeds_json_body),
    )
}


def target_names() -> Sequence[str]:
    return sorted(TARGETS)
