// RFC 9162 Merkle tree hashing and proof verification (mirrors crypto/tlog/merkle.py;
// docs/FORMAT.md part 4.1-4.2). Sizes and indices are bigints: a tree holds up to 2^64 - 1
// leaves, beyond JavaScript's exact integers.

import { sha256 } from "@noble/hashes/sha2.js";
import { concat, equalBytes, toHex, utf8 } from "../bytes";
import { LogProofError } from "../errors";

export const HASH_SIZE = 32;
export const MAX_TREE_SIZE = (1n << 64n) - 1n;
/** MTH({}) = SHA-256("") (RFC 9162 section 2.1.1). */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));
export const EMPTY_ROOT_HEX = toHex(EMPTY_ROOT);
const LOG_ENTRY_PREFIX = utf8("camvault/v1/log-entry\n");

/** SHA-256(0x00 || data): the 0x00/0x01 prefixes keep leaves and nodes apart (section 2.1.1). */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(concat(Uint8Array.of(0), data));
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/** Leaf hash of a camvault log entry (its canonical JSON bytes), FORMAT.md part 4.1. */
export function entryLeafHash(entry: Uint8Array): Uint8Array {
  return leafHash(concat(LOG_ENTRY_PREFIX, entry));
}

/** MTH of the given leaf hashes, one left-to-right pass with a stack of complete subtrees. */
export function rootFromLeafHashes(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT;
  const stack: { hash: Uint8Array; size: number }[] = [];
  for (const leaf of leaves) {
    checkHash(leaf, "leaf hash");
    let item = { hash: leaf, size: 1 };
    while (stack.length > 0 && stack[stack.length - 1]!.size === item.size) {
      const left = stack.pop()!;
      item = { hash: nodeHash(left.hash, item.hash), size: left.size * 2 };
    }
    stack.push(item);
  }
  let acc = stack.pop()!.hash;
  while (stack.length > 0) acc = nodeHash(stack.pop()!.hash, acc);
  return acc;
}

function checkHash(h: Uint8Array, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE)
    throw new LogProofError(`${what} must be ${HASH_SIZE} bytes`);
}

function checkSize(n: bigint, what: string): void {
  if (n < 0n || n > MAX_TREE_SIZE) throw new LogProofError(`${what} ${n} is outside 0 .. 2^64 - 1`);
}

const bitLength = (n: bigint): number => (n === 0n ? 0 : n.toString(2).length);
const popCount = (n: bigint): number => [...n.toString(2)].filter((c) => c === "1").length;

/** inner = bitlen(index XOR (size - 1)), border = popcount(index >> inner) (FORMAT.md 4.2.1). */
function decompose(index: bigint, size: bigint): [number, number] {
  const inner = bitLength(index ^ (size - 1n));
  return [inner, popCount(index >> BigInt(inner))];
}

/** The root an inclusion proof leads to (RFC 9162 section 2.1.3.2), after every precondition. */
export function rootFromInclusionProof(
  leaf: Uint8Array,
  index: bigint | number,
  treeSize: bigint | number,
  proof: readonly Uint8Array[],
): Uint8Array {
  const m = BigInt(index);
  const n = BigInt(treeSize);
  checkSize(n, "tree size");
  if (m < 0n || m >= n) throw new LogProofError(`index ${m} is not inside a tree of size ${n}`);
  checkHash(leaf, "leaf hash");
  const [inner, border] = decompose(m, n);
  if (proof.length !== inner + border)
    throw new LogProofError(
      `inclusion proof has ${proof.length} hashes, expected ${inner + border} for index ${m} in size ${n}`,
    );
  proof.forEach((p, i) => checkHash(p, `inclusion proof hash ${i}`));
  // Steps of section 2.1.3.2: fn = index, sn = size - 1; right siblings while fn is odd or
  // fn == sn, left siblings otherwise.
  let fn = m;
  let sn = n - 1n;
  let r = leaf;
  for (const p of proof) {
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new LogProofError("inclusion proof is shorter than the path to the root");
  return r;
}

/** Check that `leaf` is leaf `index` of the tree (`treeSize`, `root`). */
export function verifyInclusion(
  leaf: Uint8Array,
  index: bigint | number,
  treeSize: bigint | number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkHash(root, "root hash");
  const computed = rootFromInclusionProof(leaf, index, treeSize, proof);
  if (!equalBytes(computed, root))
    throw new LogProofError(
      `inclusion proof for index ${index} does not lead to the root of the tree of size ${treeSize}`,
    );
}

function consistencyProofLength(oldSize: bigint, newSize: bigint): number {
  if (oldSize === 0n || oldSize === newSize) return 0;
  const [inner, border] = decompose(oldSize - 1n, newSize);
  let shift = 0;
  while (((oldSize >> BigInt(shift)) & 1n) === 0n) shift++;
  return inner + border - shift + (oldSize === 1n << BigInt(shift) ? 0 : 1);
}

/**
 * Check that (`oldSize`, `oldRoot`) is a prefix of (`newSize`, `newRoot`): RFC 9162 section
 * 2.1.4.2, plus the edge cases of FORMAT.md 4.2.2 (equal sizes, or an empty old tree, with an
 * empty proof).
 */
export function verifyConsistency(
  oldSizeIn: bigint | number,
  newSizeIn: bigint | number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  const oldSize = BigInt(oldSizeIn);
  const newSize = BigInt(newSizeIn);
  checkSize(oldSize, "old tree size");
  checkSize(newSize, "new tree size");
  checkHash(oldRoot, "old root hash");
  checkHash(newRoot, "new root hash");
  if (oldSize > newSize) throw new LogProofError(`old tree size ${oldSize} is larger than new tree size ${newSize}`);
  const expected = consistencyProofLength(oldSize, newSize);
  if (proof.length !== expected)
    throw new LogProofError(
      `consistency proof has ${proof.length} hashes, expected ${expected} between sizes ${oldSize} and ${newSize}`,
    );
  proof.forEach((p, i) => checkHash(p, `consistency proof hash ${i}`));
  if (oldSize === 0n) {
    if (!equalBytes(oldRoot, EMPTY_ROOT))
      throw new LogProofError("old tree of size 0 has a root other than the empty-tree hash");
    return;
  }
  if (oldSize === newSize) {
    if (!equalBytes(oldRoot, newRoot)) throw new LogProofError(`two different roots for the same tree size ${oldSize}`);
    return;
  }
  const path = [...proof];
  if ((oldSize & (oldSize - 1n)) === 0n) path.unshift(oldRoot); // step 2: a power of 2
  let fn = oldSize - 1n; // step 3
  let sn = newSize - 1n;
  while ((fn & 1n) === 1n) {
    // step 4
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0]!; // step 5
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    // step 6
    if (sn === 0n) throw new LogProofError("consistency proof is longer than the path to the root");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new LogProofError("consistency proof is shorter than the path to the root"); // step 7
  if (!equalBytes(fr, oldRoot))
    throw new LogProofError(`consistency proof does not reproduce the old root (size ${oldSize})`);
  if (!equalBytes(sr, newRoot))
    throw new LogProofError(`consistency proof does not reproduce the new root (size ${newSize})`);
}
