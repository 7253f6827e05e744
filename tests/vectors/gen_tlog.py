"""Write tests/vectors/tlog.json: known answers for crypto/tlog/merkle.py and crypto/tlog/note.py.

Deterministic: fixed leaves, a fixed Ed25519 seed, no randomness (Ed25519 signatures are
deterministic, RFC 8032 section 5.1.6). Run from the repository root:

    .venv/bin/python tests/vectors/gen_tlog.py

tests/crypto/test_tlog.py and test_note.py recompute every value with the library and compare.
The Merkle values agree with the independent Go implementations (golang.org/x/mod/sumdb/tlog,
transparency-dev/merkle test data); see tests/vectors/go_note_vectors/.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crypto.canonical import canonical_json  # noqa: E402
from crypto.tlog.merkle import (  # noqa: E402
    consistency_proof,
    entry_leaf_hash,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
)
from crypto.tlog.note import Checkpoint, NoteSigner, sign_checkpoint  # noqa: E402

OUT = Path(__file__).resolve().parent / "tlog.json"

TREE_SIZE = 40
# The eight leaves of the RFC 6962 test tree used by transparency-dev/merkle and Certificate
# Transparency, then camvault's own.
RFC6962_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
INCLUSION = [(0, 1), (0, 8), (5, 8), (2, 3), (1, 5), (12, 13), (31, 33), (32, 33), (17, 40)]
INCLUSION += [(39, 40)]
CONSISTENCY = [(1, 1), (1, 8), (6, 8), (2, 5), (6, 7), (3, 40), (13, 33), (32, 40), (16, 40)]
CONSISTENCY += [(39, 40), (0, 40), (40, 40)]
ORIGIN = "camvault.io/custodian/test-1"
ENTRY = {"kind": "test", "n": 1, "site": "site-0001"}


def leaves() -> list[bytes]:
    extra = [f"camvault/test/leaf/{i}".encode() for i in range(len(RFC6962_LEAVES), TREE_SIZE)]
    return RFC6962_LEAVES + extra


def seed_for(name: str) -> bytes:
    """The test seed of a key name: SHA-256("camvault/test/note-seed\\n" || name)."""
    return hashlib.sha256(b"camvault/test/note-seed\n" + name.encode()).digest()


def build() -> dict[str, Any]:
    data = leaves()
    hashes = [leaf_hash(d) for d in data]
    roots = [root_from_leaf_hashes(hashes[:n]) for n in range(1, TREE_SIZE + 1)]
    signer = NoteSigner(ORIGIN, seed_for(ORIGIN))
    checkpoint = Checkpoint(ORIGIN, TREE_SIZE, roots[-1])
    entry_bytes = canonical_json(ENTRY)
    return {
        "provenance": "tests/vectors/gen_tlog.py (crypto/tlog.py, crypto/note.py)",
        "leaves_hex": [d.hex() for d in data],
        "leaf_hashes_hex": [h.hex() for h in hashes],
        "empty_root_hex": hashlib.sha256(b"").hexdigest(),
        "roots_hex": [r.hex() for r in roots],
        "inclusion": [
            {"index": i, "size": n, "proof_hex": [p.hex() for p in inclusion_proof(hashes, i, n)]}
            for i, n in INCLUSION
        ],
        "consistency": [
            {
                "old_size": m,
                "new_size": n,
                "proof_hex": [p.hex() for p in consistency_proof(hashes, m, n)],
            }
            for m, n in CONSISTENCY
        ],
        "log_entry": {
            "entry_canonical_json": entry_bytes.decode(),
            "leaf_hash_hex": entry_leaf_hash(entry_bytes).hex(),
        },
        "checkpoint": {
            "origin": ORIGIN,
            "seed_hex": seed_for(ORIGIN).hex(),
            "signer_key": signer.to_text(),
            "verifier_key": signer.verifier.to_text(),
            "size": TREE_SIZE,
            "root_hex": roots[-1].hex(),
            "text": checkpoint.to_text(),
            "signed_note": sign_checkpoint(checkpoint, signer).decode(),
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
