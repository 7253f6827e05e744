"""Merkle tree hashing and proofs of a transparency log (RFC 9162, section 2.1).

The hasher and the proofs are pure functions over 32-byte SHA-256 hashes; nothing here knows
where leaves are stored. Each custodian's escrow_service keeps its own leaves and may feed
proof generation either the full list of leaf hashes or a callback that returns the hash of
any range of leaves (so it can cache the hashes of complete subtrees).

Vocabulary (RFC 9162 section 2.1.1):

* ``leaf_hash(d)   = SHA-256(0x00 || d)``
* ``node_hash(l, r) = SHA-256(0x01 || l || r)``
* ``MTH({})        = SHA-256()`` (the empty string), ``MTH({d0}) = leaf_hash(d0)``
* ``MTH(D[n])      = node_hash(MTH(D[0:k]), MTH(D[k:n]))`` where ``k`` is the largest power of
  two smaller than ``n``.

Verification functions raise :class:`~crypto.errors.LogProofError` with a specific message and
return ``None`` on success; they never return ``False``. Their preconditions are checked
explicitly, including the exact proof length implied by the sizes, so a proof with one hash
too many or too few is refused before any hashing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from crypto.errors import LogProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LOG_ENTRY_PREFIX",
    "MAX_TREE_SIZE",
    "SubtreeHashFn",
    "consistency_proof",
    "consistency_proof_from",
    "entry_leaf_hash",
    "inclusion_proof",
    "inclusion_proof_from",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1)."""

MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size accepted: sizes are uint64 on the wire (C2SP tlog-checkpoint)."""

LOG_ENTRY_PREFIX = b"camvault/v1/log-entry\n"
"""Domain prefix of a camvault log leaf: leaf data = prefix || canonical JSON of the entry."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

SubtreeHashFn = Callable[[int, int], bytes]
"""``get_hash(start, end)`` returns MTH of the leaves ``[start, end)`` (``0 <= start < end``)."""


