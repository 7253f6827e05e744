// Witness cosignatures on custodian checkpoints: C2SP tlog-cosignature, `cosignature/v1`
// (Ed25519), as crypto/tlog/cosignature.py and docs/FORMAT.md / docs/WITNESS.md describe:
//
//   key ID  = SHA-256(<name> || 0x0A || 0x04 || 32-byte public key)[:4]
//   line    = "— <name> " base64(key ID (4) || timestamp (8, big-endian) || signature (64))
//   signed  = "cosignature/v1\n" || "time " <timestamp> "\n" || <checkpoint note text>
//
// Checked against the Go reference (filippo.io/torchwood) in web/test/cosignature.test.ts,
// on tests/vectors/go_cosignature_vectors/vectors.json.
import { sha256 } from "@noble/hashes/sha2.js";
import { b64decodePadded, b64encodePadded } from "./base64";
import { concat, equalBytes, utf8 } from "./bytes";
import { verifyCofactorless } from "./ed25519";
import { KeyFormatError } from "./errors";
import {
  type Checkpoint,
  CheckpointError,
  InvalidNoteSignatureError,
  NoteError,
  type NoteVerifier,
  checkKeyName,
  openNote,
  parseCheckpoint,
} from "./tlog/note";

export const ALG_COSIGNATURE_V1 = 0x04;
const MAX_TIMESTAMP = (1n << 63n) - 1n;
const hex8 = (id: number): string => id.toString(16).padStart(8, "0");

/** Too few witnesses of the policy cosigned (or none recently enough). */
export class QuorumError extends NoteError {}

export function cosignatureKeyId(name: string, publicKey: Uint8Array): number {
  checkKeyName(name);
  if (publicKey.length !== 32) throw new KeyFormatError("Ed25519 public key must be 32 bytes");
  const d = sha256(concat(utf8(name + "\n"), Uint8Array.of(ALG_COSIGNATURE_V1), publicKey));
  return ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
}

/** The bytes a witness signs: the cosignature/v1 header, the time, the checkpoint text. */
export function cosignatureMessage(checkpointText: string, timestamp: bigint): Uint8Array {
  if (timestamp < 0n || timestamp > MAX_TIMESTAMP) throw new NoteError("cosignature timestamp out of range");
  return utf8(`cosignature/v1\ntime ${timestamp.toString()}\n${checkpointText}`);
}

/** A witness's verifier key (`<name>+<key id>+base64(0x04 || key)`): configured, never served. */
export class CosignatureVerifier {
  readonly keyId: number;
  constructor(
    readonly name: string,
    readonly publicKey: Uint8Array,
  ) {
    this.keyId = cosignatureKeyId(name, publicKey);
  }

  static fromText(text: string): CosignatureVerifier {
    const a = text.indexOf("+");
    const b = a < 0 ? -1 : text.indexOf("+", a + 1);
    if (a < 0 || b < 0) throw new KeyFormatError("witness key must have the form <name>+<key id>+<key>");
    const [name, hexId, b64] = [text.slice(0, a), text.slice(a + 1, b), text.slice(b + 1)];
    checkKeyName(name);
    if (!/^[0-9a-f]{8}$/.test(hexId)) throw new KeyFormatError("witness key ID must be 8 lowercase hex digits");
    let raw: Uint8Array;
    try {
      raw = b64decodePadded(b64);
    } catch {
      throw new KeyFormatError("witness key material is not canonical base64");
    }
    if (raw.length !== 33 || raw[0] !== ALG_COSIGNATURE_V1)
      throw new KeyFormatError("not a witness verifier key (cosignature/v1: 0x04 and 32 bytes of Ed25519 key)");
    const v = new CosignatureVerifier(name, raw.subarray(1));
    if (hex8(v.keyId) !== hexId) throw new KeyFormatError(`witness key ID ${hexId} does not match the key`);
    return v;
  }

  toText(): string {
    return `${this.name}+${hex8(this.keyId)}+${b64encodePadded(concat(Uint8Array.of(ALG_COSIGNATURE_V1), this.publicKey))}`;
  }

  /** The timestamp of a valid cosignature of `checkpointText` (signature = the line's bytes
   * after the key ID), or null if it does not verify. */
  timestampOf(checkpointText: string, signature: Uint8Array): bigint | null {
    if (signature.length !== 8 + 64) return null;
    let ts = 0n;
    for (let i = 0; i < 8; i++) ts = (ts << 8n) | BigInt(signature[i]!);
    if (ts > MAX_TIMESTAMP) return null;
    const ok = verifyCofactorless(this.publicKey, cosignatureMessage(checkpointText, ts), signature.subarray(8));
    return ok ? ts : null;
  }
}

