// IndexedDB in one place: open a database (its object stores made on first use), run one
// request in one transaction, close. Every store of the app goes through `idbRun`: the key
// vaults (portal, operator), the audit's memory, the signed-statement hashes.

export interface IdbPlace {
  db: string;
  /** Every object store of the database (made when it is first opened). */
  stores: readonly string[];
}

function openDb(place: IdbPlace): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(place.db, 1);
    req.onupgradeneeded = () => {
      for (const s of place.stores) req.result.createObjectStore(s);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB: cannot open"));
  });
}

/** One request on `store` of `place` in its own transaction; resolves once it committed. */
export async function idbRun<T>(
  place: IdbPlace,
  store: string,
  mode: IDBTransactionMode,
  op: (s: IDBObjectStore) => IDBRequest,
): Promise<T> {
  const db = await openDb(place);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const req = op(tx.objectStore(store));
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB: transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB: transaction aborted"));
    });
  } finally {
    db.close();
  }
}

export class WrongPassphrase extends Error {
  override name = "WrongPassphrase";
}

/**
 * One record holding a JSON value encrypted to a passphrase (an age file, scrypt recipient):
 * how the key files are kept at rest. The plaintext is never written anywhere.
 */
export class SealedRecord {
  readonly #place: IdbPlace;

  constructor(
    db: string,
    readonly store: string,
    readonly record: string,
    readonly encrypt: (plain: string, passphrase: string) => Promise<Uint8Array>,
    readonly decrypt: (sealed: Uint8Array, passphrase: string) => Promise<Uint8Array>,
  ) {
    this.#place = { db, stores: [store] };
  }

  async exists(): Promise<boolean> {
    return (
      (await idbRun<unknown>(this.#place, this.store, "readonly", (s) => s.get(this.record))) instanceof Uint8Array
    );
  }

  async save(value: unknown, passphrase: string): Promise<void> {
    const sealed = await this.encrypt(JSON.stringify(value), passphrase);
    await idbRun(this.#place, this.store, "readwrite", (s) => s.put(sealed, this.record));
  }

  /** The JSON value; WrongPassphrase if the passphrase does not open it. */
  async open(passphrase: string, missing: string): Promise<unknown> {
    const sealed = await idbRun<unknown>(this.#place, this.store, "readonly", (s) => s.get(this.record));
    if (!(sealed instanceof Uint8Array)) throw new Error(missing);
    let plain: Uint8Array;
    try {
      plain = await this.decrypt(sealed, passphrase);
    } catch {
      throw new WrongPassphrase("wrong passphrase");
    }
    return JSON.parse(new TextDecoder().decode(plain)) as unknown;
  }

  async forget(): Promise<void> {
    await idbRun(this.#place, this.store, "readwrite", (s) => s.delete(this.record));
  }
}
