// The crypto self-test: the core run in this browser on fixed inputs from the shared vectors
// (tests/vectors, embedded at build time). It proves that decryption and signature checks work
// here, under the page's Content-Security-Policy, before any page relies on them.
import { sha256 } from "@noble/hashes/sha2.js";
import vectors from "virtual:selftest-vectors";
import { decryptRecording } from "./crypto/age";
import { fromHex, toHex, utf8 } from "./crypto/bytes";
import { NoteVerifier, openCheckpoint } from "./crypto/tlog/note";

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

async function ageDecrypts(): Promise<Check> {
  const v = vectors.age;
  const plaintext = await decryptRecording(fromHex(v.file_hex), { identities: [v.identity] });
  const ok = toHex(sha256(plaintext)) === v.plaintext_sha256;
  return { name: "age X25519 decryption", ok, detail: `${plaintext.length} bytes` };
}

function checkpointVerifies(): Check {
  const c = vectors.checkpoint;
  const verifier = NoteVerifier.fromText(c.verifier_key);
  const cp = openCheckpoint(utf8(c.signed_note), [verifier], c.origin);
  const ok = cp.size === BigInt(c.size) && toHex(cp.rootHash) === c.root_hex;
  return { name: "signed checkpoint (Ed25519 note)", ok, detail: `size ${cp.size}` };
}

function tamperedCheckpointRefused(): Check {
  // The same note with its tree size changed must fail its signature: a check that cannot fail
  // would prove nothing.
  const c = vectors.checkpoint;
  const forged = c.signed_note.replace(`\n${c.size}\n`, `\n${BigInt(c.size) + 1n}\n`);
  try {
    openCheckpoint(utf8(forged), [NoteVerifier.fromText(c.verifier_key)], c.origin);
    return { name: "tampered checkpoint refused", ok: false, detail: "accepted" };
  } catch (e) {
    return { name: "tampered checkpoint refused", ok: forged !== c.signed_note, detail: (e as Error).name };
  }
}

async function attempt(name: string, run: () => Check | Promise<Check>): Promise<Check> {
  try {
    return await run();
  } catch (e) {
    return { name, ok: false, detail: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

export async function runSelfTest(): Promise<Check[]> {
  return [
    await attempt("age X25519 decryption", ageDecrypts),
    await attempt("signed checkpoint (Ed25519 note)", checkpointVerifies),
    await attempt("tampered checkpoint refused", tamperedCheckpointRefused),
  ];
}
