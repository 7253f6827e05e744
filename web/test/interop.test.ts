// Live cross-checks with the Python implementation (web/scripts/python_interop.py, run with
// the repository's venv): a camvault recording with escrow stanzas made by crypto/ with fresh
// random keys is decrypted here three ways (customer identity, a header re-wrapped for a new
// device, released escrow shares), and requests and a statement signed here are verified by
// the Python code the services run. Set CAMVAULT_WEB_NO_PYTHON=1 to skip (then say so).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decryptRecording } from "../src/crypto/age";
import { parseHeader, splitFile } from "../src/crypto/ageheader";
import { fromHex, toHex, utf8 } from "../src/crypto/bytes";
import { canonicalJson } from "../src/crypto/canonical";
import { Ed25519SigningKey } from "../src/crypto/ed25519";
import { combineFileKey, openReleasedShare, parseEscrowStanza, SessionKey } from "../src/crypto/escrow/index";
import { contentDigest, signRequest } from "../src/crypto/httpsig";
import { signedRequestHeaders } from "../src/crypto/signedrequest";
import { parseSigned, signStatement, verifyStatement } from "../src/crypto/statements/index";
import { flip, REPO_ROOT } from "./vectors";

const PYTHON = join(REPO_ROOT, ".venv", "bin", "python");
const SCRIPT = join(REPO_ROOT, "web", "scripts", "python_interop.py");
const skip = process.env.CAMVAULT_WEB_NO_PYTHON === "1";
if (!skip && !existsSync(PYTHON))
  throw new Error(`${PYTHON} not found: run make install first, or set CAMVAULT_WEB_NO_PYTHON=1`);

function python(mode: string, input?: unknown): any {
  const out = execFileSync(PYTHON, [SCRIPT, mode], {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONPATH: REPO_ROOT },
    input: input === undefined ? undefined : JSON.stringify(input),
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out);
}

