// HTTP Message Signatures (RFC 9421) with Ed25519 and Content-Digest (RFC 9530), the exact
// camvault profile of crypto/httpsig.py, so a request the browser signs verifies at the
// storage service like one from the CLI.
//
// Profile (stricter than the RFCs, on purpose):
// - exactly one signature per request, label "sig1" by convention;
// - components: @method, @authority, @path, @query (RFC 9421 section 2.2) and lowercase
//   field names (section 2.1); no component parameters;
// - signature parameters (section 2.3): exactly created, expires, keyid, nonce,
//   alg (= "ed25519", section 3.3.6) and tag (= "camvault"), each once;
// - Signature-Input is the canonical RFC 8941 serialization (section 4.1), so the
//   "@signature-params" line verified is exactly the text sent;
// - component values are printable ASCII (no CR/LF smuggled into the base).

import { sha256 } from "@noble/hashes/sha2.js";
import { b64decodePadded, b64encodePadded, Base64Error, NonCanonicalBase64Error } from "./base64";
import { equalBytes, utf8 } from "./bytes";
import { Ed25519PublicKey, Ed25519SigningKey, SIGNATURE_SIZE } from "./ed25519";
import { HttpSignatureError } from "./errors";

export const ALG = "ed25519";
export const TAG = "camvault";
export const DEFAULT_LABEL = "sig1";
export const PARAM_ORDER = ["created", "expires", "keyid", "nonce", "alg", "tag"] as const;
/** What the Python clients cover (common/http.py BASE_COMPONENTS), plus the body fields. */
export const BASE_COMPONENTS = ["@method", "@authority", "@path", "@query"] as const;
export const BODY_COMPONENTS = ["content-digest", "content-type"] as const;

const MAX_FIELD_LEN = 4096;
const MAX_COMPONENTS = 32;
const MAX_KEYID_LEN = 300;
const KEY_RE = /^[a-z*][a-z0-9_.*-]{0,63}/; // RFC 8941 section 3.1.2 key
const FIELD_NAME_RE = /^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/; // lowercase RFC 9110 token
const NONCE_RE = /^[A-Za-z0-9_-]{16,128}$/;
const PRINTABLE_RE = /^[\x20-\x7e]*$/;
const INT_RE = /^-?[0-9]{1,15}/;

/** What a signature can cover of a request (see crypto/httpsig.py HttpRequest). */
export interface HttpRequest {
  method: string;
  /** The Host header as sent; section 2.2.3 lowercases it. */
  authority: string;
  /** Raw percent-encoded absolute path. */
  path: string;
  /** Raw query string without "?" ("" if none). */
  query: string;
  /** Lowercase field names to combined values (section 2.1). */
  headers: Readonly<Record<string, string>>;
}

export interface SignatureParams {
  created: number;
  expires: number;
  keyid: string;
  nonce: string;
  alg?: string;
  tag?: string;
}

export interface ParsedSignature {
  label: string;
  covered: string[];
  params: Required<SignatureParams>;
  signature: Uint8Array;
  /** Exactly as received (the canonical serialization). */
  serializedParams: string;
}

const fail = (reason: string, message: string): HttpSignatureError => new HttpSignatureError(reason, message);

// --- RFC 8941 pieces ---------------------------------------------------------------------

/** RFC 8941 section 4.1.6: a String is printable ASCII with \ and " escaped. */
function sfString(value: string): string {
  if (!PRINTABLE_RE.test(value)) throw fail("signature_params_invalid", "string is not printable ASCII");
  return '"' + value.replaceAll("\\", "\\\\").replaceAll('"', '\\"') + '"';
}

function sfInt(value: number): string {
  if (!Number.isInteger(value) || Math.abs(value) >= 1e15)
    throw fail("signature_params_invalid", "integer out of range");
  return String(value);
}

/** RFC 8941 section 4.1.8: ":" base64 (with padding) ":". */
function sfBytes(value: Uint8Array): string {
  return ":" + b64encodePadded(value) + ":";
}

