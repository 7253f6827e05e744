// One custodian's routes as the audit reads them (clients/api/escrow.py CustodianApi): the
// public log routes as plain GETs (no credentials, nothing of the customer's in them), and the
// site's notices as a request signed by the site key (keyid customer:<site id>).

import { b64decodePadded } from "../../crypto/base64";
import { ApiRefusal, refusal, SignedFetch } from "../api";
import { ReadError, Refused, type LogReader } from "./log";

/** Entries per page of GET /v1/log/entries, notices per page of GET /v1/sites/{site}/notices. */
export const LOG_PAGE = 1000;
export const NOTICE_PAGE = 1000;
/** Attempts of a request refused as rate_limited (429), and the longest wait between two. */
const RATE_LIMITED_ATTEMPTS = 5;
const MAX_RETRY_WAIT_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `send()`, again after the Retry-After of a 429 (bounded). Network failures are ReadError. */
async function retrying(send: () => Promise<Response>, what: string): Promise<Response> {
  for (let i = 0; ; i++) {
    let resp: Response;
    try {
      resp = await send();
    } catch (e) {
      throw new ReadError((e as Error).message);
    }
    if (resp.status !== 429 || i === RATE_LIMITED_ATTEMPTS - 1) return resp;
    const wait = Number(resp.headers.get("retry-after") ?? "1");
    await sleep(Math.min(Math.max(Number.isFinite(wait) ? wait * 1000 : 1000, 0), MAX_RETRY_WAIT_MS));
  }
}

function proofOf(data: unknown): Uint8Array[] {
  const proof = (data as { proof?: unknown }).proof;
  if (!Array.isArray(proof) || !proof.every((p) => typeof p === "string"))
    throw new ReadError("the proof is not a list of base64 hashes");
  return proof.map((p: string) => b64decodePadded(p));
}

export class HttpLogReader implements LogReader {
  readonly url: string;

  constructor(
    url: string,
    readonly name: string,
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {
    this.url = url.replace(/\/+$/, "");
  }

  async #get(path: string, params: Record<string, string | number> = {}): Promise<Response> {
    const u = new URL(this.url + path);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v));
    const resp = await retrying(() => this.fetcher(u, { credentials: "omit", cache: "no-store" }), this.name);
    if (!resp.ok) {
      const r = await refusal(resp);
      throw new Refused(`${this.name} refused: ${r.code} (${r.detail})`);
    }
    return resp;
  }

  async #json(path: string, params: Record<string, string | number>): Promise<unknown> {
    const resp = await this.#get(path, params);
    try {
      return await resp.json();
    } catch {
      throw new ReadError(`${this.name}: the answer to ${path} is not JSON`);
    }
  }

  async checkpoint(): Promise<Uint8Array> {
    const resp = await this.#get("/v1/log/checkpoint");
    return new Uint8Array(await resp.arrayBuffer());
  }

  async cosignedCheckpoint(): Promise<Uint8Array> {
    const resp = await this.#get("/v1/log/cosigned-checkpoint");
    return new Uint8Array(await resp.arrayBuffer());
  }

  async consistency(oldSize: number, newSize: number): Promise<Uint8Array[]> {
    return proofOf(await this.#json("/v1/log/consistency", { old: oldSize, new: newSize }));
  }

  async inclusion(index: number, treeSize: number): Promise<Uint8Array[]> {
    return proofOf(await this.#json("/v1/log/inclusion", { index, tree_size: treeSize }));
  }

  async entries(start: number, end: number): Promise<[number, string][]> {
    const out: [number, string][] = [];
    let pos = start;
    while (pos < end) {
      const stop = Math.min(end, pos + LOG_PAGE);
      const data = (await this.#json("/v1/log/entries", { start: pos, end: stop })) as { entries?: unknown };
      if (!Array.isArray(data.entries)) throw new ReadError(`${this.name}: entries missing from the answer`);
      const page: [number, string][] = data.entries.map((e: { index?: unknown; entry?: unknown }) => {
        if (typeof e?.index !== "number" || typeof e.entry !== "string")
          throw new ReadError(`${this.name}: an entry of the answer is malformed`);
        return [e.index, e.entry];
      });
      out.push(...page);
      if (page.length !== stop - pos) break;
      pos = stop;
    }
    return out;
  }
}

/** Every access notice the custodian holds for the site, and whether the storage service
 *  acknowledged its delivery (GET /v1/sites/{site}/notices, signed as the customer). */
export async function custodianNotices(
  client: SignedFetch,
  siteId: string,
  name: string,
): Promise<[string, boolean][]> {
  const out: [string, boolean][] = [];
  let after = 0;
  for (;;) {
    let data: { notices?: unknown };
    try {
      data = await client.get(`/v1/sites/${encodeURIComponent(siteId)}/notices`, {
        after: String(after),
        limit: String(NOTICE_PAGE),
      });
    } catch (e) {
      if (e instanceof ApiRefusal) throw new Refused(`${name} refused: ${e.code} (${e.detail})`);
      throw new ReadError((e as Error).message);
    }
    const rows = data.notices;
    if (!Array.isArray(rows)) throw new ReadError(`${name}: notices missing from the answer`);
    for (const r of rows as { id?: unknown; notice?: unknown; delivered?: unknown }[])
      out.push([String(r.notice), r.delivered === true]);
    if (rows.length < NOTICE_PAGE) return out;
    after = Number((rows[rows.length - 1] as { id?: unknown }).id);
  }
}
