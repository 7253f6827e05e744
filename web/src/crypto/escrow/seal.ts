// age's X25519 wrap with a camvault label (mirrors crypto/escrow/wrap.py; FORMAT.md part 2
// sections 3.2 and 4):
//   shared = X25519(secret, peer)                  refused if all 32 bytes are zero (RFC 7748)
//   key    = HKDF-SHA-256(ikm = shared, salt = e_pk || recipient_pk, info = label)  (RFC 5869)
//   body   = ChaCha20-Poly1305(key, 12 zero bytes, plaintext, AD)                 (RFC 8439)
// The zero nonce is safe as in age: every key comes from a fresh ephemeral key, used once.

import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concat } from "../bytes";
import { EscrowError } from "../errors";

export const KEY_SIZE = 32;
const ZERO_NONCE = new Uint8Array(12);
const LOW_ORDER = "X25519 with a low-order point (all-zero shared secret)";

export function x25519Shared(secret: Uint8Array, publicKey: Uint8Array): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secret, publicKey);
  } catch {
    throw new EscrowError(LOW_ORDER); // noble refuses an all-zero result itself
  }
  if (shared.every((b) => b === 0)) throw new EscrowError(LOW_ORDER);
  return shared;
}

export function x25519PublicKey(secret: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secret);
}

function wrapKey(label: Uint8Array, shared: Uint8Array, ephemeralPk: Uint8Array, recipient: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, concat(ephemeralPk, recipient), label, 32);
}

/** Seal `plaintext` to `recipient` with the ephemeral secret `ephemeral` (tests, key checks). */
export function seal(
  label: Uint8Array,
  recipient: Uint8Array,
  ephemeral: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  const ephemeralPk = x25519PublicKey(ephemeral);
  const key = wrapKey(label, x25519Shared(ephemeral, recipient), ephemeralPk, recipient);
  return chacha20poly1305(key, ZERO_NONCE, ad).encrypt(plaintext);
}

/** Open a wrap sealed to `recipient` (the public key of `secret`). */
export function unseal(
  label: Uint8Array,
  secret: Uint8Array,
  recipient: Uint8Array,
  ephemeralPk: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
  what: string,
): Uint8Array {
  return unsealShared(label, x25519Shared(secret, ephemeralPk), recipient, ephemeralPk, ciphertext, ad, what);
}

/** `unseal` given X25519(secret, ephemeralPk) already (a release: one per ephemeral key). */
export function unsealShared(
  label: Uint8Array,
  shared: Uint8Array,
  recipient: Uint8Array,
  ephemeralPk: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
  what: string,
): Uint8Array {
  const key = wrapKey(label, shared, ephemeralPk, recipient);
  try {
    return chacha20poly1305(key, ZERO_NONCE, ad).decrypt(ciphertext);
  } catch {
    // One message for every cause an attacker could probe (key, metadata, tampering).
    throw new EscrowError(
      `${what} does not open: the key, the recording metadata or the sealed bytes differ from those it was sealed with`,
    );
  }
}