describe.skipIf(skip)("interop with crypto/ (Python)", () => {
  const P = skip ? null : python("make");

  it("the committed httpsig fixture is what crypto/httpsig.py signs today", () => {
    const committed = JSON.parse(readFileSync(new URL("./fixtures/httpsig.json", import.meta.url), "utf8"));
    expect(python("fixture")).toEqual(committed);
  });

  it("a camvault recording: the customer identity decrypts it", async () => {
    const r = P.recording;
    const file = fromHex(r.file_hex);
    expect(splitFile(file).header.length).toBe(r.header_len);
    expect(toHex(await decryptRecording(file, { identities: [r.identity] }))).toBe(r.plaintext_hex);
    await expect(decryptRecording(file, { identities: [r.new_device_identity] })).rejects.toThrow();
  });

  it("a header re-wrapped for a new device decrypts the unchanged payload", async () => {
    const r = P.recording;
    const rewrapped = fromHex(r.rewrapped_hex);
    expect(toHex(splitFile(rewrapped).payload)).toBe(toHex(splitFile(fromHex(r.file_hex)).payload));
    expect(toHex(await decryptRecording(rewrapped, { identities: [r.new_device_identity] }))).toBe(r.plaintext_hex);
  });

  it("released escrow shares: any 2 of 3 rebuild the file key, which decrypts the recording", async () => {
    const r = P.recording;
    const file = fromHex(r.file_hex);
    const header = splitFile(file).header;
    const escrow = parseHeader(file)
      .stanzas.filter((s) => s.type === "camvault-escrow")
      .map(parseEscrowStanza);
    expect(escrow.map((e) => [e.index, e.threshold, e.count])).toEqual([
      [1, 2, 3],
      [2, 2, 3],
      [3, 2, 3],
    ]);
    const session = new SessionKey(fromHex(r.session_secret_hex));
    const shares = r.released.map((x: any) => openReleasedShare(fromHex(x.sealed), session, r.metadata, x.release_id));
    for (const pair of [
      [0, 1],
      [0, 2],
      [1, 2],
    ]) {
      const fileKey = combineFileKey(
        pair.map((i) => shares[i]),
        header,
      );
      expect(toHex(await decryptRecording(file, { fileKey }))).toBe(r.plaintext_hex);
    }
    expect(() => combineFileKey([shares[0]], header)).toThrow(/too few shares/);
    expect(() =>
      openReleasedShare(fromHex(r.released[0].sealed), session, r.metadata, r.released[1].release_id),
    ).toThrow(/does not open/);
    expect(() =>
      openReleasedShare(flip(fromHex(r.released[0].sealed), 50), session, r.metadata, r.released[0].release_id),
    ).toThrow(/does not open/);
  });

  it("canonical JSON: 400 random values encode to the same bytes as crypto/canonical.py", () => {
    // A small deterministic PRNG (xorshift32): the same values on every run.
    let state = 0x9e3779b9;
    const next = (n: number): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    // Characters that exercise escaping and UTF-16 ordering: controls, quotes, DEL, U+2028,
    // BMP characters above the surrogates (U+FFFD, U+FF5E) and astral ones (sorted by their
    // high surrogate, below U+E000).
    const alphabet = [
      "a",
      "Z",
      "0",
      " ",
      '"',
      "\\",
      "/",
      "\n",
      "\t",
      "\u0000",
      "\u001f",
      "\u007f",
      "\u00e9",
      "\u2028",
      "\ufffd",
      "\uff5e",
      "\u{1f600}",
      "\u{10ffff}",
      "\u20ac",
    ];
    const str = (): string => Array.from({ length: next(6) }, () => alphabet[next(alphabet.length)]).join("");
    const value = (depth: number): unknown => {
      switch (depth > 3 ? next(4) : next(7)) {
        case 0:
          return str();
        case 1:
          return [0, -1, 1, 2 ** 53 - 1, -(2 ** 53 - 1), 1_700_000_000_000, 42][next(7)];
        case 2:
          return [true, false, null][next(3)];
        case 3:
          return next(1000) - 500;
        case 4:
        case 5:
          return Object.fromEntries(Array.from({ length: next(5) }, () => [str(), value(depth + 1)]));
        default:
          return Array.from({ length: next(4) }, () => value(depth + 1));
      }
    };
    const values = Array.from({ length: 400 }, () => value(0));
    const expected: string[] = python("canonical", values);
    values.forEach((v, i) => expect(toHex(canonicalJson(v)), JSON.stringify(v)).toBe(expected[i]));
  });

  it("a statement signed by Python verifies here", () => {
    const signed = parseSigned(utf8(P.statement));
    expect(signed.signer.toText()).toBe(P.public_key);
    expect(verifyStatement(signed, signed.signer, "camvault/v1/consent").consent_id).toBe("c-1");
  });

  it("requests and a statement signed here verify with crypto/ (and tampered ones do not)", () => {
    const key = Ed25519SigningKey.generate();
    const body = '{"revoke":"c-1"}';
    const base = { method: "POST", authority: "storage.example:8443", path: "/v1/revocations", query: "" };
    const headers = { "content-type": "application/json", "content-digest": contentDigest(utf8(body)) };
    const params = {
      created: 1_700_000_000,
      expires: 1_700_000_060,
      keyid: "customer:site-1",
      nonce: "bRoWsEr-NoNcE-0123",
    };
    const covered = ["@method", "@authority", "@path", "@query", "content-digest", "content-type"];
    const good = { ...base, headers, body, ...toFields(signRequest({ ...base, headers }, covered, params, key)) };
    const get = { ...base, method: "GET", path: "/v1/sites/site-1", query: "a=1", headers: {} };
    const goodGet = { ...get, ...toFields(signRequest(get, covered.slice(0, 4), params, key)) };
    const tampered = { ...good, path: "/v1/consents" };
    // What the web app's fetch wrapper will send (the URL's host, path and query).
    const url = "https://Storage.Example:8443/v1/sites/site-1/recordings?camera=cam-1&from=1700000000000&q=a%20b";
    const fromUrl = (method: string, body?: string) => {
      const h = signedRequestHeaders({
        method,
        url,
        key,
        keyid: "customer:site-1",
        ...(body === undefined ? {} : { body }),
      });
      const { "signature-input": signature_input, signature, ...headers } = h;
      const u = new URL(url);
      return {
        method,
        authority: u.host,
        path: u.pathname,
        query: u.search.slice(1),
        headers,
        signature_input,
        signature,
        ...(body === undefined ? {} : { body }),
      };
    };
    const otherBody = { ...good, body: '{"revoke":"c-2"}' };
    const consent = {
      consent_id: "c-2",
      site_id: "site-1",
      grantee_id: "tech-1",
      grantee_key: null,
      cameras: ["cam-1"],
      scope: ["recordings"],
      recordings_from_ms: 1,
      recordings_to_ms: 2,
      not_before_ms: 1_700_000_000_000,
      not_after_ms: 1_700_000_600_000,
      purpose: "maintenance",
      issued_at_ms: 1_700_000_000_000,
    };
    const text = (b: Uint8Array): string => new TextDecoder().decode(b);
    const statement = text(signStatement("camvault/v1/consent", consent, key).encoded);
    const longer = statement.replace('"cameras":["cam-1"]', '"cameras":["cam-1","cam-2"]');
    const revocation = text(
      signStatement("camvault/v1/revocation", { site_id: "site-1", consent_id: "c-2", issued_at_ms: 1 }, key).encoded,
    );
    const res = python("verify", {
      public_key: key.publicKey.toText(),
      requests: [good, goodGet, tampered, otherBody, fromUrl("GET"), fromUrl("PUT", '{"a":1}')],
      statements: [statement, longer, revocation],
    });
    expect(res.requests).toEqual(["ok", "ok", "signature_invalid", "content_digest_mismatch", "ok", "ok"]);
    // A consent widened after signing fails its signature; a revocation is not a consent.
    expect(res.statements).toEqual(["ok", "SignatureError", "StatementError"]);
  });
});

function toFields(s: { signatureInput: string; signature: string }): { signature_input: string; signature: string } {
  return { signature_input: s.signatureInput, signature: s.signature };
}
