// RFC 9421 request signatures: web/test/fixtures/httpsig.json (requests signed by
// crypto/httpsig.py; tests/vectors has no httpsig vectors yet) and the attacks the storage
// service refuses, each for its reason code.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromHex, utf8 } from "../src/crypto/bytes";
import { Ed25519SigningKey } from "../src/crypto/ed25519";
import { HttpSignatureError } from "../src/crypto/errors";
import { named } from "./vectors";
import { signedRequestHeaders } from "../src/crypto/signedrequest";
import {
  BASE_COMPONENTS,
  checkContentDigest,
  checkTimes,
  contentDigest,
  parseSignature,
  signatureBase,
  signRequest,
  verifyRequest,
  type HttpRequest,
} from "../src/crypto/httpsig";

const F = JSON.parse(readFileSync(new URL("./fixtures/httpsig.json", import.meta.url), "utf8"));
const key = new Ed25519SigningKey(fromHex(F.key_seed_hex));
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const reqOf = (r: any): HttpRequest => ({
  method: r.method,
  authority: r.authority,
  path: r.path,
  query: r.query,
  headers: r.headers,
});

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof HttpSignatureError) return e.reason;
    throw e;
  }
  return "accepted";
}

describe("requests signed by crypto/httpsig.py", () => {
  it("the key is the fixture's", () => expect(key.publicKey.toText()).toBe(F.public_key));

  it.each(named(F.requests, (r) => `${r.method} ${r.path}`))("%s: same base, same fields, verifies", (_n, r: any) => {
    const req = reqOf(r);
    const signed = signRequest(req, r.covered, r.params, key);
    expect(signed.signatureInput).toBe(r.signature_input);
    expect(signed.signature).toBe(r.signature);
    const parsed = parseSignature(r.signature_input, r.signature);
    expect(dec(signatureBase(req, parsed.covered, parsed.serializedParams))).toBe(r.base);
    verifyRequest(req, parsed, key.publicKey, BASE_COMPONENTS);
    if (r.body !== undefined) checkContentDigest(r.headers["content-digest"], utf8(r.body));
  });
});

