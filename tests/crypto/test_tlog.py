"""Tests of crypto.tlog: RFC 9162 hashing, proof generation and verification.

The library is cross-checked against a naive reference written here straight from the RFC's
recursive definitions (MTH, PATH, SUBPROOF) and a recursive verifier in the style of RFC 6962
and Go's sumdb/tlog, which shares no code or algorithm with the library's bit-walking RFC 9162
verifier. Known answers come from transparency-dev/merkle, from Go's sumdb/tlog
(tests/vectors/go_note_vectors) and from tests/vectors/tlog.json.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.canonical import canonical_json
from crypto.errors import LogProofError
from crypto.tlog.merkle import (
    EMPTY_ROOT,
    LOG_ENTRY_PREFIX,
    consistency_proof,
    consistency_proof_from,
    entry_leaf_hash,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
MAX_SIZE = 300


def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- naive reference, straight from RFC 9162 section 2.1 ---------------------------------


def k_of(n: int) -> int:
    """Largest power of two strictly smaller than n (n > 1), computed the slow way."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (the leaf hashing is done by the caller)."""
    if len(d) == 0:
        return H(b"")
    if len(d) == 1:
        return d[0]
    k = k_of(len(d))
    return H(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), section 2.1.3.1."""
    if len(d) == 1:
        return []
    k = k_of(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), section 2.1.4.1."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = k_of(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_consistency(m: int, d: Sequence[bytes]) -> list[bytes]:
    return [] if m in (0, len(d)) else ref_subproof(m, d, True)


class BadProofError(Exception):
    pass


def ref_run_path(proof: list[bytes], lo: int, hi: int, m: int, leaf: bytes) -> bytes:
    """Recursive audit-path evaluation (RFC 6962 structure, as Go's sumdb/tlog does it)."""
    if hi - lo == 1:
        if proof:
            raise BadProofError
        return leaf
    if not proof:
        raise BadProofError
    k = k_of(hi - lo)
    if m < lo + k:
        return H(b"\x01" + ref_run_path(proof[:-1], lo, lo + k, m, leaf) + proof[-1])
    return H(b"\x01" + proof[-1] + ref_run_path(proof[:-1], lo + k, hi, m, leaf))


def ref_run_subproof(
    proof: list[bytes], lo: int, hi: int, n: int, old: bytes
) -> tuple[bytes, bytes]:
    if n == hi:
        if lo == 0:
            if proof:
                raise BadProofError
            return old, old
        if len(proof) != 1:
            raise BadProofError
        return proof[0], proof[0]
    if not proof:
        raise BadProofError
    k = k_of(hi - lo)
    if n <= lo + k:
        o, t = ref_run_subproof(proof[:-1], lo, lo + k, n, old)
        return o, H(b"\x01" + t + proof[-1])
    o, t = ref_run_subproof(proof[:-1], lo + k, hi, n, old)
    return H(b"\x01" + proof[-1] + o), H(b"\x01" + proof[-1] + t)


def ref_verify_inclusion(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> bool:
    if not 0 <= index < size or any(len(p) != 32 for p in proof) or len(leaf) != 32:
        return False
    try:
        return ref_run_path(list(proof), 0, size, index, leaf) == root
    except BadProofError:
        return False


def ref_verify_consistency(m: int, n: int, r1: bytes, r2: bytes, proof: list[bytes]) -> bool:
    if not 0 <= m <= n or any(len(p) != 32 for p in [r1, r2, *proof]):
        return False
    if m == 0:
        return not proof and r1 == H(b"")
    if m == n:
        return not proof and r1 == r2
    try:
        return ref_run_subproof(list(proof), 0, n, m, r1) == (r1, r2)
    except BadProofError:
        return False


def lib_accepts(fn: Callable[..., None], *args: Any) -> bool:
    try:
        fn(*args)
    except LogProofError:
        return False
    return True


# --- fixed data -------------------------------------------------------------------------


@cache
def leaves(n: int = MAX_SIZE + 1) -> tuple[bytes, ...]:
    return tuple(leaf_hash(f"leaf {i}".encode()) for i in range(n))


@cache
def root(n: int) -> bytes:
    return ref_mth(leaves()[:n])


# transparency-dev/merkle proof/verify_test.go: the RFC 6962 eight-leaf test tree.
TD_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes.fromhex("5051525354555657"),
    bytes.fromhex("606162636465666768696a6b6c6d6e6f"),
]
TD_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (0-based index, size, proof); transparency-dev lists the index 1-based.
TD_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
TD_CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


# --- hasher -----------------------------------------------------------------------------


def test_hasher_prefixes() -> None:
    assert leaf_hash(b"abc") == H(b"\x00abc")
    a, b = H(b"a"), H(b"b")
    assert node_hash(a, b) == H(b"\x01" + a + b)
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    # A leaf hash can never be confused with a node hash of the same bytes.
    assert leaf_hash(a + b) != node_hash(a, b)


def test_node_hash_refuses_wrong_length() -> None:
    with pytest.raises(LogProofError, match="left child hash must be 32 bytes, got 31"):
        node_hash(b"\x00" * 31, b"\x00" * 32)
    with pytest.raises(LogProofError, match="right child hash must be 32 bytes, got str"):
        node_hash(b"\x00" * 32, "x" * 32)  # type: ignore[arg-type]
    with pytest.raises(LogProofError, match="leaf hash must be 32 bytes"):
        root_from_leaf_hashes([b"short"])


def test_entry_leaf_hash_is_domain_separated() -> None:
    entry = canonical_json({"kind": "release", "n": 1})
    assert LOG_ENTRY_PREFIX == b"camvault/v1/log-entry\n"
    assert entry_leaf_hash(entry) == H(b"\x00camvault/v1/log-entry\n" + entry)
    assert entry_leaf_hash(entry) != leaf_hash(entry)


# --- known answers ----------------------------------------------------------------------


def test_transparency_dev_vectors() -> None:
    hashes = [leaf_hash(x) for x in TD_LEAVES]
    for n in range(1, 9):
        assert root_from_leaf_hashes(hashes[:n]).hex() == TD_ROOTS[n - 1]
    for index, size, proof_hex in TD_INCLUSION:
        proof = inclusion_proof(hashes, index, size)
        assert [p.hex() for p in proof] == proof_hex
        verify_inclusion(hashes[index], index, size, proof, bytes.fromhex(TD_ROOTS[size - 1]))
    for old, new, proof_hex in TD_CONSISTENCY:
        proof = consistency_proof(hashes, old, new)
        assert [p.hex() for p in proof] == proof_hex
        r1, r2 = bytes.fromhex(TD_ROOTS[old - 1]), bytes.fromhex(TD_ROOTS[new - 1])
        verify_consistency(old, new, r1, r2, proof)


def test_go_sumdb_tlog_vectors() -> None:
    """Every root and proof of a 13-leaf tree as golang.org/x/mod/sumdb/tlog computes them."""
    data = json.loads((VECTORS / "go_note_vectors" / "vectors.json").read_text())
    hashes = [leaf_hash(bytes.fromhex(x)) for x in data["leaves_hex"]]
    assert [x.hex() for x in map(leaf_hash, TD_LEAVES)] == [h.hex() for h in hashes[:8]]
    roots = [bytes.fromhex(r) for r in data["roots_hex"]]
    assert len(roots) == 13
    for n in range(1, 14):
        assert root_from_leaf_hashes(hashes[:n]) == roots[n - 1]
    assert len(data["inclusion"]) == 13 * 14 // 2
    for v in data["inclusion"]:
        proof = inclusion_proof(hashes, v["index"], v["size"])
        assert [p.hex() for p in proof] == v["proof_hex"]
        verify_inclusion(hashes[v["index"]], v["index"], v["size"], proof, roots[v["size"] - 1])
    assert len(data["consistency"]) == 13 * 14 // 2
    for v in data["consistency"]:
        old, new = v["old_size"], v["new_size"]
        proof = consistency_proof(hashes, old, new)
        assert [p.hex() for p in proof] == v["proof_hex"]
        verify_consistency(old, new, roots[old - 1], roots[new - 1], proof)


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_tlog", VECTORS / "gen_tlog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tlog_json_reproduced() -> None:
    stored = json.loads((VECTORS / "tlog.json").read_text(encoding="utf-8"))
    assert _load_generator().build() == stored
    # And independently of the generator, with the reference:
    hashes = [leaf_hash(bytes.fromhex(x)) for x in stored["leaves_hex"]]
    assert [h.hex() for h in hashes] == stored["leaf_hashes_hex"]
    assert stored["empty_root_hex"] == EMPTY_ROOT.hex()
    roots = [ref_mth(hashes[:n]) for n in range(1, len(hashes) + 1)]
    assert [r.hex() for r in roots] == stored["roots_hex"]
    for v in stored["inclusion"]:
        i, n = v["index"], v["size"]
        assert [p.hex() for p in ref_path(i, hashes[:n])] == v["proof_hex"]
        verify_inclusion(hashes[i], i, n, [bytes.fromhex(p) for p in v["proof_hex"]], roots[n - 1])
    for v in stored["consistency"]:
        m, n = v["old_size"], v["new_size"]
        assert [p.hex() for p in ref_consistency(m, hashes[:n])] == v["proof_hex"]
        r1 = roots[m - 1] if m else EMPTY_ROOT
        verify_consistency(m, n, r1, roots[n - 1], [bytes.fromhex(p) for p in v["proof_hex"]])
    entry = stored["log_entry"]["entry_canonical_json"].encode()
    assert entry_leaf_hash(entry).hex() == stored["log_entry"]["leaf_hash_hex"]


# --- exhaustive agreement with the reference on small trees -----------------------------


def test_all_proofs_small_trees_match_reference() -> None:
    d = leaves()
    for n in range(1, 41):
        r = root(n)
        assert root_from_leaf_hashes(d[:n]) == r
        for i in range(n):
            proof = inclusion_proof(d, i, n)
            assert proof == ref_path(i, d[:n])
            verify_inclusion(d[i], i, n, proof, r)
        for m in range(0, n + 1):
            proof = consistency_proof(d, m, n)
            assert proof == ref_consistency(m, d[:n])
            verify_consistency(m, n, root(m), r, proof)


# --- property tests: valid proofs verify, every mutation fails --------------------------

sizes = st.integers(min_value=1, max_value=MAX_SIZE)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def flip(b: bytes, bit: int) -> bytes:
    out = bytearray(b)
    out[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(out)


@PROPERTY
@given(n=sizes, data=st.data())
def test_inclusion_property(n: int, data: st.DataObject) -> None:
    d = leaves()
    i = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    r = root(n)
    proof = inclusion_proof(d, i, n)
    assert proof == ref_path(i, d[:n])
    assert root_from_inclusion_proof(d[i], i, n, proof) == r
    verify_inclusion(d[i], i, n, proof, r)

    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    # Mutations that must always fail, each for its own reason.
    length_msg = "inclusion proof has"
    root_msg = "does not lead to the root"
    always_fail: list[tuple[str, bytes, int, int, list[bytes], bytes, str]] = [
        ("leaf bit", flip(d[i], bit), i, n, proof, r, root_msg),
        ("root bit", d[i], i, n, proof, flip(r, bit), root_msg),
        ("other leaf", d[(i + 1) % (n + 1)], i, n, proof, r, root_msg),
        ("extended", d[i], i, n, [*proof, r], r, length_msg),
        ("prepended", d[i], i, n, [r, *proof], r, length_msg),
    ]
    if proof:
        j = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        bad = list(proof)
        bad[j] = flip(bad[j], bit)
        always_fail.append(("proof bit", d[i], i, n, bad, r, root_msg))
        always_fail.append(("truncated", d[i], i, n, proof[:-1], r, length_msg))
        always_fail.append(("dropped first", d[i], i, n, proof[1:], r, length_msg))
        if len(proof) > 1:
            swapped = [proof[1], proof[0], *proof[2:]]
            if swapped != proof:
                always_fail.append(("swapped elements", d[i], i, n, swapped, r, root_msg))
    for label, leaf, i2, n2, p2, r2, msg in always_fail:
        assert not ref_verify_inclusion(leaf, i2, n2, p2, r2), label
        with pytest.raises(LogProofError, match=msg):
            verify_inclusion(leaf, i2, n2, p2, r2)

    # Index off by one: another leaf position never has the same path; refused either for
    # the range, the length, or the root.
    for i2 in (i - 1, i + 1):
        assert not ref_verify_inclusion(d[i], i2, n, proof, r)
        with pytest.raises(LogProofError, match=r"not below|inclusion proof has|does not lead"):
            verify_inclusion(d[i], i2, n, proof, r)
    # Size off by one: the proof authenticates the root, not the size. When (i, n +- 1) has
    # the same path shape the computation is identical and the proof is accepted, by the
    # reference too; the size must come from the signed checkpoint. The library must agree
    # with the reference in every case.
    for n2 in (n - 1, n + 1):
        expected = ref_verify_inclusion(d[i], i, n2, proof, r)
        assert lib_accepts(verify_inclusion, d[i], i, n2, proof, r) == expected


@PROPERTY
@given(n=sizes, data=st.data())
def test_consistency_property(n: int, data: st.DataObject) -> None:
    d = leaves()
    m = data.draw(st.integers(min_value=1, max_value=n), label="old size")
    r1, r2 = root(m), root(n)
    proof = consistency_proof(d, m, n)
    assert proof == ref_consistency(m, d[:n])
    verify_consistency(m, n, r1, r2, proof)
    # The callback variant agrees.
    assert consistency_proof_from(lambda a, b: ref_mth(d[a:b]), m, n) == proof

    bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
    length_msg = "consistency proof has"
    cases: list[tuple[str, int, int, bytes, bytes, list[bytes], str]] = [
        # When old_size is a power of two the old root seeds both computations, so a wrong
        # old root shows up as a wrong new root.
        ("old root bit", m, n, flip(r1, bit), r2, proof, "(old|new) root|different roots"),
        ("new root bit", m, n, r1, flip(r2, bit), proof, "new root|two different roots"),
        ("extended", m, n, r1, r2, [*proof, r2], length_msg),
        ("prepended", m, n, r1, r2, [r1, *proof], length_msg),
    ]
    if m < n:
        j = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        bad = list(proof)
        bad[j] = flip(bad[j], bit)
        cases += [
            ("proof bit", m, n, r1, r2, bad, "does not reproduce the (old|new) root"),
            ("swapped roots", m, n, r2, r1, proof, "does not reproduce the (old|new) root"),
            ("truncated", m, n, r1, r2, proof[:-1], length_msg),
            ("dropped first", m, n, r1, r2, proof[1:], length_msg),
            ("empty", m, n, r1, r2, [], length_msg),
            ("old larger", n, m, r2, r1, proof, "larger than new tree size"),
        ]
    for label, m2, n2, a, b, p2, msg in cases:
        assert not ref_verify_consistency(m2, n2, a, b, p2), label
        with pytest.raises(LogProofError, match=msg):
            verify_consistency(m2, n2, a, b, p2)

    # Sizes off by one: as for inclusion, a proof binds roots, not sizes; the library must
    # agree with the reference verifier exactly (accepting only identical computations).
    for m2, n2 in ((m - 1, n), (m + 1, n), (m, n - 1), (m, n + 1)):
        expected = ref_verify_consistency(m2, n2, r1, r2, proof)
        assert lib_accepts(verify_consistency, m2, n2, r1, r2, proof) == expected, (m2, n2)


# --- the callback (subtree hash) variants ------------------------------------------------


def is_complete_subtree(start: int, end: int) -> bool:
    width = end - start
    return width & (width - 1) == 0 and start % width == 0


def test_callback_ranges_are_cacheable() -> None:
    """get_hash only sees complete subtrees or ranges ending at one of the two tree sizes."""
    d = leaves()
    for n in range(1, 70):
        for i in range(n):
            calls: list[tuple[int, int]] = []

            def get(a: int, b: int, calls: list[tuple[int, int]] = calls) -> bytes:
                calls.append((a, b))
                return ref_mth(d[a:b])

            assert inclusion_proof_from(get, i, n) == ref_path(i, d[:n])
            for a, b in calls:
                assert 0 <= a < b <= n
                assert is_complete_subtree(a, b) or b == n, (i, n, a, b)
        for m in range(1, n + 1):
            calls = []

            def get2(a: int, b: int, calls: list[tuple[int, int]] = calls) -> bytes:
                calls.append((a, b))
                return ref_mth(d[a:b])

            assert consistency_proof_from(get2, m, n) == ref_consistency(m, d[:n])
            for a, b in calls:
                assert 0 <= a < b <= n
                assert is_complete_subtree(a, b) or b in (m, n), (m, n, a, b)


def test_callback_with_cache() -> None:
    """A store can memoise complete subtrees across tree sizes and still get right proofs."""
    d = leaves()
    memo: dict[tuple[int, int], bytes] = {}
    misses = 0

    def get(a: int, b: int) -> bytes:
        nonlocal misses
        if is_complete_subtree(a, b) and (a, b) in memo:
            return memo[(a, b)]
        misses += 1
        h = ref_mth(d[a:b])
        if is_complete_subtree(a, b):
            memo[(a, b)] = h
        return h

    for n in range(1, 129):
        for i in range(0, n, 7):
            proof = inclusion_proof_from(get, i, n)
            verify_inclusion(d[i], i, n, proof, root(n))
    assert memo  # complete subtrees were cached
    first = misses
    for i in range(0, 128, 7):
        inclusion_proof_from(get, i, 128)
    assert misses == first  # a power-of-two tree is made of cached subtrees only


def test_callback_returning_bad_hash_is_refused() -> None:
    with pytest.raises(LogProofError, match=r"subtree hash of leaves \[1, 2\) must be 32 bytes"):
        inclusion_proof_from(lambda a, b: b"\x00" * 31, 0, 2)


# --- refusals with their reasons --------------------------------------------------------

Z = b"\x00" * 32


@pytest.mark.parametrize(
    ("leaf", "index", "size", "proof", "root_", "message"),
    [
        (Z, 0, 0, [], Z, "leaf index 0 is not below tree size 0"),
        (Z, 5, 5, [], Z, "leaf index 5 is not below tree size 5"),
        (Z, -1, 5, [], Z, "leaf index -1 is not below tree size 5"),
        (Z, 0, 2**64, [], Z, r"tree size 18446744073709551616 is outside 0..2\*\*64-1"),
        (Z, 0, -1, [], Z, "tree size -1 is outside"),
        (Z, 0, True, [], Z, "tree size must be an integer, got bool"),
        (Z, 0, 1.0, [], Z, "tree size must be an integer, got float"),
        (Z, False, 1, [], Z, "leaf index must be an integer, got bool"),
        (Z[:31], 0, 1, [], Z, "leaf hash must be 32 bytes, got 31 bytes"),
        (Z, 0, 1, [], Z + b"\x00", "root hash must be 32 bytes, got 33 bytes"),
        (Z, 0, 2, [Z[:16]], Z, "inclusion proof hash 0 must be 32 bytes"),
        (Z, 0, 2, [], Z, "inclusion proof has 0 hashes, expected 1 for index 0"),
        (Z, 0, 1, [Z], Z, "inclusion proof has 1 hashes, expected 0"),
        (Z, 0, 1, [], b"\x01" * 32, "does not lead to the root of the tree of size 1"),
    ],
)
def test_verify_inclusion_refusals(
    leaf: bytes, index: Any, size: Any, proof: list[bytes], root_: bytes, message: str
) -> None:
    with pytest.raises(LogProofError, match=message):
        verify_inclusion(leaf, index, size, proof, root_)


@pytest.mark.parametrize(
    ("old", "new", "r1", "r2", "proof", "message"),
    [
        (5, 4, Z, Z, [], "old tree size 5 is larger than new tree size 4"),
        (0, 4, EMPTY_ROOT, Z, [Z], "consistency proof has 1 hashes, expected 0"),
        (0, 4, Z, Z, [], "old tree of size 0 has a root other than the empty-tree hash"),
        (0, 0, Z, Z, [], "old tree of size 0 has a root other than the empty-tree hash"),
        (3, 3, Z, b"\x01" * 32, [], "two different roots for the same tree size 3"),
        (3, 3, Z, Z, [Z], "consistency proof has 1 hashes, expected 0"),
        (3, 4, Z, Z, [], "consistency proof has 0 hashes, expected 3 between sizes 3 and 4"),
        (1, 2**64, Z, Z, [], "new tree size 18446744073709551616 is outside"),
        (-1, 2, Z, Z, [], "old tree size -1 is outside"),
        (1, 2, Z[:1], Z, [Z], "old root hash must be 32 bytes"),
        (1, 2, Z, Z[:1], [Z], "new root hash must be 32 bytes"),
        (1, 2, Z, Z, [b""], "consistency proof hash 0 must be 32 bytes, got 0 bytes"),
    ],
)
def test_verify_consistency_refusals(
    old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes], message: str
) -> None:
    with pytest.raises(LogProofError, match=message):
        verify_consistency(old, new, r1, r2, proof)


def test_trivial_consistency_cases_accepted() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 7, EMPTY_ROOT, root(7), [])
    verify_consistency(7, 7, root(7), root(7), [])