# --- hasher (RFC 9162 section 2.1.1) ----------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    _check_hash(left, "left child hash")
    _check_hash(right, "right child hash")
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def entry_leaf_hash(entry_bytes: bytes) -> bytes:
    """Leaf hash of a camvault log entry: ``leaf_hash(LOG_ENTRY_PREFIX || entry_bytes)``.

    ``entry_bytes`` is the RFC 8785 canonical JSON of the entry, as defined by escrow_service;
    this function does not interpret it.
    """
    return leaf_hash(LOG_ENTRY_PREFIX + entry_bytes)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a tree given its leaf hashes in order (RFC 9162 section 2.1.1).

    Works left to right keeping one hash per complete subtree on a stack (O(log n) extra
    memory beyond the input), then folds the stack from the right, which yields exactly the
    RFC's recursive split at the largest power of two.
    """
    stack: list[tuple[bytes, int]] = []  # (hash, number of leaves), sizes strictly decreasing
    for h in hashes:
        _check_hash(h, "leaf hash")
        node, size = h, 1
        while stack and stack[-1][1] == size:
            left, _ = stack.pop()
            node, size = node_hash(left, node), size * 2
        stack.append((node, size))
    if not stack:
        return EMPTY_ROOT
    root = stack[-1][0]
    for left, _ in reversed(stack[:-1]):
        root = node_hash(left, root)
    return root


# --- proof generation (RFC 9162 sections 2.1.3.1 and 2.1.4.1) ---------------------------


def inclusion_proof_from(get_hash: SubtreeHashFn, index: int, tree_size: int) -> list[bytes]:
    """Inclusion proof (audit path) of leaf ``index`` in the tree of ``tree_size`` leaves.

    Implements PATH(m, D[n]) of RFC 9162 section 2.1.3.1. ``get_hash(start, end)`` must return
    MTH of the leaves ``[start, end)``. It is only called with ranges that are either a
    complete subtree (``end - start`` a power of two and ``start`` a multiple of it, whose
    hash never changes once the log holds it, so a store may cache it forever) or a range
    ending at ``tree_size``. The proof is ordered from the leaf's sibling up to the root.
    """
    _check_size(tree_size, "tree size")
    _check_index(index, tree_size)
    proof: list[bytes] = []
    lo, hi = 0, tree_size
    # Walk down from the root; the RFC's recursion emits the sibling of each step after the
    # sub-path, so the siblings are collected top-down and reversed at the end.
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            proof.append(_get(get_hash, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_get(get_hash, lo, lo + k))
            lo = lo + k
    proof.reverse()
    return proof


def consistency_proof_from(get_hash: SubtreeHashFn, old_size: int, new_size: int) -> list[bytes]:
    """Consistency proof between the trees of ``old_size`` and ``new_size`` leaves.

    Implements PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 section 2.1.4.1, for
    ``0 < old_size <= new_size`` (the proof is empty when the sizes are equal); ``old_size ==
    0`` is accepted too and gives the empty proof, since the empty tree is a prefix of every
    tree. ``get_hash`` is called with complete subtrees or ranges ending at ``old_size`` or
    ``new_size`` (see :func:`inclusion_proof_from`).
    """
    _check_size(old_size, "old tree size")
    _check_size(new_size, "new tree size")
    if old_size > new_size:
        raise LogProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    proof: list[bytes] = []
    lo, hi = 0, new_size
    complete = True  # the RFC's flag b: is [lo, hi) still the whole old tree's left edge?
    while old_size != hi:
        k = _largest_power_of_two_below(hi - lo)
        if old_size <= lo + k:
            proof.append(_get(get_hash, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_get(get_hash, lo, lo + k))
            lo = lo + k
            complete = False
    if not complete:
        # SUBPROOF(m, D[m], false) = {MTH(D[m])}: the verifier does not know this subtree.
        proof.append(_get(get_hash, lo, hi))
    proof.reverse()
    return proof


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """Inclusion proof computed from the first ``tree_size`` of ``leaf_hashes`` (O(n))."""
    _check_size(tree_size, "tree size")
    _check_available(leaf_hashes, tree_size)
    return inclusion_proof_from(_range_hasher(leaf_hashes), index, tree_size)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """Consistency proof computed from the first ``new_size`` of ``leaf_hashes`` (O(n))."""
    _check_size(new_size, "new tree size")
    _check_available(leaf_hashes, new_size)
    return consistency_proof_from(_range_hasher(leaf_hashes), old_size, new_size)


# --- proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) -------------------------


def root_from_inclusion_proof(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 section 2.1.3.2, steps 1-5).

    Preconditions, each refused with :class:`LogProofError`: ``0 <= index < tree_size <=
    2**64 - 1``; every hash is 32 bytes; ``len(proof)`` is exactly the audit path length for
    ``(index, tree_size)``.
    """
    _check_size(tree_size, "tree size")
    _check_index(index, tree_size)
    _check_hash(leaf, "leaf hash")
    expected = _inclusion_proof_length(index, tree_size)
    if len(proof) != expected:
        raise LogProofError(
            f"inclusion proof has {len(proof)} hashes, expected {expected} "
            f"for index {index} in a tree of size {tree_size}"
        )
    for i, p in enumerate(proof):
        _check_hash(p, f"inclusion proof hash {i}")

    # RFC 9162 section 2.1.3.2.
    fn, sn = index, tree_size - 1  # step 2
    r = leaf  # step 3
    for p in proof:  # step 4
        if sn == 0:  # step 4.1 (unreachable after the length check; kept as in the RFC)
            raise LogProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:  # step 4.2
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:  # step 4.3
            r = node_hash(r, p)
        fn >>= 1  # step 4.4
        sn >>= 1
    if sn != 0:  # step 5 (sn must be 0)
        raise LogProofError("inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree with ``root``.

    RFC 9162 section 2.1.3.2. Raises :class:`LogProofError` if a precondition fails (see
    :func:`root_from_inclusion_proof`) or if the computed root differs from ``root``.
    """
    _check_hash(root, "root hash")
    computed = root_from_inclusion_proof(leaf, index, tree_size, proof)
    if not hmac.compare_digest(computed, root):
        raise LogProofError(
            f"inclusion proof for index {index} does not lead to the root of the tree "
            f"of size {tree_size}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (``old_size``, ``old_root``) is a prefix of (``new_size``, ``new_root``).

    RFC 9162 section 2.1.4.2, for ``0 < old_size < new_size``. Two edge cases the RFC leaves
    to the caller are handled here, both with an empty proof (as transparency-dev/merkle
    does): ``old_size == new_size`` requires equal roots; ``old_size == 0`` requires
    ``old_root`` to be the empty-tree hash (anything else is a malformed tree head).

    Preconditions, each refused with :class:`LogProofError`: ``0 <= old_size <= new_size <=
    2**64 - 1``; every hash is 32 bytes; ``len(proof)`` is exactly the length implied by the
    sizes. Then the proof must reproduce both roots.
    """
    _check_size(old_size, "old tree size")
    _check_size(new_size, "new tree size")
    _check_hash(old_root, "old root hash")
    _check_hash(new_root, "new root hash")
    if old_size > new_size:
        raise LogProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    expected = _consistency_proof_length(old_size, new_size)
    if len(proof) != expected:
        raise LogProofError(
            f"consistency proof has {len(proof)} hashes, expected {expected} "
            f"between sizes {old_size} and {new_size}"
        )
    for i, p in enumerate(proof):
        _check_hash(p, f"consistency proof hash {i}")
    if old_size == 0:
        if not hmac.compare_digest(old_root, EMPTY_ROOT):
            raise LogProofError("old tree of size 0 has a root other than the empty-tree hash")
        return
    if old_size == new_size:
        if not hmac.compare_digest(old_root, new_root):
            raise LogProofError(f"two different roots for the same tree size {old_size}")
        return

    # RFC 9162 section 2.1.4.2 (step 1, empty path, is excluded by the length check).
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # step 6.1 (unreachable after the length check; kept as in the RFC)
            raise LogProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:  # step 6.2
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:  # step 6.3
            sr = node_hash(sr, c)
        fn >>= 1  # step 6.4
        sn >>= 1
    if sn != 0:  # step 7
        raise LogProofError("consistency proof is shorter than the path to the root")
    if not hmac.compare_digest(fr, old_root):
        raise LogProofError(f"consistency proof does not reproduce the old root (size {old_size})")
    if not hmac.compare_digest(sr, new_root):
        raise LogProofError(f"consistency proof does not reproduce the new root (size {new_size})")


# --- helpers ----------------------------------------------------------------------------


def _check_hash(h: object, what: str) -> None:
    if not isinstance(h, bytes) or len(h) != HASH_SIZE:
        got = f"{len(h)} bytes" if isinstance(h, bytes) else type(h).__name__
        raise LogProofError(f"{what} must be {HASH_SIZE} bytes, got {got}")


def _check_size(size: object, what: str) -> None:
    # bool is an int subclass: refuse it explicitly, True is not a tree size.
    if not isinstance(size, int) or isinstance(size, bool):
        raise LogProofError(f"{what} must be an integer, got {type(size).__name__}")
    if not 0 <= size <= MAX_TREE_SIZE:
        raise LogProofError(f"{what} {size} is outside 0..2**64-1")


def _check_index(index: object, tree_size: int) -> None:
    if not isinstance(index, int) or isinstance(index, bool):
        raise LogProofError(f"leaf index must be an integer, got {type(index).__name__}")
    if not 0 <= index < tree_size:
        raise LogProofError(f"leaf index {index} is not below tree size {tree_size}")


def _check_available(leaf_hashes: Sequence[bytes], size: int) -> None:
    if len(leaf_hashes) < size:
        raise LogProofError(f"tree size {size} exceeds the {len(leaf_hashes)} leaf hashes given")


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _get(get_hash: SubtreeHashFn, start: int, end: int) -> bytes:
    h = get_hash(start, end)
    _check_hash(h, f"subtree hash of leaves [{start}, {end})")
    return h


def _range_hasher(leaf_hashes: Sequence[bytes]) -> SubtreeHashFn:
    def get_hash(start: int, end: int) -> bytes:
        return root_from_leaf_hashes(leaf_hashes[start:end])

    return get_hash


def _inclusion_proof_length(index: int, tree_size: int) -> int:
    """Audit path length for leaf ``index`` of a tree of ``tree_size`` leaves.

    The path has one hash per level where the leaf's ancestors differ from the last leaf's
    (``inner``), plus one per left-hand complete subtree on the right border (``border``).
    """
    inner = (index ^ (tree_size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    """Length of PROOF(old_size, D[new_size]) (0 when ``old_size`` is 0 or equal to the other)."""
    if old_size == 0 or old_size == new_size:
        return 0
    # The proof is the audit path of the old tree's last leaf, minus the levels inside the
    # largest complete subtree ending at old_size (its root stands in for them), plus that
    # root itself unless it is the whole old tree (old_size a power of two).
    shift = (old_size & -old_size).bit_length() - 1  # trailing zero bits of old_size
    length = _inclusion_proof_length(old_size - 1, new_size) - shift
    if old_size != 1 << shift:
        length += 1
    return length
