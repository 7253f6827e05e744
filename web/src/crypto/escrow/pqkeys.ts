// Hybrid (ML-KEM-768 + X25519) custodian escrow public keys (mirrors crypto/escrow/pqkeys.py;
// docs/FORMAT.md part 2 section 3.5): the key of age 1.3's mlkem768x25519 recipient type, the
// ML-KEM-768 encapsulation key (1184 bytes) || the X25519 public key (32 bytes), in its own text
// form so it is never mistaken for a customer's age recipient:
//   text   = lowercase Bech32, HRP "camvault-custodian-pq"
//   key_id = base64(SHA-256("camvault.io/v1/escrow-pq-key-id" || LF || public key)[0..4])
// The browser never seals or opens with these keys (cameras seal, custodians open): it checks
// them where a SiteKeys lists them and names a custodian's hybrid stanzas by their key id.

import { sha256 } from "@noble/hashes/sha2.js";
import { b64encode } from "../base64";
import { decodeBech32Key } from "../bech32";
import { concat, utf8 } from "../bytes";
import { EscrowError, KeyFormatError } from "../errors";
import { x25519Shared } from "./seal";

export const HYBRID_STANZA_TYPE = "camvault-escrow-mlkem768x25519";
export const HYBRID_PUBLIC_KEY_HRP = "camvault-custodian-pq";
const HYBRID_KEY_ID_LABEL = utf8("camvault.io/v1/escrow-pq-key-id\n");
const MLKEM_PUBLIC_SIZE = 1184; // FIPS 203 ML-KEM-768 encapsulation key: 3 x 384 + 32 (rho)
const MLKEM_Q = 3329;
export const HYBRID_PUBLIC_KEY_SIZE = MLKEM_PUBLIC_SIZE + 32;
const P25519 = (1n << 255n) - 19n;
const PROBE_SCALAR = new Uint8Array(32).fill(1); // clamped to a multiple of 8: kills low order

/** The field element X25519 uses for `publicKey` (RFC 7748 section 5: high bit masked, value
 *  reduced mod p), as crypto/age/x25519.py normalized_public_key: compare keys by this. */
export function normalizedX25519(publicKey: Uint8Array): bigint {
  let n = 0n;
  for (let i = publicKey.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(publicKey[i]!);
  return (n & ((1n << 255n) - 1n)) % P25519;
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** FIPS 203 section 7.2 encapsulation-key check: every 12-bit coefficient of the three encoded
 *  polynomials is below q (ByteDecode_12 then ByteEncode_12 gives the same bytes). */
function mlkemKeyOk(ek: Uint8Array): boolean {
  for (let i = 0; i + 3 <= MLKEM_PUBLIC_SIZE - 32; i += 3) {
    const [a, b, c] = [ek[i]!, ek[i + 1]!, ek[i + 2]!];
    if ((a | ((b & 0x0f) << 8)) >= MLKEM_Q || ((b >> 4) | (c << 4)) >= MLKEM_Q) return false;
  }
  return true;
}

/** A hybrid custodian public key (`camvault-custodian-pq1...`): lowercase, 1216 bytes, a valid
 *  ML-KEM-768 key and a canonical X25519 key that is not of low order (as Python refuses). */
export function parseHybridCustodianPublicKey(text: string): Uint8Array {
  const what = "hybrid custodian public key";
  if (text !== text.toLowerCase()) throw new KeyFormatError(`${what}: must be lowercase`);
  const key = decodeBech32Key(text, HYBRID_PUBLIC_KEY_HRP, HYBRID_PUBLIC_KEY_SIZE, what);
  if (!mlkemKeyOk(key.subarray(0, MLKEM_PUBLIC_SIZE)))
    throw new KeyFormatError("invalid ML-KEM-768 half of a hybrid custodian key");
  const x = key.subarray(MLKEM_PUBLIC_SIZE);
  const half = "X25519 half of a hybrid custodian key";
  if (normalizedX25519(x) !== littleEndian(x))
    throw new KeyFormatError(`${half}: non-canonical X25519 public key (high bit set or value >= 2^255-19)`);
  try {
    x25519Shared(PROBE_SCALAR, x);
  } catch (e) {
    if (e instanceof EscrowError) throw new KeyFormatError(`${half}: X25519 public key is a low-order point`);
    throw e;
  }
  return key;
}

/** The X25519 half of a hybrid custodian public key. */
export function hybridX25519Half(key: Uint8Array): Uint8Array {
  return key.subarray(MLKEM_PUBLIC_SIZE);
}

/** The key id naming a hybrid custodian key in its stanzas (4 bytes, base64). */
export function hybridCustodianKeyId(key: Uint8Array): string {
  return b64encode(sha256(concat(HYBRID_KEY_ID_LABEL, key)).subarray(0, 4));
}
