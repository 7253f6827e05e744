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

export interface SendOptions {
  params?: Record<string, string>;
  /** JSON-encoded (or sent as is when a Uint8Array / string) and covered by Content-Digest. */
  body?: unknown;
  /** Extra headers (e.g. Idempotency-Key); not covered by the signature. */
  headers?: Record<string, string>;
  /** Aborts the request (long-lived streams such as the alarm feed). */
  signal?: AbortSignal;
}

/** Signed requests (RFC 9421, the camvault profile) to one origin as one key id. Any origin:
 *  the storage service (`customer:<site id>`), a custodian, or as an operator. */
export class SignedFetch {
  readonly #key: Ed25519SigningKey;

  constructor(
    readonly origin: string,
    readonly keyid: string,
    key: string | Ed25519SigningKey,
  ) {
    this.#key = typeof key === "string" ? Ed25519SigningKey.fromText(key) : key;
  }

  /** The raw response (the caller checks ok); the request is signed, no cookies are sent. */
  async raw(method: string, path: string, opts: SendOptions = {}): Promise<Response> {
    const url = new URL(path, this.origin);
    for (const [k, v] of Object.entries(opts.params ?? {})) url.searchParams.set(k, v);
    let body: Uint8Array | string | undefined;
    if (opts.body instanceof Uint8Array || typeof opts.body === "string") body = opts.body;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    const signed = signedRequestHeaders({
      method,
      url,
      key: this.#key,
      keyid: this.keyid,
      ...(body !== undefined ? { body } : {}),
    });
    const init: RequestInit = {
      method,
      headers: { ...(opts.headers ?? {}), ...signed },
      credentials: "omit",
      cache: "no-store",
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    if (body !== undefined) init.body = body as BodyInit;
    return fetch(url, init);
  }

  /** The JSON answer, or ApiRefusal with the service's reason code. */
  async send<T>(method: string, path: string, opts: SendOptions = {}): Promise<T> {
    const resp = await this.raw(method, path, opts);
    if (!resp.ok) throw await refusal(resp);
    if (resp.status === 204) return undefined as T;
    return (await resp.json()) as T;
  }

  get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    return this.send<T>("GET", path, { params });
  }

  post<T>(path: string, body: unknown, opts: SendOptions = {}): Promise<T> {
    return this.send<T>("POST", path, { ...opts, body });
  }
}

/** An error answer as ApiRefusal: `{"error": {"code", "message"}}` (storage and custodians
 *  alike), else the HTTP status. */
export async function refusal(resp: Response): Promise<ApiRefusal> {
  let code = "http_error";
  let message = `HTTP ${resp.status}`;
  try {
    const body = (await resp.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string") code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message;
  } catch {
    // not a JSON error body: keep the status
  }
  return new ApiRefusal(resp.status, code, message);
}

export class StorageClient extends SignedFetch {
  constructor(
    readonly siteId: string,
    siteKey: string,
    origin: string = location.origin,
  ) {
    super(origin, `customer:${siteId}`, siteKey);
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
