// Test fixtures for witnessed logs: witnesses that cosign checkpoints (C2SP tlog-cosignature,
// cosignature/v1, the bytes web/src/crypto/cosignature.ts verifies and cosignature.test.ts
// checks against the Go reference), and RFC 9162 proofs to serve a log as a custodian does.
import { b64encodePadded } from "../src/crypto/base64";
import { concat, fromUtf8, utf8 } from "../src/crypto/bytes";
import { CosignatureVerifier, cosignatureMessage } from "../src/crypto/cosignature";
import { Ed25519SigningKey } from "../src/crypto/ed25519";
import { rootFromLeafHashes } from "../src/crypto/tlog/merkle";

/** A witness: its verifier key text is what config.json / witnesses.json list. */
export class Witness {
  readonly key: Ed25519SigningKey;
  readonly verifier: CosignatureVerifier;

  constructor(
    readonly name: string,
    seedByte: number,
  ) {
    this.key = new Ed25519SigningKey(new Uint8Array(32).fill(seedByte));
    this.verifier = new CosignatureVerifier(name, this.key.publicKey.raw);
  }

  get vkey(): string {
    return this.verifier.toText();
  }

  /** The note with this witness's cosignature line appended (signed at `timestamp`). */
  cosign(note: Uint8Array, timestamp = Math.floor(Date.now() / 1000)): Uint8Array {
    const text = fromUtf8(note);
    const body = text.slice(0, text.indexOf("\n\n") + 1);
    const ts = BigInt(timestamp);
    const tsBytes = new Uint8Array(8);
    new DataView(tsBytes.buffer).setBigUint64(0, ts);
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, this.verifier.keyId);
    const sig = this.key.sign(cosignatureMessage(body, ts));
    return utf8(`${text}— ${this.name} ${b64encodePadded(concat(id, tsBytes, sig))}\n`);
  }
}

/** Cosign `note` by each witness in turn. */
export const cosignAll = (note: Uint8Array, witnesses: readonly Witness[], timestamp?: number): Uint8Array =>
  witnesses.reduce((n, w) => w.cosign(n, timestamp), note);

// --- RFC 9162 proofs (sections 2.1.3.1 and 2.1.4.1) ---
export const mth = (d: Uint8Array[]): Uint8Array => rootFromLeafHashes(d);
const split = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
export function inclusionPath(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k
    ? [...inclusionPath(m, d.slice(0, k)), mth(d.slice(k))]
    : [...inclusionPath(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = split(d.length);
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
export const consistencyProof = (m: number, d: Uint8Array[]): Uint8Array[] =>
  m === 0 || m === d.length ? [] : subproof(m, d, true);