/** The site's witnesses and how many must cosign (config.json `witnesses`, docs/WITNESS.md). */
export interface WitnessPolicy {
  witnesses: CosignatureVerifier[];
  quorum: number;
  /** the freshness bound of the customer's audit (frozen view), seconds */
  maxAgeS: number;
}

export const DEFAULT_MAX_AGE_S = 900;

/** `{"witnesses": [<vkey>...], "quorum": q, "max_age_s": s}` (quorum: all; max_age_s: 900). */
export function witnessPolicyFromJson(obj: unknown): WitnessPolicy {
  if (typeof obj !== "object" || obj === null) throw new KeyFormatError("witnesses: not a JSON object");
  const o = obj as Record<string, unknown>;
  if (!Array.isArray(o["witnesses"]) || o["witnesses"].length === 0)
    throw new KeyFormatError("witnesses: a non-empty list of witness verifier keys is needed");
  const witnesses = o["witnesses"].map((k) => CosignatureVerifier.fromText(String(k)));
  const quorum = o["quorum"] === undefined ? witnesses.length : o["quorum"];
  if (!Number.isInteger(quorum) || (quorum as number) < 1 || (quorum as number) > witnesses.length)
    throw new KeyFormatError(`witness quorum ${String(quorum)} is not 1..${witnesses.length}`);
  const maxAgeS = o["max_age_s"] === undefined ? DEFAULT_MAX_AGE_S : o["max_age_s"];
  if (!Number.isInteger(maxAgeS) || (maxAgeS as number) < 1)
    throw new KeyFormatError("witnesses: max_age_s must be a positive integer");
  return { witnesses, quorum: quorum as number, maxAgeS: maxAgeS as number };
}

export interface CosignedCheckpoint {
  checkpoint: Checkpoint;
  /** witness name -> cosignature timestamp (POSIX seconds) */
  cosigners: Map<string, number>;
}

/**
 * Open a checkpoint of `origin` signed by the log and cosigned by at least `quorum` distinct
 * `witnesses` (crypto.tlog.cosignature.open_cosigned_checkpoint). A line naming a known
 * witness key that does not verify refuses the whole note; lines by unknown keys are ignored.
 * With `nowS`, a cosignature dated more than `maxFutureS` ahead does not count.
 */
export function openCosignedCheckpoint(
  message: Uint8Array,
  logVerifiers: readonly NoteVerifier[],
  origin: string,
  witnesses: readonly CosignatureVerifier[],
  quorum: number,
  nowS?: number,
  maxFutureS = 300,
): CosignedCheckpoint {
  if (!Number.isInteger(quorum) || quorum < 0 || quorum > witnesses.length)
    throw new QuorumError(`quorum ${quorum} is not between 0 and ${witnesses.length} witnesses`);
  const logKeys = logVerifiers.filter((v) => v.name === origin);
  if (logKeys.length === 0) throw new CheckpointError(`no known key named after the expected origin '${origin}'`);
  const note = openNote(message, logKeys);
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== origin)
    throw new CheckpointError(`checkpoint origin '${checkpoint.origin}' is not '${origin}'`);
  const byIdent = new Map<string, CosignatureVerifier>();
  for (const w of witnesses) {
    const ident = `${w.name}+${hex8(w.keyId)}`;
    const prev = byIdent.get(ident);
    if (prev && !equalBytes(prev.publicKey, w.publicKey)) throw new NoteError(`two witness keys share ${ident}`);
    byIdent.set(ident, w);
  }
  const cosigners = new Map<string, number>();
  for (const sig of note.unverified) {
    const w = byIdent.get(`${sig.name}+${hex8(sig.keyId)}`);
    if (w === undefined) continue;
    const ts = w.timestampOf(note.text, sig.signature);
    if (ts === null) throw new InvalidNoteSignatureError(`invalid cosignature by known witness ${sig.name}`);
    const t = ts > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(ts);
    if (nowS !== undefined && t > nowS + maxFutureS) continue;
    cosigners.set(sig.name, t);
  }
  if (cosigners.size < quorum)
    throw new QuorumError(
      `checkpoint of size ${checkpoint.size} is cosigned by ${cosigners.size} of the ${quorum} witnesses required`,
    );
  return { checkpoint, cosigners };
}

/** The quorum-th newest cosignature time among the policy's witnesses (0: fewer than quorum). */
export function freshAsOf(policy: WitnessPolicy, cosigners: Map<string, number>): number {
  const names = new Set(policy.witnesses.map((w) => w.name));
  const times = [...cosigners].filter(([n]) => names.has(n)).map(([, t]) => t);
  times.sort((a, b) => b - a);
  return times.length >= policy.quorum ? times[policy.quorum - 1]! : 0;
}
