// What the audit remembers between visits, per site and custodian: the last verified tree
// (size, root, compact range: the trust-on-first-use anchor of the next audit) and the site's
// accesses seen so far (each entry's exact text, to prove it again under every new
// checkpoint). Public log data only, nothing secret: its own IndexedDB database, unencrypted.

import type { RecordingMetadata } from "../../crypto/metadata";
import { idbRun } from "../idb";
import { type AuditState, type AuditStateJson, stateFromJson, stateToJson, type StateStore } from "./log";

/** An access as remembered: the entry's log index and exact text, and what its notice listed. */
export interface StoredAccess {
  index: number;
  text: string;
  recordings: RecordingMetadata[];
}

export interface CustodianMemory {
  state: AuditStateJson | null;
  accesses: StoredAccess[];
}

export interface AuditStore {
  get(siteId: string, custodianId: string): Promise<CustodianMemory>;
  put(siteId: string, custodianId: string, memory: CustodianMemory): Promise<void>;
}

const empty = (): CustodianMemory => ({ state: null, accesses: [] });
const key = (siteId: string, custodianId: string): string => `${siteId} ${custodianId}`;

/** Kept in memory only (tests; a browser without IndexedDB). */
export class MemoryAuditStore implements AuditStore {
  readonly items = new Map<string, CustodianMemory>();
  async get(siteId: string, custodianId: string): Promise<CustodianMemory> {
    return structuredClone(this.items.get(key(siteId, custodianId)) ?? empty());
  }
  async put(siteId: string, custodianId: string, memory: CustodianMemory): Promise<void> {
    this.items.set(key(siteId, custodianId), structuredClone(memory));
  }
}

export const AUDIT_DB = "camvault-audit";
const STORE = "custodians";

const PLACE = { db: AUDIT_DB, stores: [STORE] };

export class IndexedDbAuditStore implements AuditStore {
  #run<T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest): Promise<T> {
    return idbRun<T>(PLACE, STORE, mode, op);
  }

  async get(siteId: string, custodianId: string): Promise<CustodianMemory> {
    const v = await this.#run<CustodianMemory | undefined>("readonly", (s) => s.get(key(siteId, custodianId)));
    return v ?? empty();
  }

  async put(siteId: string, custodianId: string, memory: CustodianMemory): Promise<void> {
    await this.#run("readwrite", (s) => s.put(memory, key(siteId, custodianId)));
  }
}

/** The log audit's view of one custodian's saved state, read and written through `store`. */
export function stateStore(store: AuditStore, siteId: string, custodianId: string): StateStore {
  return {
    async load(): Promise<AuditState | null> {
      const m = await store.get(siteId, custodianId);
      return m.state === null ? null : stateFromJson(m.state);
    },
    async save(state: AuditState): Promise<void> {
      const m = await store.get(siteId, custodianId);
      await store.put(siteId, custodianId, { ...m, state: stateToJson(state) });
    },
  };
}