/** The RFC 8941 inner list with parameters, as in Signature-Input (RFC 9421 section 4.1). */
export function serializeParams(params: SignatureParams, covered: readonly string[]): string {
  const items = covered.map(sfString).join(" ");
  return (
    `(${items});created=${sfInt(params.created)};expires=${sfInt(params.expires)}` +
    `;keyid=${sfString(params.keyid)};nonce=${sfString(params.nonce)}` +
    `;alg=${sfString(params.alg ?? ALG)};tag=${sfString(params.tag ?? TAG)}`
  );
}

/** A strict RFC 8941 parser for the subset camvault uses (section 4.2). */
class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(what: string): HttpSignatureError {
    return fail("signature_malformed", `${what} at offset ${this.pos}`);
  }
  peek(): string {
    return this.text[this.pos] ?? "";
  }
  expect(ch: string): void {
    if (this.peek() !== ch) throw this.fail(`expected '${ch}'`);
    this.pos++;
  }
  key(): string {
    const m = KEY_RE.exec(this.text.slice(this.pos));
    if (!m) throw this.fail("expected a key");
    this.pos += m[0].length;
    return m[0];
  }
  string(): string {
    this.expect('"');
    let out = "";
    for (;;) {
      const ch = this.peek();
      if (ch === "") throw this.fail("unterminated string");
      this.pos++;
      if (ch === '"') return out;
      if (ch === "\\") {
        const next = this.peek();
        if (next !== '"' && next !== "\\") throw this.fail("bad escape in string");
        this.pos++;
        out += next;
      } else if (ch < " " || ch > "~") {
        throw this.fail("non-printable character in string");
      } else {
        out += ch;
      }
    }
  }
  integer(): number {
    const m = INT_RE.exec(this.text.slice(this.pos));
    if (!m) throw this.fail("expected an integer");
    this.pos += m[0].length;
    return Number(m[0]);
  }
  byteSequence(): Uint8Array {
    this.expect(":");
    const end = this.text.indexOf(":", this.pos);
    if (end < 0) throw this.fail("unterminated byte sequence");
    let data: Uint8Array;
    try {
      data = b64decodePadded(this.text.slice(this.pos, end));
    } catch (e) {
      if (e instanceof NonCanonicalBase64Error) throw this.fail("non-canonical base64");
      if (e instanceof Base64Error) throw this.fail("byte sequence is not padded base64");
      throw e;
    }
    this.pos = end + 1;
    return data;
  }
  bareItem(): string | number {
    return this.peek() === '"' ? this.string() : this.integer();
  }
  params(): [string, string | number][] {
    const out: [string, string | number][] = [];
    while (this.peek() === ";") {
      this.pos++;
      const name = this.key();
      this.expect("="); // camvault parameters all have values (no bare true)
      out.push([name, this.bareItem()]);
    }
    return out;
  }
  innerListOfStrings(): string[] {
    this.expect("(");
    const items: string[] = [];
    while (this.peek() !== ")") {
      if (items.length > 0) this.expect(" ");
      items.push(this.string());
      if (this.peek() === ";") throw fail("signature_malformed", "component parameters are not supported");
      if (items.length > MAX_COMPONENTS) throw this.fail("too many covered components");
    }
    this.expect(")");
    return items;
  }
  end(): void {
    if (this.pos !== this.text.length) throw this.fail("unexpected trailing characters");
  }
}

function singleMember(text: string | null | undefined, what: string): [string, Parser] {
  if (text === null || text === undefined || text === "") throw fail("signature_missing", `${what} header is missing`);
  if (text.length > MAX_FIELD_LEN) throw fail("signature_malformed", `${what} header is too long`);
  const p = new Parser(text);
  const label = p.key();
  p.expect("=");
  return [label, p];
}

// --- components and the signature base (RFC 9421 section 2) ------------------------------

