// Ed25519 keys for signed statements, request signatures and note keys (mirrors
// crypto/ed25519.py; RFC 8032 via @noble/curves).
//
// Text forms (docs/FORMAT.md part 3.1):
//   public key:  "ed25519:" || base64url-unpadded(32-byte RFC 8032 public key)
//   signing key: "ed25519-secret:" || base64url-unpadded(32-byte RFC 8032 seed)
//   signature:   base64url-unpadded(64-byte RFC 8032 signature)
//
// The Python side uses libsodium. To refuse exactly what it refuses:
// - a public key must be the canonical encoding of a point of the prime-order subgroup
//   (crypto_core_ed25519_is_valid_point): no small-order, mixed-order or non-canonical keys;
// - verification is strict RFC 8032 and cofactorless, as libsodium, OpenSSL and Go compute it:
//   canonical A and R, S < L, and SB - kA must encode to exactly R (noble's own verify is
//   cofactored and would accept R plus a point of order 8); libsodium's extra refusal of a
//   small-order R is added on top. Signatures are not malleable.

import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { b64urlDecode, b64urlEncode, Base64Error, NonCanonicalBase64Error } from "./base64";
import { concat, equalBytes } from "./bytes";
import { KeyFormatError, SignatureError } from "./errors";

export const PUBLIC_KEY_SIZE = 32;
export const SEED_SIZE = 32;
export const SIGNATURE_SIZE = 64;
export const PUBLIC_KEY_PREFIX = "ed25519:";
export const SECRET_KEY_PREFIX = "ed25519-secret:";

/** Strictly decode the unpadded base64url of a key or signature, naming `what` on failure. */
export function decodeKeyText(text: string, what: string): Uint8Array {
  try {
    return b64urlDecode(text);
  } catch (e) {
    if (e instanceof NonCanonicalBase64Error)
      throw new KeyFormatError(`${what}: non-canonical base64url (non-zero trailing bits)`);
    if (e instanceof Base64Error) throw new KeyFormatError(`${what}: not unpadded base64url`);
    throw e;
  }
}

/** True if `raw` is the canonical encoding of a point of the prime-order subgroup. */
export function isValidPublicPoint(raw: Uint8Array): boolean {
  if (raw.length !== PUBLIC_KEY_SIZE) return false;
  try {
    const p = ed25519.Point.fromBytes(raw, false);
    return !p.isSmallOrder() && p.isTorsionFree() && equalBytes(p.toBytes(), raw);
  } catch {
    return false;
  }
}

/**
 * Cofactorless RFC 8032 section 5.1.7 verification, the equation libsodium, OpenSSL and Go
 * check: S < L, A and R canonical encodings of curve points, and [S]B - [k]A == R byte for
 * byte, with k = SHA-512(R || A || M) mod L. No small-order check (see isValid for that).
 */
export function verifyCofactorless(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_SIZE || signature.length !== SIGNATURE_SIZE) return false;
  const Fn = ed25519.Point.Fn;
  const rBytes = signature.subarray(0, 32);
  const s = bytesToNumberLE(signature.subarray(32));
  if (s >= Fn.ORDER) return false;
  try {
    const A = ed25519.Point.fromBytes(publicKey, false);
    ed25519.Point.fromBytes(rBytes, false); // R must be a canonical point encoding
    const k = Fn.create(bytesToNumberLE(sha512(concat(rBytes, publicKey, message))));
    const sB = s === 0n ? ed25519.Point.ZERO : ed25519.Point.BASE.multiplyUnsafe(s);
    const kA = k === 0n ? ed25519.Point.ZERO : A.multiplyUnsafe(k);
    return equalBytes(sB.subtract(kA).toBytes(), rBytes);
  } catch {
    return false;
  }
}

function isSmallOrderEncoding(raw: Uint8Array): boolean {
  try {
    return ed25519.Point.fromBytes(raw, false).isSmallOrder();
  } catch {
    return true; // not a point at all: refused just the same
  }
}

export class Ed25519PublicKey {
  readonly raw: Uint8Array;

  constructor(raw: Uint8Array) {
    if (raw.length !== PUBLIC_KEY_SIZE)
      throw new KeyFormatError(`Ed25519 public key: must be ${PUBLIC_KEY_SIZE} bytes`);
    if (!isValidPublicPoint(raw))
      throw new KeyFormatError("Ed25519 public key: not a canonical point of the prime-order subgroup");
    this.raw = Uint8Array.from(raw);
  }

  /** Parse `ed25519:<base64url>`; throws KeyFormatError naming `what`. */
  static fromText(text: unknown, what = "Ed25519 public key"): Ed25519PublicKey {
    if (typeof text !== "string" || !text.startsWith(PUBLIC_KEY_PREFIX))
      throw new KeyFormatError(`${what}: must be a string starting with '${PUBLIC_KEY_PREFIX}'`);
    const raw = decodeKeyText(text.slice(PUBLIC_KEY_PREFIX.length), what);
    if (raw.length !== PUBLIC_KEY_SIZE)
      throw new KeyFormatError(`${what}: must encode ${PUBLIC_KEY_SIZE} bytes, got ${raw.length}`);
    try {
      return new Ed25519PublicKey(raw);
    } catch (e) {
      throw new KeyFormatError(`${what}: ${(e as Error).message}`);
    }
  }

  toText(): string {
    return PUBLIC_KEY_PREFIX + b64urlEncode(this.raw);
  }

  equals(other: Ed25519PublicKey): boolean {
    return equalBytes(this.raw, other.raw);
  }

  /** True if `signature` is a valid strict RFC 8032 signature of `message` under this key. */
  isValid(message: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== SIGNATURE_SIZE) return false;
    if (isSmallOrderEncoding(signature.subarray(0, 32))) return false; // libsodium's rule
    return verifyCofactorless(this.raw, message, signature);
  }

  /** Verify; throws SignatureError if the signature does not verify. */
  verify(message: Uint8Array, signature: Uint8Array): void {
    if (signature.length !== SIGNATURE_SIZE) throw new SignatureError(`signature: must be ${SIGNATURE_SIZE} bytes`);
    if (!this.isValid(message, signature)) throw new SignatureError(`signature does not verify under ${this.toText()}`);
  }
}

/** An Ed25519 signing key held as its 32-byte RFC 8032 seed. Never printed. */
export class Ed25519SigningKey {
  readonly #seed: Uint8Array;
  readonly publicKey: Ed25519PublicKey;

  constructor(seed: Uint8Array) {
    if (seed.length !== SEED_SIZE) throw new KeyFormatError(`Ed25519 signing key: seed must be ${SEED_SIZE} bytes`);
    this.#seed = Uint8Array.from(seed);
    this.publicKey = new Ed25519PublicKey(ed25519.getPublicKey(this.#seed));
  }

  static generate(): Ed25519SigningKey {
    return new Ed25519SigningKey(ed25519.utils.randomSecretKey());
  }

  static fromText(text: unknown): Ed25519SigningKey {
    if (typeof text !== "string" || !text.startsWith(SECRET_KEY_PREFIX))
      throw new KeyFormatError(`Ed25519 signing key: must be a string starting with '${SECRET_KEY_PREFIX}'`);
    return new Ed25519SigningKey(decodeKeyText(text.slice(SECRET_KEY_PREFIX.length), "Ed25519 signing key"));
  }

  /** The 64-byte RFC 8032 signature of `message` (deterministic). */
  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#seed);
  }

  toJSON(): string {
    return `Ed25519SigningKey(<redacted>, public=${this.publicKey.toText()})`;
  }

  toString(): string {
    return this.toJSON();
  }
}
