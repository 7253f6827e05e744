"""Round-trip properties of the formats the fuzzers attack: for any value the library can
produce, parse(serialize(x)) == x, and what a parser accepts re-serializes to the same bytes
(the targets check the second on every accepted fuzz input; these check the first on
generated values)."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.age import armor, bech32
from crypto.age.format import Header, Stanza, parse_header
from crypto.canonical import canonical_json, parse_canonical_json
from crypto.ed25519 import Ed25519SigningKey
from crypto.encoding import b64decode, b64encode, b64url_decode, b64url_encode
from crypto.escrow import Share, split
from crypto.httpsig import HttpRequest, SignatureParams, parse_signature, sign_request
from crypto.metadata import MAX_TIME_MS, RecordingKind, RecordingMetadata
from crypto.tlog.note import Checkpoint, NoteSigner, open_checkpoint, sign_checkpoint
from tests.fuzz.targets import keys

EXAMPLES = settings(max_examples=100, deadline=None)
ARG = st.text(string.ascii_letters + string.digits + "+/=-_.", min_size=1, max_size=20)
ID = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,30}\Z")
SAFE_INT = st.integers(-(2**53) + 1, 2**53 - 1)
JSON = st.recursive(
    st.none() | st.booleans() | SAFE_INT | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@EXAMPLES
@given(st.binary(max_size=2000))
def test_armor(data: bytes) -> None:
    assert armor.dearmor(armor.armor(data)) == data


@EXAMPLES
@given(st.binary(max_size=300))
def test_base64(data: bytes) -> None:
    assert b64decode(b64encode(data)) == data
    assert b64url_decode(b64url_encode(data)) == data


@EXAMPLES
@given(st.text(string.ascii_lowercase + "-", min_size=1, max_size=20), st.binary(max_size=40))
def test_bech32(hrp: str, data: bytes) -> None:
    assert bech32.decode(bech32.encode(hrp, data)) == (hrp, data)


@EXAMPLES
@given(
    st.lists(
        st.builds(Stanza, ARG, st.lists(ARG, max_size=4).map(tuple), st.binary(max_size=150)),
        min_size=1,
        max_size=4,
    ),
    st.binary(min_size=32, max_size=32),
)
def test_age_header(stanzas: list[Stanza], mac: bytes) -> None:
    header = Header(tuple(stanzas), mac)
    assert parse_header(header.encode()) == header


@EXAMPLES
@given(JSON)
def test_canonical_json(value: object) -> None:
    assert parse_canonical_json(canonical_json(value)) == value


@EXAMPLES
@given(st.binary(min_size=1, max_size=32), st.integers(2, 5), st.integers(0, 3))
def test_shares(secret: bytes, threshold: int, extra: int) -> None:
    shares = split(secret, threshold, threshold + extra)
    assert all(Share.from_bytes(s.to_bytes()) == s for s in shares)


@EXAMPLES
@given(
    ID,
    ID,
    ID,
    st.sampled_from(list(RecordingKind)),
    st.integers(0, MAX_TIME_MS),
    st.integers(0, 10**9),
)
def test_metadata(
    site: str, camera: str, rec: str, kind: RecordingKind, start: int, span: int
) -> None:
    meta = RecordingMetadata(site, camera, rec, kind, start, min(start + span, MAX_TIME_MS))
    assert RecordingMetadata.parse(meta.canonical()) == meta


@EXAMPLES
@given(
    st.integers(1, 2**64 - 1),  # size 0 has one root, the empty tree's
    st.binary(min_size=32, max_size=32),
    st.lists(st.text(string.printable.strip(), min_size=1, max_size=20), max_size=3),
)
def test_checkpoint(size: int, root: bytes, extensions: list[str]) -> None:
    log: NoteSigner = keys().log
    cp = Checkpoint(log.name, size, root, tuple(extensions))
    assert Checkpoint.from_text(cp.to_text()) == cp
    assert open_checkpoint(sign_checkpoint(cp, log), [log.verifier], log.name) == cp


@EXAMPLES
@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    st.from_regex(r"\A(/[a-z0-9%._-]{1,12}){1,5}\Z"),
    st.from_regex(r"\A([a-z]{1,5}=[a-z0-9]{0,5}(&[a-z]{1,5}=[a-z0-9]{0,5}){0,2})?\Z"),
    st.integers(0, 2**40),
    st.from_regex(r"\A[A-Za-z0-9_-]{16,40}\Z"),
)
def test_http_signature(method: str, path: str, query: str, created: int, nonce: str) -> None:
    key: Ed25519SigningKey = keys().signer
    request = HttpRequest(method, "127.0.0.1:8000", path, query, {})
    params = SignatureParams(created, created + 60, "customer:site-1", nonce)
    covered = ("@method", "@authority", "@path", "@query")
    sig_input, sig = sign_request(request, covered, params, key)
    parsed = parse_signature(sig_input, sig)
    assert (parsed.params, parsed.covered) == (params, covered)
