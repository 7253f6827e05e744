// C2SP signed-note (Ed25519) and C2SP tlog-checkpoint (mirrors crypto/tlog/note.py;
// docs/FORMAT.md parts 4.3 and 4.4). Key text forms are those of Go's
// golang.org/x/mod/sumdb/note:
//   verifier key = name "+" hex8(key ID) "+" base64(0x01 || public key)
//   signer key   = "PRIVATE+KEY+" name "+" hex8(key ID) "+" base64(0x01 || seed)
//   key ID       = SHA-256(name || LF || 0x01 || public key)[0:4], big-endian

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { b64decodePadded, b64encodePadded } from "../base64";
import { concat, equalBytes, fromUtf8, utf8 } from "../bytes";
import { verifyCofactorless } from "../ed25519";
import { KeyFormatError, LogProofError } from "../errors";
import { EMPTY_ROOT, HASH_SIZE, MAX_TREE_SIZE } from "./merkle";

export const MAX_SIGNATURES = 100; // the spec requires at least 16; 100 is Go's limit
const ALG_ED25519 = 0x01;
const SIG_PREFIX = "\u2014 "; // em dash, space
const PRIVATE_PREFIX = "PRIVATE+KEY+";
// Unicode White_Space, the set Go's unicode.IsSpace uses.
const WHITE_SPACE = new Set(
  "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
);
const HEX8 = /^[0-9a-f]{8}$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

export class NoteError extends LogProofError {
  override name = "NoteError";
}
/** No known key signed the note. */
export class UnverifiedNoteError extends NoteError {
  override name = "UnverifiedNoteError";
}
/** A line naming a known key does not verify: the whole note is refused. */
export class InvalidNoteSignatureError extends NoteError {
  override name = "InvalidNoteSignatureError";
}
export class CheckpointError extends NoteError {
  override name = "CheckpointError";
}

/** Python's str.split("+", 2): at most three parts, the last one keeps its "+" characters. */
function split3(text: string): string[] {
  const a = text.indexOf("+");
  if (a < 0) return [text];
  const b = text.indexOf("+", a + 1);
  if (b < 0) return [text.slice(0, a), text.slice(a + 1)];
  return [text.slice(0, a), text.slice(a + 1, b), text.slice(b + 1)];
}

const hex8 = (id: number): string => id.toString(16).padStart(8, "0");
const strictB64 = (s: string): Uint8Array | null => {
  try {
    return b64decodePadded(s);
  } catch {
    return null;
  }
};

/** Refuse a key name the spec forbids: empty, Unicode space, "+", control character. */
export function checkKeyName(name: string): void {
  if (name === "") throw new KeyFormatError("key name must be a non-empty string");
  for (const ch of name) {
    if (WHITE_SPACE.has(ch)) throw new KeyFormatError(`key name '${name}' contains a space character`);
    if (ch === "+") throw new KeyFormatError(`key name '${name}' contains '+'`);
    if (ch < " ") throw new KeyFormatError(`key name '${name}' contains a control character`);
  }
  if (/[\uD800-\uDFFF]/.test(name.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, "")))
    throw new KeyFormatError("key name is not valid Unicode text");
}

export function keyId(name: string, publicKey: Uint8Array): number {
  checkKeyName(name);
  if (publicKey.length !== 32) throw new KeyFormatError("Ed25519 public key must be 32 bytes");
  const d = sha256(concat(utf8(name + "\n"), Uint8Array.of(ALG_ED25519), publicKey));
  return ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
}

function decodeKeyMaterial(hexId: string, b64: string, what: string): Uint8Array {
  if (!HEX8.test(hexId)) throw new KeyFormatError(`${what} ID must be 8 lowercase hex digits`);
  const raw = strictB64(b64);
  if (raw === null || raw.length === 0) throw new KeyFormatError(`${what} material is not canonical base64`);
  if (raw[0] !== ALG_ED25519)
    throw new KeyFormatError(`${what} has unknown algorithm byte 0x${raw[0]!.toString(16).padStart(2, "0")}`);
  if (raw.length !== 33) throw new KeyFormatError(`${what} must hold 32 bytes of Ed25519 key`);
  return raw.subarray(1);
}

/** A note verifier key: a trust anchor the client is configured with, never input from a log. */
export class NoteVerifier {
  readonly keyId: number;
  constructor(
    readonly name: string,
    readonly publicKey: Uint8Array,
  ) {
    this.keyId = keyId(name, publicKey);
  }