def test_generation_refusals() -> None:
    d = leaves()[:5]
    with pytest.raises(LogProofError, match="leaf index 5 is not below tree size 5"):
        inclusion_proof(d, 5, 5)
    with pytest.raises(LogProofError, match="tree size 6 exceeds the 5 leaf hashes given"):
        inclusion_proof(d, 0, 6)
    with pytest.raises(LogProofError, match="tree size 6 exceeds the 5 leaf hashes given"):
        consistency_proof(d, 1, 6)
    with pytest.raises(LogProofError, match="old tree size 4 is larger than new tree size 3"):
        consistency_proof(d, 4, 3)
    with pytest.raises(LogProofError, match="old tree size -1 is outside"):
        consistency_proof_from(lambda a, b: Z, -1, 3)


def test_huge_tree_sizes_are_handled() -> None:
    """Sizes near 2**64 cost O(64) work and fail on the root, not on arithmetic."""
    top = 2**64 - 1
    proof = [bytes([i]) * 32 for i in range(64)]
    with pytest.raises(LogProofError, match="does not lead to the root"):
        verify_inclusion(Z, top - 1, top, proof[:63], Z)
    with pytest.raises(LogProofError, match="inclusion proof has 63 hashes, expected 64"):
        verify_inclusion(Z, 0, 2**63 + 1, proof[:63], Z)
    length = len(consistency_proof_from(lambda a, b: Z, 2**63 + 5, top))
    with pytest.raises(LogProofError, match=r"does not reproduce the (old|new) root"):
        verify_consistency(2**63 + 5, top, Z, Z, [Z] * length)
