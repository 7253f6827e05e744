// The key material at rest: one IndexedDB record holding an age file encrypted to the
// customer's passphrase (scrypt recipient). The plaintext is never written anywhere; it lives
// only in the unlocked session's memory.

import { decryptRecording, encryptWithPassphrase } from "../crypto/age";
import { customerConfig, type KeyMaterial } from "./keyfile";

const DB = "camvault";
const STORE = "vault";
const RECORD = "identity";

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

export async function saveVault(keys: KeyMaterial, passphrase: string): Promise<void> {
  const sealed = await encryptWithPassphrase(JSON.stringify(keys), passphrase);
  await run("readwrite", (s) => s.put(sealed, RECORD));
}

export async function openVault(passphrase: string): Promise<KeyMaterial> {
  const sealed = await run<unknown>("readonly", (s) => s.get(RECORD));
  if (!(sealed instanceof Uint8Array)) throw new Error("no identity stored");
  let plain: Uint8Array;
  try {
    plain = await decryptRecording(sealed, { passphrases: [passphrase] });
  } catch {
    throw new WrongPassphrase("wrong passphrase");
  }
  const obj = JSON.parse(new TextDecoder().decode(plain)) as KeyMaterial;
  const config = customerConfig(obj.config as unknown as Record<string, unknown> | null);
  return { identity: obj.identity, siteKey: obj.siteKey, siteId: obj.siteId, config };
}

export async function forgetVault(): Promise<void> {
  await run("readwrite", (s) => s.delete(RECORD));
}