  static fromText(text: string): NoteVerifier {
    const parts = split3(text);
    if (parts.length !== 3) throw new KeyFormatError("verifier key must have the form <name>+<key id>+<key>");
    const [name, hexId, b64] = parts as [string, string, string];
    checkKeyName(name);
    const v = new NoteVerifier(name, decodeKeyMaterial(hexId, b64, "verifier key"));
    if (hex8(v.keyId) !== hexId) throw new KeyFormatError(`verifier key ID ${hexId} does not match the key`);
    return v;
  }

  toText(): string {
    return `${this.name}+${hex8(this.keyId)}+${b64encodePadded(concat(Uint8Array.of(ALG_ED25519), this.publicKey))}`;
  }

  verify(message: Uint8Array, signature: Uint8Array): boolean {
    // Cofactorless, as Go's crypto/ed25519 and OpenSSL (the Python side) verify notes.
    return verifyCofactorless(this.publicKey, message, signature);
  }
}

/** A note signer key (a secret: never printed). */
export class NoteSigner {
  readonly #seed: Uint8Array;
  readonly verifier: NoteVerifier;

  constructor(name: string, seed: Uint8Array) {
    if (seed.length !== 32) throw new KeyFormatError("Ed25519 seed must be 32 bytes");
    this.#seed = Uint8Array.from(seed);
    this.verifier = new NoteVerifier(name, ed25519.getPublicKey(this.#seed));
  }

  static fromText(text: string): NoteSigner {
    if (!text.startsWith(PRIVATE_PREFIX)) throw new KeyFormatError("signer key must start with PRIVATE+KEY+");
    const parts = split3(text.slice(PRIVATE_PREFIX.length));
    if (parts.length !== 3) throw new KeyFormatError("signer key must have the form PRIVATE+KEY+<name>+<id>+<key>");
    const [name, hexId, b64] = parts as [string, string, string];
    checkKeyName(name);
    const s = new NoteSigner(name, decodeKeyMaterial(hexId, b64, "signer key"));
    if (hex8(s.verifier.keyId) !== hexId) throw new KeyFormatError(`signer key ID ${hexId} does not match the key`);
    return s;
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#seed);
  }

  toString(): string {
    return `NoteSigner(<redacted>, ${this.verifier.toText()})`;
  }
}

export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Uint8Array;
}

export interface Note {
  /** The signed text, final LF included. */
  text: string;
  verified: NoteSignature[];
  /** Lines by keys the caller does not know (e.g. witnesses), kept for forwarding. */
  unverified: NoteSignature[];
}

function checkNoteText(text: string): void {
  if (!text.endsWith("\n")) throw new NoteError("note text must end in a newline");
  for (const ch of text)
    if (ch < " " && ch !== "\n")
      throw new NoteError(
        `note text contains control character U+${ch.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`,
      );
}

/** Sign `text` with every signer (C2SP signed-note "Signatures"). */
export function signNote(text: string, signers: readonly NoteSigner[]): Uint8Array {
  checkNoteText(text);
  if (signers.length === 0) throw new NoteError("a note needs at least one signer");
  if (signers.length > MAX_SIGNATURES) throw new NoteError(`more than ${MAX_SIGNATURES} signers`);
  const seen = new Set<string>();
  let out = text + "\n";
  const message = utf8(text);
  for (const s of signers) {
    const ident = `${s.verifier.name}+${hex8(s.verifier.keyId)}`;
    if (seen.has(ident)) throw new NoteError(`duplicate signer ${ident}`);
    seen.add(ident);
    const id = s.verifier.keyId;
    const idBytes = Uint8Array.of(id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff);
    out += `${SIG_PREFIX}${s.verifier.name} ${b64encodePadded(concat(idBytes, s.sign(message)))}\n`;
  }
  return utf8(out);
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIG_PREFIX)) throw new NoteError("signature line does not start with an em dash and a space");
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) throw new NoteError("signature line has no space between key name and signature");
  const name = rest.slice(0, space);
  try {
    checkKeyName(name);
  } catch (e) {
    throw new NoteError(`signature line: ${(e as Error).message}`);
  }
  const raw = strictB64(rest.slice(space + 1));
  if (raw === null) throw new NoteError(`signature line for '${name}' is not canonical base64`);
  if (raw.length < 5) throw new NoteError(`signature line for '${name}' is too short`);
  const id = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0;
  return { name, keyId: id, signature: raw.subarray(4) };
}

/**
 * Open a signed note (FORMAT.md 4.3, steps 1-7): every line naming a known key must verify
 * (repeated lines included), lines of unknown keys are ignored, and at least one known key
 * must have signed.
 */
