// Bech32 (BIP 173) key strings as age and camvault spell them: lowercase only, checksum
// checked, age's lifted 90-character limit (C2SP age, "The X25519 recipient type";
// docs/FORMAT.md part 2 section 2 for custodian keys). Mirrors crypto/age/bech32.py.

import { bech32 } from "@scure/base";
import { KeyFormatError } from "./errors";

/** Decode `text` as Bech32 with human-readable part `hrp`, returning exactly `size` bytes. */
export function decodeBech32Key(text: string, hrp: string, size: number, what: string): Uint8Array {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) throw new KeyFormatError(`${what}: mixed case`);
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(text as `${string}1${string}`, false);
  } catch {
    throw new KeyFormatError(`${what}: not valid Bech32`);
  }
  if (decoded.prefix.toLowerCase() !== hrp.toLowerCase())
    throw new KeyFormatError(`${what}: expected the '${hrp}' prefix`);
  let data: Uint8Array;
  try {
    data = bech32.fromWords(decoded.words);
  } catch {
    throw new KeyFormatError(`${what}: bad Bech32 padding`);
  }
  if (data.length !== size) throw new KeyFormatError(`${what}: must encode ${size} bytes`);
  return data;
}

export function encodeBech32Key(hrp: string, data: Uint8Array): string {
  return bech32.encode(hrp, bech32.toWords(data), false);
}

/** An age X25519 recipient (`age1...`): lowercase only, 32 bytes. */
export function parseAgeRecipient(text: string): Uint8Array {
  if (text !== text.toLowerCase()) throw new KeyFormatError("age recipient: must be lowercase");
  return decodeBech32Key(text, "age", 32, "age recipient");
}

export const CUSTODIAN_PUBLIC_HRP = "camvault-custodian";

/** A custodian escrow public key (`camvault-custodian1...`): lowercase only, 32 bytes. */
export function parseCustodianPublicKey(text: string): Uint8Array {
  if (text !== text.toLowerCase()) throw new KeyFormatError("custodian public key: must be lowercase");
  return decodeBech32Key(text, CUSTODIAN_PUBLIC_HRP, 32, "custodian public key");
}
