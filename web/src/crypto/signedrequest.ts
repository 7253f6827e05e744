// The headers of a signed request, as common/http.py SignedClient.build makes them, for a
// fetch() from the browser: the same covered components (@method @authority @path @query,
// plus content-digest and content-type when there is a body), a 60 s validity window and a
// fresh 18-byte base64url nonce (Python's secrets.token_urlsafe(18)). Pure: it only computes
// headers; sending them is the caller's job.
//
// The authority is the URL's host (with its port when not the default), which is what the
// browser sends as Host; the path and query are the URL's serialized (percent-encoded) forms,
// which is what the server receives as raw_path and query_string.

import { b64urlEncode } from "./base64";
import { utf8 } from "./bytes";
import type { Ed25519SigningKey } from "./ed25519";
import { BASE_COMPONENTS, BODY_COMPONENTS, contentDigest, signRequest, type HttpRequest } from "./httpsig";

export const DEFAULT_LIFETIME_S = 60;

export interface SignedRequestInput {
  method: string;
  url: string | URL;
  /** Request body; a string is sent as UTF-8. */
  body?: Uint8Array | string;
  /** Defaults to application/json for a string body, application/octet-stream otherwise. */
  contentType?: string;
  key: Ed25519SigningKey;
  keyid: string;
  /** Seconds since the epoch (defaults to the clock). */
  now?: number;
  lifetimeS?: number;
  nonce?: string;
}

export function randomNonce(): string {
  return b64urlEncode(crypto.getRandomValues(new Uint8Array(18)));
}

/** Headers to send (lowercase names): content-type and content-digest if there is a body, signature-input, signature. */
export function signedRequestHeaders(input: SignedRequestInput): Record<string, string> {
  const url = new URL(input.url);
  const headers: Record<string, string> = {};
  const body = typeof input.body === "string" ? utf8(input.body) : input.body;
  if (body !== undefined && body.length > 0) {
    headers["content-type"] =
      input.contentType ?? (typeof input.body === "string" ? "application/json" : "application/octet-stream");
    headers["content-digest"] = contentDigest(body);
  }
  const request: HttpRequest = {
    method: input.method.toUpperCase(),
    authority: url.host,
    path: url.pathname,
    query: url.search.replace(/^\?/, ""),
    headers,
  };
  const created = Math.floor(input.now ?? Date.now() / 1000);
  const covered = [...BASE_COMPONENTS, ...(headers["content-digest"] ? BODY_COMPONENTS : [])];
  const signed = signRequest(
    request,
    covered,
    {
      created,
      expires: created + (input.lifetimeS ?? DEFAULT_LIFETIME_S),
      keyid: input.keyid,
      nonce: input.nonce ?? randomNonce(),
    },
    input.key,
  );
  return { ...headers, "signature-input": signed.signatureInput, signature: signed.signature };
}