export function openNote(message: Uint8Array, verifiers: readonly NoteVerifier[]): Note {
  let decoded: string;
  try {
    decoded = fromUtf8(message);
  } catch {
    throw new NoteError("note is not valid UTF-8");
  }
  for (const ch of decoded)
    if (ch < " " && ch !== "\n")
      throw new NoteError(
        `note contains control character U+${ch.charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}`,
      );
  // The text ends at the last blank line (the text itself may contain empty lines).
  const split = decoded.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("note has no blank line before its signatures");
  const text = decoded.slice(0, split + 1);
  const sigBlock = decoded.slice(split + 2);
  if (!sigBlock.endsWith("\n")) throw new NoteError("note's signature block is empty or does not end in a newline");
  const lines = sigBlock.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`note has more than ${MAX_SIGNATURES} signatures`);

  const known = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const ident = `${v.name}+${hex8(v.keyId)}`;
    const prev = known.get(ident);
    if (prev && !equalBytes(prev.publicKey, v.publicKey))
      throw new NoteError(`two known keys share the name and ID ${ident}`);
    known.set(ident, v);
  }
  const textBytes = utf8(text);
  const verified = new Map<string, NoteSignature>();
  const unverified: NoteSignature[] = [];
  for (const line of lines) {
    const sig = parseSignatureLine(line);
    const ident = `${sig.name}+${hex8(sig.keyId)}`;
    const verifier = known.get(ident);
    if (verifier === undefined) {
      unverified.push(sig);
      continue;
    }
    if (!verifier.verify(textBytes, sig.signature))
      throw new InvalidNoteSignatureError(`invalid signature by known key ${ident}`);
    if (!verified.has(ident)) verified.set(ident, sig);
  }
  if (verified.size === 0) throw new UnverifiedNoteError("note has no valid signature by a known key");
  return { text, verified: [...verified.values()], unverified };
}

/** A log's signed tree head (C2SP tlog-checkpoint "Note text"). */
export interface Checkpoint {
  origin: string;
  size: bigint;
  rootHash: Uint8Array;
  extensions: string[];
}

export function checkpointToText(c: Checkpoint): string {
  return [c.origin, c.size.toString(), b64encodePadded(c.rootHash), ...c.extensions].map((l) => l + "\n").join("");
}

/** Parse a checkpoint note text strictly. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith("\n")) throw new CheckpointError("checkpoint text must end in a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new CheckpointError("checkpoint text needs origin, tree size and root hash lines");
  if (lines.some((l) => l === "")) throw new CheckpointError("checkpoint text contains an empty line");
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  try {
    checkKeyName(origin);
  } catch (e) {
    throw new CheckpointError(`checkpoint origin: ${(e as Error).message}`);
  }
  if (!DECIMAL.test(sizeText)) throw new CheckpointError(`checkpoint tree size '${sizeText}' is not canonical decimal`);
  if (sizeText.length > MAX_TREE_SIZE.toString().length || BigInt(sizeText) > MAX_TREE_SIZE)
    throw new CheckpointError(`checkpoint tree size ${sizeText.slice(0, 24)} does not fit in 64 bits`);
  const size = BigInt(sizeText);
  const root = strictB64(rootText);
  if (root === null || root.length !== HASH_SIZE)
    throw new CheckpointError("checkpoint root hash is not canonical base64 of 32 bytes");
  if (size === 0n && !equalBytes(root, EMPTY_ROOT))
    throw new CheckpointError("checkpoint of size 0 must have the empty-tree root hash");
  return { origin, size, rootHash: root, extensions };
}

/**
 * Verify a signed checkpoint of the log `origin` (FORMAT.md 4.4): only known keys named
 * `origin` count (witness cosignatures are ignored), and the text's origin must match.
 */
export function openCheckpoint(message: Uint8Array, verifiers: readonly NoteVerifier[], origin: string): Checkpoint {
  const logKeys = verifiers.filter((v) => v.name === origin);
  if (logKeys.length === 0) throw new CheckpointError(`no known key named after the expected origin '${origin}'`);
  const note = openNote(message, logKeys);
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== origin)
    throw new CheckpointError(`checkpoint origin '${checkpoint.origin}' is not the expected '${origin}'`);
  return checkpoint;
}

export function signCheckpoint(checkpoint: Checkpoint, signer: NoteSigner): Uint8Array {
  if (signer.verifier.name !== checkpoint.origin)
    throw new CheckpointError(
      `log key name '${signer.verifier.name}' differs from checkpoint origin '${checkpoint.origin}'`,
    );
  return signNote(checkpointToText(checkpoint), [signer]);
}
