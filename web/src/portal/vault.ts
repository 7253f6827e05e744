// The customer's key material at rest: one IndexedDB record holding an age file encrypted to
// the customer's passphrase (scrypt recipient). The plaintext is never written anywhere; it
// lives only in the unlocked session's memory.

import { decryptRecording, encryptWithPassphrase } from "../crypto/age";
import { SealedRecord } from "./idb";
import { customerConfig, type KeyMaterial } from "./keyfile";

export { WrongPassphrase } from "./idb";

const VAULT = new SealedRecord("camvault", "vault", "identity", encryptWithPassphrase, (sealed, passphrase) =>
  decryptRecording(sealed, { passphrases: [passphrase] }),
);

export function hasVault(): Promise<boolean> {
  return VAULT.exists();
}

export function saveVault(keys: KeyMaterial, passphrase: string): Promise<void> {
  return VAULT.save(keys, passphrase);
}

export async function openVault(passphrase: string): Promise<KeyMaterial> {
  const obj = (await VAULT.open(passphrase, "no identity stored")) as KeyMaterial;
  const config = customerConfig(obj.config as unknown as Record<string, unknown> | null);
  return { identity: obj.identity, siteKey: obj.siteKey, siteId: obj.siteId, config, witnesses: obj.witnesses ?? null };
}

export function forgetVault(): Promise<void> {
  return VAULT.forget();
}
