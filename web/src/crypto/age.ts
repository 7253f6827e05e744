// Decrypting camvault recordings: they are standard age v1 files (C2SP age spec; docs/FORMAT.md
// part 1), so this is the age-encryption library (the TypeScript age implementation by the
// age authors) with camvault's three ways to hold a key:
//   - the customer's identities (AGE-SECRET-KEY-1... X25519, AGE-SECRET-KEY-PQ-1... hybrid),
//     which decrypt any recording whose header holds a stanza for one of them (including a
//     header re-wrapped for a new device);
//   - a passphrase (scrypt recipient), e.g. the identity file kept in IndexedDB;
//   - a file key rebuilt from escrow shares (escrow/release.ts combineFileKey), for operators.
// Errors from the library become AgeError with its message (never a key).

import { armor, Decrypter, Encrypter, type Identity, type ReadableStreamWithSize } from "age-encryption";
import { AgeError } from "./errors";

export { identityToRecipient, generateIdentity, generateHybridIdentity } from "age-encryption";

/** An age Identity that answers with a known file key (checked by the library's header MAC). */
export function fileKeyIdentity(fileKey: Uint8Array): Identity {
  const key = Uint8Array.from(fileKey);
  return { unwrapFileKey: () => key };
}

export interface KeySource {
  identities?: readonly (string | Identity)[];
  passphrases?: readonly string[];
  fileKey?: Uint8Array;
}

function decrypter(keys: KeySource): Decrypter {
  const d = new Decrypter();
  for (const id of keys.identities ?? []) d.addIdentity(id);
  for (const p of keys.passphrases ?? []) d.addPassphrase(p);
  if (keys.fileKey !== undefined) d.addIdentity(fileKeyIdentity(keys.fileKey));
  return d;
}

async function wrap<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw new AgeError(`age: ${(e as Error).message}`);
  }
}

/** Decrypt a whole recording held in memory. Accepts the ASCII-armored form too. */
export function decryptRecording(file: Uint8Array, keys: KeySource): Promise<Uint8Array> {
  return wrap(() => decrypter(keys).decrypt(maybeDearmor(file)));
}

/** Decrypt as a stream (video segments fed to Media Source Extensions, large downloads). */
export function decryptRecordingStream(
  file: ReadableStream<Uint8Array>,
  keys: KeySource,
): Promise<ReadableStreamWithSize> {
  return wrap(() => decrypter(keys).decrypt(file));
}

/** The file key of a header (delegated decryption); the caller keeps track of its file. */
export function fileKeyFromHeader(header: Uint8Array, keys: KeySource): Promise<Uint8Array> {
  return wrap(() => decrypter(keys).decryptHeader(header));
}

/** Encrypt with a passphrase (scrypt recipient): the identity kept in IndexedDB. */
export function encryptWithPassphrase(
  plaintext: Uint8Array | string,
  passphrase: string,
  workFactor?: number,
): Promise<Uint8Array> {
  const e = new Encrypter();
  e.setPassphrase(passphrase);
  if (workFactor !== undefined) e.setScryptWorkFactor(workFactor);
  return wrap(() => e.encrypt(plaintext));
}

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";

function maybeDearmor(file: Uint8Array): Uint8Array {
  const head = new TextDecoder().decode(file.subarray(0, ARMOR_BEGIN.length + 4));
  if (!head.trimStart().startsWith(ARMOR_BEGIN)) return file;
  try {
    return armor.decode(new TextDecoder().decode(file));
  } catch (e) {
    throw new AgeError(`age: ${(e as Error).message}`);
  }
}
