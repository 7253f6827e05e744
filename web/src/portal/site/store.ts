// A small IndexedDB store of the portal's own, nothing secret in it: the hashes of the
// statements this browser signed (consents, revocations: the audit's "was it me?", as the
// CLI keeps them in config.json `signed`, which the browser cannot write) and the inbox's
// read marker (the storage API has no unread state). A separate database from the key vault
// (../vault.ts), so neither can disturb the other.

import { idbRun } from "../idb";

const DB = "camvault-site";
const SIGNED = "signed";
const MARKS = "marks";

const PLACE = { db: DB, stores: [SIGNED, MARKS] };

function run<T>(store: string, mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  return idbRun<T>(PLACE, store, mode, op);
}

/** What is kept of one signed statement: its hash (hex SHA-256 of the wire form), which
 *  site, which kind and when. */
export interface SignedRecord {
  hash: string;
  site_id: string;
  type: string;
  signed_ms: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Remember that this browser signed the statement whose hash is `hash`. */
export async function rememberSigned(rec: SignedRecord): Promise<void> {
  if (!HEX64.test(rec.hash)) throw new Error("rememberSigned: not a SHA-256 hex digest");
  await run<unknown>(SIGNED, "readwrite", (s) => s.put(rec, rec.hash));
}

/** Every statement signed in this browser (oldest first), optionally only one site's. */
export async function signedRecords(siteId?: string): Promise<SignedRecord[]> {
  const all = await run<SignedRecord[]>(SIGNED, "readonly", (s) => s.getAll());
  return all
    .filter((r) => siteId === undefined || r.site_id === siteId)
    .sort((a, b) => a.signed_ms - b.signed_ms || a.hash.localeCompare(b.hash));
}

/** The hashes (hex) of the statements signed in this browser: the audit page adds them to
 *  config.json's `signed` when it asks "was it me?". */
export async function signedStatementHashes(siteId?: string): Promise<string[]> {
  return (await signedRecords(siteId)).map((r) => r.hash);
}

/** The highest inbox item id the customer has seen at a site (0: none). */
export async function inboxSeen(siteId: string): Promise<number> {
  const v = await run<unknown>(MARKS, "readonly", (s) => s.get(`inbox:${siteId}`));
  return typeof v === "number" ? v : 0;
}

export async function setInboxSeen(siteId: string, id: number): Promise<void> {
  await run<unknown>(MARKS, "readwrite", (s) => s.put(id, `inbox:${siteId}`));
}