function componentValue(request: HttpRequest, name: string): string {
  let value: string;
  if (name === "@method") value = request.method;
  else if (name === "@authority") value = request.authority.toLowerCase();
  else if (name === "@path") value = request.path || "/";
  else if (name === "@query") value = "?" + request.query;
  else if (name.startsWith("@")) throw fail("signature_malformed", `unsupported derived component ${name}`);
  else {
    if (!FIELD_NAME_RE.test(name)) throw fail("signature_malformed", `bad field name '${name}'`);
    const field = Object.hasOwn(request.headers, name) ? request.headers[name] : undefined;
    if (field === undefined) throw fail("signature_component_missing", `covered field '${name}' is not in the request`);
    value = field.trim();
  }
  if (!PRINTABLE_RE.test(value)) throw fail("signature_malformed", `component ${name} has a non-printable value`);
  return value;
}

/**
 * The signature base of RFC 9421 section 2.5: one `"name": value` line per covered
 * component, then the `"@signature-params"` line (no trailing newline).
 */
export function signatureBase(request: HttpRequest, covered: readonly string[], paramsText: string): Uint8Array {
  if (new Set(covered).size !== covered.length) throw fail("signature_malformed", "a component is covered twice");
  const lines = covered.map((n) => `${sfString(n)}: ${componentValue(request, n)}`);
  lines.push(`"@signature-params": ${paramsText}`);
  return utf8(lines.join("\n"));
}

function checkParams(params: Required<SignatureParams>): void {
  if (params.alg !== ALG) throw fail("signature_alg_unsupported", `alg must be '${ALG}'`);
  if (params.tag !== TAG) throw fail("signature_params_invalid", `tag must be '${TAG}'`);
  if (params.keyid.length < 1 || params.keyid.length > MAX_KEYID_LEN || !PRINTABLE_RE.test(params.keyid))
    throw fail("signature_params_invalid", "keyid is malformed");
  if (!NONCE_RE.test(params.nonce)) throw fail("signature_params_invalid", "nonce must be 16-128 base64url characters");
  if (params.created < 0 || params.expires <= params.created)
    throw fail("signature_params_invalid", "expires must be after created");
}

const withDefaults = (p: SignatureParams): Required<SignatureParams> => ({
  ...p,
  alg: p.alg ?? ALG,
  tag: p.tag ?? TAG,
});

/** Sign (RFC 9421 section 3.1); returns the Signature-Input and Signature field values. */
export function signRequest(
  request: HttpRequest,
  covered: readonly string[],
  params: SignatureParams,
  key: Ed25519SigningKey,
  label: string = DEFAULT_LABEL,
): { signatureInput: string; signature: string } {
  const full = withDefaults(params);
  checkParams(full);
  const m = KEY_RE.exec(label);
  if (!m || m[0] !== label) throw fail("signature_malformed", "bad signature label");
  const text = serializeParams(full, covered);
  const sig = key.sign(signatureBase(request, covered, text));
  return { signatureInput: `${label}=${text}`, signature: `${label}=${sfBytes(sig)}` };
}

