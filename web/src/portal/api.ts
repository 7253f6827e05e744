// The storage API at this page's origin, every request signed as common/http.py SignedClient
// signs it (RFC 9421, Ed25519, keyid customer:<site id>; signedRequestHeaders). The identity
// never enters a request: only the signature made with the site key does.

import { Ed25519SigningKey } from "../crypto/ed25519";
import { signedRequestHeaders } from "../crypto/signedrequest";

export class ApiRefusal extends Error {
  override name = "ApiRefusal";
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

export interface Site {
  site_id: string;
  keys_version: number;
  retention_days: number | null;
}

export interface Device {
  device_id: string;
  kind: string;
  model: string;
  revoked: boolean;
}

export interface Recording {
  camera_id: string;
  recording_id: string;
  kind: string;
  start_ms: number;
  end_ms: number;
  payload_size: number;
  sequence: number;
  status: string;
}

const PAGE_LIMIT = 100;

export class StorageClient {
  readonly #key: Ed25519SigningKey;
  readonly #keyid: string;

  constructor(
    readonly siteId: string,
    siteKey: string,
    readonly origin: string = location.origin,
  ) {
    this.#key = Ed25519SigningKey.fromText(siteKey);
    this.#keyid = `customer:${siteId}`;
  }

  async get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const url = new URL(path, this.origin);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const headers = signedRequestHeaders({ method: "GET", url, key: this.#key, keyid: this.#keyid });
    const resp = await fetch(url, { method: "GET", headers, credentials: "omit", cache: "no-store" });
    if (!resp.ok) {
      let code = "http_error";
      let message = `HTTP ${resp.status}`;
      try {
        const body = (await resp.json()) as { error?: { code?: unknown; message?: unknown } };
        if (typeof body.error?.code === "string") code = body.error.code;
        if (typeof body.error?.message === "string") message = body.error.message;
      } catch {
        // not a JSON error body: keep the status
      }
      throw new ApiRefusal(resp.status, code, message);
    }
    return (await resp.json()) as T;
  }

  #site(): string {
    return `/v1/sites/${encodeURIComponent(this.siteId)}`;
  }

  site(): Promise<Site> {
    return this.get<Site>(this.#site());
  }

  async cameras(): Promise<Device[]> {
    const list = await this.get<{ items: Device[] }>(`${this.#site()}/devices`);
    return list.items.filter((d) => d.kind === "camera");
  }

  /** Every committed recording of a camera, newest first (following the cursor). */
  async recordings(cameraId: string): Promise<Recording[]> {
    const out: Recording[] = [];
    let cursor: string | null = null;
    do {
      const params: Record<string, string> = {
        camera_id: cameraId,
        include_deleted: "false",
        limit: String(PAGE_LIMIT),
      };
      if (cursor !== null) params["cursor"] = cursor;
      const page: { items: Recording[]; next_cursor: string | null } = await this.get(
        `${this.#site()}/recordings`,
        params,
      );
      out.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return out;
  }
}
