// The operator console's pure parts: state files refused with one clear message, the SSE
// framing of the alarm feed, a custodian's log receipt and the binding of its entry to the
// request (each field altered is caught), consent states, times as the CLI takes them.
import { describe, expect, it } from "vitest";
import { b64encodePadded, b64urlEncode } from "../src/crypto/base64";
import { utf8 } from "../src/crypto/bytes";
import { encodeBech32Key, CUSTODIAN_PUBLIC_HRP } from "../src/crypto/bech32";
import { Ed25519PublicKey } from "../src/crypto/ed25519";
import type { RecordingMetadata } from "../src/crypto/metadata";
import { entryLeafHash, rootFromLeafHashes } from "../src/crypto/tlog/merkle";
import { NoteSigner, signCheckpoint } from "../src/crypto/tlog/note";
import { eventLabels, isPreAlarm } from "../src/operator/flows";
import { OperatorKeyError, parseOperatorFiles } from "../src/operator/keys";
import { entryProblems, reasonOf, releasedRoot, verifyReceipt, type Binding } from "../src/operator/release";
import { parseSse } from "../src/operator/sse";
import { consentState, parseTime } from "../src/operator/technician";
import type { ConsentOut, ConsentRequestOut } from "../src/operator/storage";

function custodian(id: string) {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const signer = new NoteSigner(`camvault.io/custodian/${id}`, seed);
  return {
    signer,
    endpoint: {
      custodian_id: id,
      url: `http://127.0.0.1:9/${id}`,
      escrow_key: encodeBech32Key(CUSTODIAN_PUBLIC_HRP, crypto.getRandomValues(new Uint8Array(32))),
      log_key: new Ed25519PublicKey(signer.verifier.publicKey).toText(),
    },
  };
}

describe("parseOperatorFiles", () => {
  const key = "ed25519-secret:" + b64urlEncode(crypto.getRandomValues(new Uint8Array(32)));
  const c1 = custodian("c1").endpoint;
  const config = { operator_id: "op-7", role: "operator", storage_url: "http://127.0.0.1:8/", custodians: [c1] };

  it("reads operator.key and config.json picked together", () => {
    const k = parseOperatorFiles(`${key}\n${JSON.stringify(config, null, 2)}\n`);
    expect(k).toMatchObject({ key, operatorId: "op-7", role: "operator", storageUrl: "http://127.0.0.1:8" });
    expect(k.custodians).toEqual([c1]);
  });

  it("refuses what is missing or malformed, naming it", () => {
    const bad = (text: string, msg: RegExp): void => {
      expect(() => parseOperatorFiles(text)).toThrow(OperatorKeyError);
      expect(() => parseOperatorFiles(text)).toThrow(msg);
    };
    bad(JSON.stringify(config), /no operator key/);
    bad(key, /no config.json/);
    bad(`${key}\n${JSON.stringify({ ...config, role: "admin" })}`, /role/);
    bad(`${key}\n${JSON.stringify({ ...config, operator_id: "op 7" })}`, /operator_id/);
    bad(`${key}\n${JSON.stringify({ ...config, custodians: [] })}`, /no custodians/);
    bad(
      `${key}\n${JSON.stringify({ ...config, custodians: [{ ...c1, escrow_key: "camvault-custodian1qqqq" }] })}`,
      /custodian 1/,
    );
    bad(`${key}\n${JSON.stringify({ ...config, custodians: [{ ...c1, log_key: undefined }] })}`, /log_key missing/);
    bad("ed25519-secret:AAAA\n" + JSON.stringify(config), /operator.key/);
  });
});

async function collect(chunks: string[]): Promise<{ event: string; data: string; id: string }[]> {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(utf8(ch));
      c.close();
    },
  });
  const out = [];
  for await (const ev of parseSse(body)) out.push(ev);
  return out;
}

describe("parseSse", () => {
  it("frames events split anywhere, CRLF or LF, skipping comments and data-less events", async () => {
    const evs = await collect([
      "retry: 2000\n\n: keepalive\n\nid: 7\nevent: recor",
      'ding\r\ndata: {"a":',
      "1}\r\n\r\nevent: end\ndata: line1\ndata: line2\n\n",
      "event: dangling\ndata: not terminated",
    ]);
    expect(evs).toEqual([
      { event: "recording", data: '{"a":1}', id: "7" },
      { event: "end", data: "line1\nline2", id: "7" },
    ]);
  });
});

const meta = (id: string): RecordingMetadata => ({
  site_id: "site-1",
  camera_id: "cam-1",
  recording_id: id,
  kind: "segment",
  start_ms: 1000,
  end_ms: 3000,
});