describe("attacks on a signed request fail for the right reason", () => {
  const r = F.requests.find((x: any) => x.body !== undefined);
  const req = reqOf(r);
  const ok = (): ParsedLike => parseSignature(r.signature_input, r.signature);
  type ParsedLike = ReturnType<typeof parseSignature>;
  const verify =
    (q: HttpRequest, p: ParsedLike = ok()) =>
    () =>
      verifyRequest(q, p, key.publicKey, BASE_COMPONENTS);

  it("another method, path, query, host or body type", () => {
    expect(reason(verify({ ...req, method: "PUT" }))).toBe("signature_invalid");
    expect(reason(verify({ ...req, path: "/v1/consents/other" }))).toBe("signature_invalid");
    expect(reason(verify({ ...req, query: "x=1" }))).toBe("signature_invalid");
    expect(reason(verify({ ...req, authority: "evil.example" }))).toBe("signature_invalid");
    expect(reason(verify({ ...req, headers: { ...req.headers, "content-type": "text/plain" } }))).toBe(
      "signature_invalid",
    );
    // The authority is compared in lower case (RFC 9421 section 2.2.3): not an attack.
    expect(reason(verify({ ...req, authority: "STORAGE.example" }))).toBe("accepted");
  });

  it("a covered header removed, a body swapped, a flipped signature bit, another key", () => {
    const { "content-type": _dropped, ...rest } = req.headers;
    expect(reason(verify({ ...req, headers: rest }))).toBe("signature_component_missing");
    expect(reason(() => checkContentDigest(r.headers["content-digest"], utf8(r.body + " ")))).toBe(
      "content_digest_mismatch",
    );
    expect(reason(() => checkContentDigest(undefined, utf8(r.body)))).toBe("content_digest_missing");
    expect(reason(() => checkContentDigest("sha-512=:AAAA:", utf8(r.body)))).toBe("content_digest_malformed");
    const sig = fromHex(Buffer.from(r.signature.split(":")[1], "base64").toString("hex"));
    sig[10] = sig[10]! ^ 1;
    const flipped = `sig1=:${Buffer.from(sig).toString("base64")}:`;
    expect(reason(verify(req, parseSignature(r.signature_input, flipped)))).toBe("signature_invalid");
    const other = Ed25519SigningKey.generate();
    expect(reason(() => verifyRequest(req, ok(), other.publicKey, BASE_COMPONENTS))).toBe("signature_invalid");
  });

  it("a signature that does not cover what the server requires", () => {
    const signed = signRequest(req, ["@method", "@path"], r.params, key);
    const parsed = parseSignature(signed.signatureInput, signed.signature);
    expect(reason(verify(req, parsed))).toBe("signature_component_missing");
  });

  it("malformed or non-canonical fields", () => {
    const input: string = r.signature_input;
    expect(reason(() => parseSignature(input.replace(";created", "; created"), r.signature))).toBe(
      "signature_malformed",
    );
    expect(reason(() => parseSignature(input + ", sig2=()", r.signature))).toBe("signature_malformed");
    expect(reason(() => parseSignature(input.replace('"@path"', '"@path";req'), r.signature))).toBe(
      "signature_malformed",
    );
    expect(reason(() => parseSignature(input.replace('alg="ed25519"', 'alg="rsa-pss-sha512"'), r.signature))).toBe(
      "signature_alg_unsupported",
    );
    expect(reason(() => parseSignature(input.replace('tag="camvault"', 'tag="other"'), r.signature))).toBe(
      "signature_params_invalid",
    );
    expect(reason(() => parseSignature(input.replace(/;nonce="[^"]*"/, ""), r.signature))).toBe(
      "signature_params_invalid",
    );
    expect(reason(() => parseSignature(input, r.signature.replace("sig1", "sig2")))).toBe("signature_malformed");
    expect(reason(() => parseSignature(input, r.signature.replace(/=:$/, "A:")))).toBe("signature_malformed");
    expect(reason(() => parseSignature(undefined, r.signature))).toBe("signature_missing");
    expect(
      reason(() => signatureBase({ ...req, headers: { ...req.headers, "content-type": "a\nb" } }, r.covered, "()")),
    ).toBe("signature_malformed");
    // Another parameter order parses (as in Python) but changes the signed base: no forgery.
    const reordered = input.replace(/;keyid=("[^"]*");nonce=("[^"]*")/, ";nonce=$2;keyid=$1");
    expect(reordered).not.toBe(input);
    expect(reason(verify(req, parseSignature(reordered, r.signature)))).toBe("signature_invalid");
  });

  it("freshness", () => {
    const p = r.params;
    const opts = { maxSkewS: 30, maxLifetimeS: 300 };
    expect(reason(() => checkTimes(p, { ...opts, now: p.created + 10 }))).toBe("accepted");
    expect(reason(() => checkTimes(p, { ...opts, now: p.expires + 31 }))).toBe("signature_expired");
    expect(reason(() => checkTimes(p, { ...opts, now: p.created - 31 }))).toBe("signature_clock_skew");
    expect(reason(() => checkTimes({ ...p, expires: p.created + 301 }, { ...opts, now: p.created }))).toBe(
      "signature_params_invalid",
    );
  });

  it("Content-Digest matches the Python digest", () => {
    expect(contentDigest(utf8(r.body))).toBe(r.headers["content-digest"]);
  });
});

describe("signedRequestHeaders (what a fetch from the web app sends)", () => {
  it("covers what common/http.py covers, verifies, and changes nonce per request", () => {
    const url = "https://storage.example/v1/consents?x=1";
    const h = signedRequestHeaders({
      method: "post",
      url,
      body: '{"a":1}',
      key,
      keyid: "customer:site-1",
      now: 1_700_000_000,
    });
    expect(h["content-type"]).toBe("application/json");
    expect(h["content-digest"]).toBe(contentDigest(utf8('{"a":1}')));
    const parsed = parseSignature(h["signature-input"], h.signature);
    expect(parsed.covered).toEqual(["@method", "@authority", "@path", "@query", "content-digest", "content-type"]);
    expect(parsed.params.expires - parsed.params.created).toBe(60);
    expect(parsed.params.nonce).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const req = { method: "POST", authority: "storage.example", path: "/v1/consents", query: "x=1", headers: h };
    verifyRequest(req, parsed, key.publicKey, BASE_COMPONENTS);
    expect(reason(() => verifyRequest({ ...req, query: "x=2" }, parsed, key.publicKey, BASE_COMPONENTS))).toBe(
      "signature_invalid",
    );
    const again = signedRequestHeaders({ method: "GET", url, key, keyid: "k" });
    expect(parseSignature(again["signature-input"], again.signature).covered).toEqual([...BASE_COMPONENTS]);
    expect(again["signature-input"]).not.toContain(parsed.params.nonce);
  });
});
