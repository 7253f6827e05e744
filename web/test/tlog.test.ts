// tests/vectors/tlog.json and tests/vectors/go_note_vectors/vectors.json (Go sumdb/tlog and
// sumdb/note) against src/crypto/tlog/.
import { describe, expect, it } from "vitest";
import { fromHex, toHex, utf8 } from "../src/crypto/bytes";
import {
  EMPTY_ROOT,
  EMPTY_ROOT_HEX,
  entryLeafHash,
  leafHash,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from "../src/crypto/tlog/merkle";
import {
  CheckpointError,
  InvalidNoteSignatureError,
  NoteError,
  NoteSigner,
  NoteVerifier,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  checkpointToText,
  signCheckpoint,
  signNote,
  UnverifiedNoteError,
} from "../src/crypto/tlog/note";
import { LogProofError } from "../src/crypto/errors";
import { flip, loadVectors } from "./vectors";
import { mixedOrderSignature } from "./forge";

const T = loadVectors("tlog.json");
const G = loadVectors("go_note_vectors/vectors.json");
const h = (x: string): Uint8Array => fromHex(x);

for (const [label, V] of [
  ["tlog.json", T],
  ["go vectors.json", G],
] as const) {
  describe(`RFC 9162 hashing and proofs: ${label}`, () => {
    const leaves: Uint8Array[] = V.leaves_hex.map((x: string) => leafHash(h(x)));

    it("leaf hashes and every root", () => {
      if (V.leaf_hashes_hex) expect(leaves.map(toHex)).toEqual(V.leaf_hashes_hex);
      V.roots_hex.forEach((root: string, i: number) => {
        // tlog.json lists sizes 1..n; Go's vectors too (roots_hex[i] = MTH of i+1 leaves).
        expect(toHex(rootFromLeafHashes(leaves.slice(0, i + 1)))).toBe(root);
      });
    });

    it("every inclusion proof verifies, and fails for the right reason when altered", () => {
      expect(V.inclusion.length).toBeGreaterThan(0);
      for (const v of V.inclusion) {
        const proof = v.proof_hex.map(h);
        const root = h(V.roots_hex[v.size - 1]);
        const leaf = leaves[v.index]!;
        verifyInclusion(leaf, v.index, v.size, proof, root);
        expect(() => verifyInclusion(flip(leaf, 0), v.index, v.size, proof, root)).toThrow(/does not lead to the root/);
        if (proof.length > 0) {
          expect(() => verifyInclusion(leaf, v.index, v.size, [flip(proof[0], 31), ...proof.slice(1)], root)).toThrow(
            /does not lead to the root/,
          );
          expect(() => verifyInclusion(leaf, v.index, v.size, proof.slice(1), root)).toThrow(/hashes, expected/);
        }
        expect(() => verifyInclusion(leaf, v.index, v.size, [...proof, root], root)).toThrow(/hashes, expected/);
        expect(() => verifyInclusion(leaf, v.size, v.size, proof, root)).toThrow(/not inside a tree/);
      }
    });

    it("every consistency proof verifies, and fails for the right reason when altered", () => {
      expect(V.consistency.length).toBeGreaterThan(0);
      const root = (n: number): Uint8Array => (n === 0 ? EMPTY_ROOT : h(V.roots_hex[n - 1]));
      for (const v of V.consistency) {
        const proof = v.proof_hex.map(h);
        verifyConsistency(v.old_size, v.new_size, root(v.old_size), root(v.new_size), proof);
        if (v.old_size > 0 && v.old_size < v.new_size) {
          expect(() =>
            verifyConsistency(v.old_size, v.new_size, flip(root(v.old_size), 0), root(v.new_size), proof),
          ).toThrow(/does not reproduce the (old|new) root/);
          expect(() =>
            verifyConsistency(v.old_size, v.new_size, root(v.old_size), flip(root(v.new_size), 0), proof),
          ).toThrow(/does not reproduce the new root/);
          expect(() =>
            verifyConsistency(v.old_size, v.new_size, root(v.old_size), root(v.new_size), proof.slice(1)),
          ).toThrow(/hashes, expected/);
        }
        expect(() => verifyConsistency(v.new_size, v.old_size - 1, root(v.old_size), root(v.new_size), proof)).toThrow(
          LogProofError,
        );
      }
    });
  });
}

describe("tlog.json: entries and the signed checkpoint", () => {
  it("empty root, entry leaf hash", () => {
    expect(EMPTY_ROOT_HEX).toBe(T.empty_root_hex);
    expect(toHex(entryLeafHash(utf8(T.log_entry.entry_canonical_json)))).toBe(T.log_entry.leaf_hash_hex);
  });

  const c = T.checkpoint;
  const verifier = NoteVerifier.fromText(c.verifier_key);

  it("keys parse, round-trip and agree with each other", () => {
    const signer = NoteSigner.fromText(c.signer_key);
    expect(signer.verifier.toText()).toBe(c.verifier_key);
    expect(verifier.toText()).toBe(c.verifier_key);
    expect(new NoteSigner(c.origin, h(c.seed_hex)).verifier.toText()).toBe(c.verifier_key);
    expect(String(signer)).not.toContain(c.signer_key.split("+").pop());
  });

  it("the checkpoint opens, and signing it again gives the same bytes", () => {
    const cp = openCheckpoint(utf8(c.signed_note), [verifier], c.origin);
    expect(cp.size).toBe(BigInt(c.size));
    expect(toHex(cp.rootHash)).toBe(c.root_hex);
    expect(checkpointToText(cp)).toBe(c.text);
    expect(new TextDecoder().decode(signCheckpoint(cp, NoteSigner.fromText(c.signer_key)))).toBe(c.signed_note);
  });

  it("a tampered checkpoint is refused for the right reason", () => {
    const note: string = c.signed_note;
    // Another size under the same signature: the known key's line no longer verifies.
    const bumped = note.replace(`\n${c.size}\n`, `\n${c.size + 1}\n`);
    expect(() => openCheckpoint(utf8(bumped), [verifier], c.origin)).toThrow(InvalidNoteSignatureError);
    // A flipped bit in the signature.
    const sigStart = note.lastIndexOf(" ") + 10;
    const flipped = note.slice(0, sigStart) + (note[sigStart] === "A" ? "B" : "A") + note.slice(sigStart + 1);
    expect(() => openCheckpoint(utf8(flipped), [verifier], c.origin)).toThrow(InvalidNoteSignatureError);
    // Another log's key, or the right key expected under another origin.
    const other = new NoteSigner(c.origin, new Uint8Array(32).fill(7)).verifier;
    expect(() => openCheckpoint(utf8(note), [other], c.origin)).toThrow(UnverifiedNoteError);
    expect(() => openCheckpoint(utf8(note), [verifier], "camvault.io/custodian/test-2")).toThrow(CheckpointError);
    // Not a note at all.
    expect(() => openNote(utf8(c.text), [verifier])).toThrow(NoteError);
  });

  it("a note signature with a component of order 8 is refused (Go and OpenSSL are cofactorless)", () => {
    const forged = mixedOrderSignature(h(c.seed_hex), utf8(c.text));
    const line = `\u2014 ${c.origin} ${btoa(String.fromCharCode(0x8e, 0xc1, 0x7d, 0xbe, ...forged))}\n`;
    expect(() => openCheckpoint(utf8(`${c.text}\n${line}`), [verifier], c.origin)).toThrow(InvalidNoteSignatureError);
  });

  it("checkpoint text rules", () => {
    expect(() => parseCheckpoint("o\n01\nAAAA\n")).toThrow(/canonical decimal/);
    expect(() => parseCheckpoint(`o\n0\n${btoa("x".repeat(32))}\n`)).toThrow(/empty-tree root/);
    expect(() => parseCheckpoint(`o\n18446744073709551616\n${btoa("x".repeat(32))}\n`)).toThrow(/64 bits/);
    expect(() => parseCheckpoint("o\n1\n\n")).toThrow(/empty line|needs origin/);
  });
});

describe("Go sumdb/note vectors", () => {
  const verifiers = G.keys.map((k: any) => NoteVerifier.fromText(k.verifier_key));

  it("keys: signer and verifier text forms and key IDs", () => {
    for (const k of G.keys) {
      const s = NoteSigner.fromText(k.signer_key);
      expect(s.verifier.toText()).toBe(k.verifier_key);
      expect(s.verifier.keyId.toString(16).padStart(8, "0")).toBe(k.key_id_hex);
      expect(new NoteSigner(k.name, h(k.seed_hex)).verifier.toText()).toBe(k.verifier_key);
    }
  });

  it("every Go-signed note opens with its signers, and signing reproduces Go's bytes", () => {
    for (const n of G.notes) {
      const note = openNote(utf8(n.signed), verifiers);
      expect(note.text).toBe(n.text);
      expect(note.verified.map((s) => s.name).sort()).toEqual([...n.signers].sort());
      const signers = n.signers.map((name: string) =>
        NoteSigner.fromText(G.keys.find((k: any) => k.name === name).signer_key),
      );
      expect(new TextDecoder().decode(signNote(n.text, signers))).toBe(n.signed);
    }
  });

  it("a cosigned checkpoint opens with the log key alone (the witness line is ignored)", () => {
    const cosigned = G.notes.find((n: any) => n.signers.length > 1);
    expect(cosigned).toBeDefined();
    const log = verifiers.filter((v: NoteVerifier) => v.name === G.keys[0].name);
    const cp = openCheckpoint(utf8(cosigned.signed), log, G.keys[0].name);
    expect(cp.origin).toBe(G.keys[0].name);
  });
});