describe("custodian log receipts", () => {
  it("verify: signed checkpoint and inclusion; a changed entry or another log key is refused", () => {
    const c = custodian("c1");
    const entries = ['{"index":0}', '{"index":1}', '{"index":2,"type":"release"}'];
    const size = BigInt(entries.length);
    // a tree of 3: the proof of leaf 2 is the hash of leaves 0..1
    const leaves = entries.map((e) => entryLeafHash(utf8(e)));
    const root = rootFromLeafHashes(leaves);
    const proof = [rootFromLeafHashes(leaves.slice(0, 2))];
    const checkpoint = new TextDecoder().decode(
      signCheckpoint({ origin: c.signer.verifier.name, size, rootHash: root, extensions: [] }, c.signer),
    );
    const log = { index: 2, entry: entries[2] as string, checkpoint, inclusion_proof: proof.map(b64encodePadded) };
    expect(verifyReceipt(c.endpoint, log)).toEqual({ index: 2, type: "release" });
    expect(() => verifyReceipt(c.endpoint, { ...log, entry: '{"index":2,"type":"refusal"}' })).toThrow();
    expect(() => verifyReceipt(c.endpoint, { ...log, index: 1 })).toThrow();
    expect(() => verifyReceipt(custodian("c1").endpoint, log)).toThrow();
    expect(() => verifyReceipt(custodian("c2").endpoint, log)).toThrow();
  });

  it("entries bound to the request: every field altered is named", () => {
    const c = custodian("c1").endpoint;
    const session = crypto.getRandomValues(new Uint8Array(32));
    const b: Binding = {
      releaseId: "r-1",
      siteId: "site-1",
      operatorId: "op-7",
      purpose: "alarm-verification",
      justificationSha256: "ab".repeat(32),
      sessionPublicKey: session,
      released: [meta("a"), meta("b")],
    };
    const good: Record<string, unknown> = {
      type: "release",
      custodian_id: "c1",
      release_id: "r-1",
      site_id: "site-1",
      operator_id: "op-7",
      operator_verified: true,
      purpose: "alarm-verification",
      session_key: b64urlEncode(session),
      justification: { sha256: "ab".repeat(32) },
      released: { count: 2, root: releasedRoot([meta("a"), meta("b")]) },
    };
    expect(entryProblems(c, good, b)).toEqual([]);
    const changes: [string, unknown, RegExp][] = [
      ["type", "refusal", /^type/],
      ["custodian_id", "c2", /^custodian_id/],
      ["release_id", "r-2", /^release_id/],
      ["site_id", "site-2", /^site_id/],
      ["operator_id", "op-8", /^operator_id/],
      ["operator_verified", false, /^operator_verified/],
      ["purpose", "maintenance", /^purpose/],
      ["session_key", b64urlEncode(new Uint8Array(32)), /^session_key/],
      ["justification", { sha256: "cd".repeat(32) }, /^justification/],
      ["released", { count: 1, root: releasedRoot([meta("a")]) }, /^released.count/],
      ["released", { count: 2, root: releasedRoot([meta("a"), meta("c")]) }, /^released.root/],
      ["released", null, /^released: missing/],
    ];
    for (const [k, v, re] of changes) {
      const problems = entryProblems(c, { ...good, [k]: v }, b);
      expect(problems.length, `${k} altered`).toBeGreaterThan(0);
      expect(
        problems.some((p) => re.test(p)),
        `${k}: ${problems.join("; ")}`,
      ).toBe(true);
    }
  });

  it("reason codes per custodian", () => {
    expect(reasonOf({ custodian: "c1", kind: "refused", status: 403, reason: "no_justification", message: "" })).toBe(
      "no_justification",
    );
    expect(reasonOf({ custodian: "c1", kind: "unavailable", message: "down" })).toBe("unavailable (down)");
    const refused = new Map([
      ["a", "outside_window_after"],
      ["b", "recording_deleted"],
    ]);
    expect(reasonOf({ custodian: "c1", kind: "released", releaseId: "r", sealed: new Map(), refused })).toBe(
      "outside_window_after, recording_deleted",
    );
    expect(
      reasonOf({
        custodian: "c1",
        kind: "released",
        releaseId: "r",
        sealed: new Map([["a", new Uint8Array(1)]]),
        refused,
      }),
    ).toBe("released");
  });
});

describe("alarm and consent helpers", () => {
  it("pre-alarm recordings are left to the pre-alarm release; live ones never are", () => {
    expect(isPreAlarm({ kind: "segment", end_ms: 999 }, 1000)).toBe(true);
    expect(isPreAlarm({ kind: "segment", end_ms: 1000 }, 1000)).toBe(true);
    expect(isPreAlarm({ kind: "segment", end_ms: 1001 }, 1000)).toBe(false);
    expect(isPreAlarm({ kind: "live", end_ms: 900 }, 1000)).toBe(false);
  });

  it("detection labels of decrypted event records only", () => {
    const rec = utf8(JSON.stringify({ labels: [{ label: "person", confidence: 0.87 }, { label: "car" }, "junk"] }));
    expect(eventLabels("event", rec)).toEqual(["person 0.87", "car"]);
    expect(eventLabels("segment", rec)).toEqual([]);
    expect(eventLabels("event", null)).toEqual([]);
    expect(eventLabels("event", utf8("not json"))).toEqual([]);
  });

  it("times as the CLI takes them: ms or ISO 8601 (UTC by default)", () => {
    expect(parseTime("1796582395205")).toBe(1796582395205);
    expect(parseTime("2026-01-31T08:00:00")).toBe(Date.UTC(2026, 0, 31, 8));
    expect(parseTime("2026-01-31T08:00:00+01:00")).toBe(Date.UTC(2026, 0, 31, 7));
    expect(parseTime("yesterday")).toBeNull();
    expect(parseTime("")).toBeNull();
  });

  it("consent states: pending, refused, approved, revoked, expired", () => {
    const r = { state: "approved", consent_id: "k" } as ConsentRequestOut;
    const c = { consent_id: "k", revoked: false, not_after_ms: 2000 } as ConsentOut;
    expect(consentState({ ...r, state: "pending" }, undefined, 1000)).toBe("pending");
    expect(consentState({ ...r, state: "refused" }, undefined, 1000)).toBe("refused");
    expect(consentState(r, c, 1000)).toBe("approved");
    expect(consentState(r, { ...c, revoked: true }, 1000)).toBe("revoked");
    expect(consentState(r, c, 2000)).toBe("expired");
  });
});