/** Parse Signature-Input and Signature (RFC 9421 sections 4.1, 4.2), camvault profile. */
export function parseSignature(
  signatureInput: string | null | undefined,
  signature: string | null | undefined,
): ParsedSignature {
  const [label, p] = singleMember(signatureInput, "Signature-Input");
  const start = p.pos;
  const covered = p.innerListOfStrings();
  const raw = p.params();
  if (p.peek() === ",") throw fail("signature_malformed", "more than one signature");
  p.end();
  const serialized = p.text.slice(start);
  const seen = new Map<string, string | number>();
  for (const [name, value] of raw) {
    if (!(PARAM_ORDER as readonly string[]).includes(name))
      throw fail("signature_params_invalid", `unknown parameter '${name}'`);
    if (seen.has(name)) throw fail("signature_params_invalid", `parameter '${name}' repeated`);
    seen.set(name, value);
  }
  const missing = PARAM_ORDER.filter((n) => !seen.has(n));
  if (missing.length > 0) throw fail("signature_params_invalid", `parameter '${missing[0]}' missing`);
  const created = seen.get("created");
  const expires = seen.get("expires");
  if (typeof created !== "number" || typeof expires !== "number")
    throw fail("signature_params_invalid", "created/expires must be integers");
  const strings = (["keyid", "nonce", "alg", "tag"] as const).map((n) => seen.get(n));
  if (!strings.every((s): s is string => typeof s === "string"))
    throw fail("signature_params_invalid", "keyid/nonce/alg/tag are strings");
  const [keyid, nonce, alg, tag] = strings as [string, string, string, string];
  const params = { created, expires, keyid, nonce, alg, tag };
  checkParams(params);
  // Another parameter order is allowed; any other spelling is not.
  const reserialized =
    `(${covered.map(sfString).join(" ")})` +
    raw.map(([n, v]) => `;${n}=${typeof v === "number" ? sfInt(v) : sfString(v)}`).join("");
  if (reserialized !== serialized) throw fail("signature_malformed", "Signature-Input is not canonical");

  const [sigLabel, q] = singleMember(signature, "Signature");
  if (sigLabel !== label) throw fail("signature_malformed", "Signature and Signature-Input labels differ");
  const sig = q.byteSequence();
  if (q.peek() === ",") throw fail("signature_malformed", "more than one signature");
  q.end();
  if (sig.length !== SIGNATURE_SIZE) throw fail("signature_malformed", `signature must be ${SIGNATURE_SIZE} bytes`);
  return { label, covered, params, signature: sig, serializedParams: serialized };
}

/** Freshness (RFC 9421 section 3.2.1 leaves the policy to the verifier), as the server checks. */
export function checkTimes(
  params: SignatureParams,
  opts: { now: number; maxSkewS: number; maxLifetimeS: number },
): void {
  if (params.expires - params.created > opts.maxLifetimeS)
    throw fail("signature_params_invalid", `signature valid longer than ${opts.maxLifetimeS} s`);
  if (params.created > opts.now + opts.maxSkewS)
    throw fail("signature_clock_skew", `created is ${params.created - opts.now} s in the future`);
  if (opts.now > params.expires + opts.maxSkewS)
    throw fail("signature_expired", `signature expired ${opts.now - params.expires} s ago`);
}

/** Verify (RFC 9421 section 3.2) under `key`, after checking every `required` component is covered. */
export function verifyRequest(
  request: HttpRequest,
  parsed: ParsedSignature,
  key: Ed25519PublicKey,
  required: readonly string[],
): void {
  for (const name of required)
    if (!parsed.covered.includes(name)) throw fail("signature_component_missing", `signature does not cover '${name}'`);
  const base = signatureBase(request, parsed.covered, parsed.serializedParams);
  if (!key.isValid(base, parsed.signature)) throw fail("signature_invalid", "signature does not verify");
}

// --- Content-Digest (RFC 9530 section 2, sha-256) ----------------------------------------

export function contentDigest(body: Uint8Array): string {
  return "sha-256=" + sfBytes(sha256(body));
}

export function checkContentDigest(value: string | null | undefined, body: Uint8Array): void {
  if (value === null || value === undefined || value === "")
    throw fail("content_digest_missing", "Content-Digest header is missing");
  const p = new Parser(value);
  let name: string;
  let digest: Uint8Array;
  try {
    name = p.key();
    p.expect("=");
    digest = p.byteSequence();
    p.end();
  } catch (e) {
    if (e instanceof HttpSignatureError) throw fail("content_digest_malformed", e.message);
    throw e;
  }
  if (name !== "sha-256" || digest.length !== 32)
    throw fail("content_digest_malformed", "Content-Digest must be sha-256 only");
  if (!equalBytes(digest, sha256(body)))
    throw fail("content_digest_mismatch", "Content-Digest does not match the body");
}
