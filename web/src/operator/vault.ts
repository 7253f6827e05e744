// The operator's key material at rest: one IndexedDB record (its own database, apart from the
// customer portal's) holding an age file encrypted to a passphrase (scrypt recipient). The
// plaintext lives only in the unlocked session's memory.

import { decryptRecording, encryptWithPassphrase } from "../crypto/age";
import { Ed25519SigningKey } from "../crypto/ed25519";
import { operatorConfig, type OperatorKeys } from "./keys";

const DB = "camvault-operator";
const STORE = "vault";
const RECORD = "operator";

export class WrongPassphrase extends Error {
  override name = "WrongPassphrase";
}

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB: cannot open"));
  });
}

async function run<T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = op(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB: transaction failed"));
    });
  } finally {
    db.close();
  }
}

export async function hasVault(): Promise<boolean> {
  return (await run<unknown>("readonly", (s) => s.get(RECORD))) instanceof Uint8Array;
}

export async function saveVault(keys: OperatorKeys, passphrase: string): Promise<void> {
  const sealed = await encryptWithPassphrase(JSON.stringify(keys), passphrase);
  await run("readwrite", (s) => s.put(sealed, RECORD));
}

export async function openVault(passphrase: string): Promise<OperatorKeys> {
  const sealed = await run<unknown>("readonly", (s) => s.get(RECORD));
  if (!(sealed instanceof Uint8Array)) throw new Error("no operator key stored");
  let plain: Uint8Array;
  try {
    plain = await decryptRecording(sealed, { passphrases: [passphrase] });
  } catch {
    throw new WrongPassphrase("wrong passphrase");
  }
  const obj = JSON.parse(new TextDecoder().decode(plain)) as OperatorKeys;
  // checked again: what comes out of storage is input like any other
  Ed25519SigningKey.fromText(obj.key);
  return {
    key: obj.key,
    ...operatorConfig({
      operator_id: obj.operatorId,
      role: obj.role,
      storage_url: obj.storageUrl,
      custodians: obj.custodians,
    }),
  };
}

export async function forgetVault(): Promise<void> {
  await run("readwrite", (s) => s.delete(RECORD));
}
