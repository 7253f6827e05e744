// The operator's key material at rest: one IndexedDB record (its own database, apart from the
// customer portal's) holding an age file encrypted to a passphrase (scrypt recipient). The
// plaintext lives only in the unlocked session's memory.

import { decryptRecording, encryptWithPassphrase } from "../crypto/age";
import { Ed25519SigningKey } from "../crypto/ed25519";
import { SealedRecord } from "../portal/idb";
import { operatorConfig, type OperatorKeys } from "./keys";

export { WrongPassphrase } from "../portal/idb";

const VAULT = new SealedRecord("camvault-operator", "vault", "operator", encryptWithPassphrase, (sealed, passphrase) =>
  decryptRecording(sealed, { passphrases: [passphrase] }),
);

export function hasVault(): Promise<boolean> {
  return VAULT.exists();
}

export function saveVault(keys: OperatorKeys, passphrase: string): Promise<void> {
  return VAULT.save(keys, passphrase);
}

export async function openVault(passphrase: string): Promise<OperatorKeys> {
  const obj = (await VAULT.open(passphrase, "no operator key stored")) as OperatorKeys;
  // checked again: what comes out of storage is input like any other
  Ed25519SigningKey.fromText(obj.key);
  return {
    key: obj.key,
    ...operatorConfig({
      operator_id: obj.operatorId,
      role: obj.role,
      storage_url: obj.storageUrl,
      custodians: obj.custodians,
      witnesses: obj.witnesses ?? null,
    }),
  };
}

export function forgetVault(): Promise<void> {
  return VAULT.forget();
}
