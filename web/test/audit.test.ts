// The Audit page's core (src/portal/audit/): the audit of each custodian's log as
// clients/audit/*.py does it, against custodians simulated at the HTTP level (global fetch
// stubbed): their logs are real RFC 9162 trees with real proofs and checkpoints signed as
// C2SP notes, so every check runs on the same bytes a custodian serves. Each attack is made
// and the finding's reason code checked.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { b64encodePadded, b64urlEncode } from "../src/crypto/base64";
import { toHex, utf8 } from "../src/crypto/bytes";
import { associatedData, type RecordingMetadata } from "../src/crypto/metadata";
import { EMPTY_ROOT_HEX, entryLeafHash, leafHash, rootFromLeafHashes } from "../src/crypto/tlog/merkle";
import { NoteSigner, signCheckpoint } from "../src/crypto/tlog/note";
import type { CustodianEndpoint } from "../src/portal/keyfile";
import {
  appendLeaf,
  borderRoot,
  crossCheckCheckpoint,
  custodianOrigin,
  custodianVerifier,
  stateFromJson,
  stateToJson,
} from "../src/portal/audit/log";
import { HttpLogReader } from "../src/portal/audit/http";
import { Expected, parseNotice, parseNotices, releasesNothing, withheld } from "../src/portal/audit/notices";
import { alarmWindow, auditSite, type CustodianAudit } from "../src/portal/audit/site";
import { MemoryAuditStore } from "../src/portal/audit/store";

const SITE = "home-abcd1234";
const OTHER_SITE = "other-ffff0000";
const SEED = new Uint8Array(32).fill(7);
const SITE_KEY = `ed25519-secret:${b64urlEncode(SEED)}`;
const SIGNED_SHA = "aa".repeat(32);

// --- RFC 9162 proofs (sections 2.1.3.1 and 2.1.4.1), to serve them as a custodian does ---
const mth = (d: Uint8Array[]): Uint8Array => rootFromLeafHashes(d);
const split = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
function path(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = split(d.length);
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
const consistencyProof = (m: number, d: Uint8Array[]): Uint8Array[] =>
  m === 0 || m === d.length ? [] : subproof(m, d, true);

const meta = (camera: string, rec: string, start: number): RecordingMetadata => ({
  site_id: SITE,
  camera_id: camera,
  recording_id: rec,
  kind: "segment",
  start_ms: start,
  end_ms: start + 2000,
});
const releasedRoot = (ms: RecordingMetadata[]): string =>
  toHex(rootFromLeafHashes(ms.map((m) => leafHash(associatedData(m)))));

/** A custodian: its log (exact entry texts), its notices, a signer; served over "HTTP". */
class FakeCustodian {
  readonly signer: NoteSigner;
  readonly entries: string[] = [];
  readonly notices: { notice: string; delivered: boolean }[] = [];
  /** What the checkpoint covers (default: the whole log). */
  checkpointSize: number | null = null;
  /** Entries served instead of the logged ones (index -> text). */
  serveInstead = new Map<number, string>();
  down = false;
  requests: { url: string; headers: Headers }[] = [];

  constructor(
    readonly id: string,
    readonly url: string,
  ) {
    this.signer = new NoteSigner(custodianOrigin(id), new Uint8Array(32).fill(id.charCodeAt(1)));
  }

  get endpoint(): CustodianEndpoint {
    return {
      custodian_id: this.id,
      url: this.url,
      escrow_key: "unused",
      log_key: `ed25519:${b64urlEncode(this.signer.verifier.publicKey)}`,
    };
  }

  append(entry: Record<string, unknown>): number {
    const index = this.entries.length;
    this.entries.push(JSON.stringify({ v: 1, custodian_id: this.id, time_ms: 1_700_000_000_000 + index, ...entry }));
    return index;
  }

  leaves(size: number): Uint8Array[] {
    return this.entries.slice(0, size).map((t) => entryLeafHash(utf8(t)));
  }

  checkpointNote(size = this.checkpointSize ?? this.entries.length, signer = this.signer): Uint8Array {
    return signCheckpoint(
      { origin: custodianOrigin(this.id), size: BigInt(size), rootHash: mth(this.leaves(size)), extensions: [] },
      signer,
    );
  }

  /** A release of `recs` by `operator`, logged with its notice (delivered to the inbox). */
  release(recs: RecordingMetadata[], operator = "op-7", site: string | null = SITE): { index: number; notice: string } {
    const released = {
      count: recs.length,
      root: releasedRoot(recs),
      cameras: [...new Set(recs.map((m) => m.camera_id))].sort(),
      from_ms: Math.min(...recs.map((m) => m.start_ms)),
      to_ms: Math.max(...recs.map((m) => m.end_ms)),
    };
    const justification = {
      sha256: "bb".repeat(32),
      type: "alarm-event",
      panel_id: "panel-1",
      event_id: "evt-1",
      counter: 1,
      alarm_type: "intrusion",
      triggered_at_ms: 1_700_000_000_000,
    };
    const release_id = `rel-${this.entries.length}`;
    const index = this.append({
      type: "release",
      release_id,
      site_id: site,
      operator_id: operator,
      operator_verified: true,
      purpose: "alarm",
      justification,
      released,
      refused: { count: 0, reasons: {} },
    });
    const notice = JSON.stringify({
      type: "camvault/v1/access-notice",
      custodian_id: this.id,
      origin: custodianOrigin(this.id),
      site_id: site,
      log_index: index,
      release_id,
      operator_id: operator,
      purpose: "alarm",
      justification,
      cameras: released.cameras,
      from_ms: released.from_ms,
      to_ms: released.to_ms,
      released_root: released.root,
      recordings: recs,
    });
    return { index, notice };
  }

  handle(url: URL, headers: Headers): Response {
    this.requests.push({ url: url.toString(), headers });
    if (this.down) throw new TypeError("Failed to fetch");
    const size = this.checkpointSize ?? this.entries.length;
    const q = (k: string): number => Number(url.searchParams.get(k));
    const json = (v: unknown): Response => new Response(JSON.stringify(v), { status: 200 });
    const b64 = (hs: Uint8Array[]): string[] => hs.map(b64encodePadded);
    switch (url.pathname) {
      case "/v1/log/checkpoint":
        return new Response(this.checkpointNote() as Uint8Array<ArrayBuffer>, { status: 200 });
      case "/v1/log/consistency":
        if (q("new") > this.entries.length)
          return new Response(JSON.stringify({ error: { code: "invalid_range", message: "beyond" } }), { status: 400 });
        return json({ old: q("old"), new: q("new"), proof: b64(consistencyProof(q("old"), this.leaves(q("new")))) });
      case "/v1/log/inclusion":
        return json({ proof: b64(path(q("index"), this.leaves(q("tree_size")))) });
      case "/v1/log/entries": {
        const out = [];
        for (let i = q("start"); i < Math.min(q("end"), this.entries.length); i++)
          out.push({ index: i, entry: this.serveInstead.get(i) ?? this.entries[i] });
        return json({ entries: out });
      }
      case `/v1/sites/${SITE}/notices`:
        if (!headers.get("signature")?.length || !headers.get("signature-input")?.includes(`customer:${SITE}`))
          return new Response(JSON.stringify({ error: { code: "unauthenticated", message: "no" } }), { status: 401 });
        return json({ notices: this.notices.map((n, i) => ({ id: i + 1, ...n })) });
      default:
        return new Response("{}", { status: 404 });
    }
  }
}

let custodians: FakeCustodian[];
let store: MemoryAuditStore;
let inbox: string[];

beforeEach(() => {
  custodians = ["c1", "c2", "c3"].map((id, i) => new FakeCustodian(id, `http://127.0.0.1:${9001 + i}`));
  for (const c of custodians) {
    c.append({ type: "site-keys", site_id: SITE, statement_sha256: SIGNED_SHA });
    c.append({ type: "site-keys", site_id: OTHER_SITE, statement_sha256: "cc".repeat(32) });
  }
  store = new MemoryAuditStore();
  inbox = [];
  vi.stubGlobal("fetch", async (input: URL | string, init?: RequestInit) => {
    const url = new URL(input.toString());
    const c = custodians.find((x) => new URL(x.url).origin === url.origin);
    if (c === undefined) throw new TypeError("Failed to fetch");
    expect(init?.credentials).toBe("omit");
    return c.handle(url, new Headers(init?.headers));
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const DEVICES = { "cam-1": { kind: "camera", camera_profile: { pre_alarm_s: 6, post_alarm_s: 30 } } };
const audit = (): Promise<CustodianAudit[]> =>
  auditSite({
    siteId: SITE,
    siteKey: SITE_KEY,
    custodians: custodians.map((c) => c.endpoint),
    statementHashes: [SIGNED_SHA],
    devices: DEVICES,
    relayed: async () => [...inbox],
    store,
  });
const kinds = (r: CustodianAudit): string[] => r.findings.map((f) => f.kind);

/** A release at every custodian, each notice delivered and relayed. */
function releaseEverywhere(recs: RecordingMetadata[]): void {
  for (const c of custodians) {
    const { notice } = c.release(recs);
    c.notices.push({ notice, delivered: true });
    inbox.push(notice);
  }
}

describe("the site audit against three custodians", () => {
  it("before any access: all ok, no accesses, trust on first use, then from the saved size", async () => {
    const first = await audit();
    expect(first.map((r) => [r.custodian.custodian_id, r.ok, kinds(r)])).toEqual([
      ["c1", true, []],
      ["c2", true, []],
      ["c3", true, []],
    ]);
    for (const r of first) {
      expect(r.accesses).toEqual([]);
      expect(r.report?.firstUse).toBe(true);
      expect(r.report?.checkpoint?.size).toBe(2n);
    }
    custodians[0]!.append({ type: "site-keys", site_id: SITE, statement_sha256: SIGNED_SHA });
    const second = await audit();
    expect(second.every((r) => r.ok)).toBe(true);
    expect(second[0]!.report?.firstUse).toBe(false);
    expect(second[0]!.report?.fromSize).toBe(2);
    expect(second[0]!.report?.checkpoint?.size).toBe(3n);
  });

  it("a release with its notice is listed (who, what, why), proved included, and kept", async () => {
    await audit();
    const recs = [meta("cam-1", "r1", 1_700_000_000_000), meta("cam-1", "r2", 1_700_000_002_000)];
    releaseEverywhere(recs);
    const rs = await audit();
    for (const r of rs) {
      expect(kinds(r)).toEqual([]);
      expect(r.accesses).toHaveLength(1);
      const a = r.accesses[0]!;
      expect(a).toMatchObject({
        kind: "release",
        operatorId: "op-7",
        purpose: "alarm",
        justification: "alarm evt-1 (intrusion) of panel-1",
        cameras: ["cam-1"],
        recordings: ["cam-1/r1", "cam-1/r2"],
        released: 2,
        included: true,
        logIndex: 2,
      });
      expect(a.window).toEqual({ text: "cam-1 window 22:13:14–22:13:50 UTC", inside: true });
      expect(a.detail).toMatch(/triggered 2023-11-14 22:13:20 UTC; recordings from .* to /);
      expect(r.notices).toBe(1); // the same text by both channels counts once
    }
    // the next audit reads only the new entries, and still lists (and proves) the access
    const again = await audit();
    expect(again.every((r) => r.ok && r.accesses.length === 1 && r.accesses[0]!.included === true)).toBe(true);
    expect(again[0]!.report?.fromSize).toBe(3);
  });

  it("KEY-03: an entry rewritten after it was verified is log_inconsistent; the others stay ok", async () => {
    releaseEverywhere([meta("cam-1", "r1", 1_700_000_000_000)]);
    expect((await audit()).every((r) => r.ok)).toBe(true);
    const c2 = custodians[1]!;
    const entry = JSON.parse(c2.entries[2]!) as Record<string, unknown>;
    entry["operator_id"] = "nobody";
    c2.entries[2] = JSON.stringify(entry);
    const rs = await audit();
    expect(rs.map(kinds)).toEqual([[], ["log_inconsistent"], []]);
    expect(rs[1]!.findings[0]!.index).toBe(3);
    // the access remembered from before is still shown, its inclusion not checkable
    expect(rs[1]!.accesses.map((a) => [a.operatorId, a.included])).toEqual([["op-7", null]]);
    // and the state did not advance: the finding stays
    expect((await audit()).map(kinds)).toEqual([[], ["log_inconsistent"], []]);
  });

  it("KEY-04: a log that shrank is log_truncated", async () => {
    releaseEverywhere([meta("cam-1", "r1", 1_700_000_000_000)]);
    await audit();
    custodians[2]!.entries.pop();
    expect((await audit()).map(kinds)).toEqual([[], [], ["log_truncated"]]);
  });

  it("a checkpoint not signed by the custodian's log key is bad_checkpoint", async () => {
    const c1 = custodians[0]!;
    const forger = new NoteSigner(custodianOrigin("c1"), new Uint8Array(32).fill(99));
    c1.checkpointNote = (size = c1.entries.length) =>
      signCheckpoint(
        { origin: custodianOrigin("c1"), size: BigInt(size), rootHash: mth(c1.leaves(size)), extensions: [] },
        forger,
      );
    const rs = await audit();
    expect(rs.map(kinds)).toEqual([["bad_checkpoint"], [], []]);
    expect(rs[0]!.findings[0]!.detail).toMatch(/no valid signature by a known key/);
  });

  it("entries served that do not hash to the checkpoint are entries_mismatch, and nothing is saved", async () => {
    releaseEverywhere([meta("cam-1", "r1", 1_700_000_000_000)]);
    const c3 = custodians[2]!;
    c3.serveInstead.set(2, c3.entries[2]!.replace('"op-7"', '"op-8"'));
    const rs = await audit();
    expect(kinds(rs[2]!)).toContain("entries_mismatch");
    expect(rs[2]!.ok).toBe(false);
    expect((await store.get(SITE, "c3")).state).toBeNull();
  });

  it("a release without a notice is unexpected_release; an unsigned change is unexpected_change", async () => {
    custodians[0]!.release([meta("cam-1", "r1", 1_700_000_000_000)]); // no notice anywhere
    custodians[1]!.append({ type: "device-enrollment", site_id: SITE, statement_sha256: "dd".repeat(32) });
    const rs = await audit();
    expect(rs.map(kinds)).toEqual([["unexpected_release"], ["unexpected_change"], []]);
    expect(rs[0]!.findings[0]!.detail).toBe("a release the customer holds no access notice for");
  });

  it("a release naming no site is unattributed_release; a refusal releasing nothing is fine", async () => {
    custodians[0]!.release([meta("cam-1", "r1", 1_700_000_000_000)], "op-7", null);
    custodians[1]!.append({
      type: "refusal",
      site_id: SITE,
      operator_id: "op-7",
      reason: "no_justification",
      released: { count: 0, root: EMPTY_ROOT_HEX, cameras: [] },
    });
    const rs = await audit();
    expect(rs.map(kinds)).toEqual([["unattributed_release"], [], []]);
    expect(rs[1]!.accesses.map((a) => [a.kind, a.reason])).toEqual([["refusal", "no_justification"]]);
  });

  it("notices: withheld by the storage service, disagreeing, malformed, pointing beyond the log", async () => {
    const recs = [meta("cam-1", "r1", 1_700_000_000_000)];
    const [c1, c2, c3] = custodians as [FakeCustodian, FakeCustodian, FakeCustodian];
    // c1: delivered to the storage service, not in its inbox
    c1.notices.push({ notice: c1.release(recs).notice, delivered: true });
    // c2: the inbox relays a notice that names another operator than the custodian's own
    const n2 = c2.release(recs).notice;
    c2.notices.push({ notice: n2, delivered: true });
    inbox.push(n2.replace('"op-7"', '"op-9"'));
    // c3: a malformed notice and one pointing beyond its log
    const n3 = c3.release(recs).notice;
    c3.notices.push({ notice: n3, delivered: true });
    inbox.push(n3, JSON.stringify({ custodian_id: "c3", log_index: "x" }));
    inbox.push(n3.replace('"log_index":2', '"log_index":50').replace('"release_id":"rel-2"', '"release_id":"rel-50"'));
    const rs = await audit();
    expect(kinds(rs[0]!)).toEqual(["notice_withheld"]);
    expect(kinds(rs[1]!)).toEqual(["notice_mismatch"]);
    expect(rs[1]!.findings[0]!.detail).toBe("two different notices claim the same log entry");
    expect(kinds(rs[2]!).sort()).toEqual(["notice_malformed", "notice_not_in_log"]);
  });

  it("a custodian that cannot be reached is its own finding; the others are audited", async () => {
    releaseEverywhere([meta("cam-1", "r1", 1_700_000_000_000)]);
    await audit();
    custodians[1]!.down = true;
    const rs = await audit();
    expect(rs.map((r) => r.ok)).toEqual([true, false, true]);
    expect(kinds(rs[1]!)).toEqual(["unreachable"]);
    expect(rs[1]!.error).toBe("unreachable at http://127.0.0.1:9002 (Failed to fetch): its log was not checked");
    // what it logged before is still listed, not proved this time
    expect(rs[1]!.accesses.map((a) => [a.logIndex, a.operatorId, a.included])).toEqual([[2, "op-7", null]]);
  });

  it("a custodian refusing the customer's notices request is named with its reason code", async () => {
    const c3 = custodians[2]!;
    const handle = c3.handle.bind(c3);
    c3.handle = (url, headers) => handle(url, url.pathname.endsWith("/notices") ? new Headers() : headers);
    const rs = await audit();
    expect(rs.map(kinds)).toEqual([[], [], ["unreachable"]]);
    expect(rs[2]!.error).toBe("custodian c3 refused: unauthenticated (no): its log was not checked");
  });

  it("the notices request is signed as customer:<site>; the log requests carry no signature", async () => {
    await audit();
    const reqs = custodians[0]!.requests;
    const notices = reqs.filter((r) => r.url.includes("/notices"));
    expect(notices).toHaveLength(1);
    expect(notices[0]!.headers.get("signature-input")).toContain(`keyid="customer:${SITE}"`);
    for (const r of reqs.filter((x) => x.url.includes("/v1/log/"))) expect(r.headers.get("signature")).toBeNull();
    for (const r of reqs)
      expect(
        r.url + JSON.stringify(Object.fromEntries(r.headers as unknown as Iterable<[string, string]>)),
      ).not.toContain(b64urlEncode(SEED));
  });
});

describe("the pieces", () => {
  it("the alarm window: each recording listed must meet the camera's enrolled window", () => {
    const t = 1_700_000_000_000;
    const entry = { justification: { event_id: "e", triggered_at_ms: t } };
    const at = (start: number) => [meta("cam-1", "r", start)];
    expect(alarmWindow(entry, at(t - 8000), DEVICES)?.inside).toBe(true); // ends at t - 6 s
    expect(alarmWindow(entry, at(t - 8001), DEVICES)?.inside).toBe(false);
    expect(alarmWindow(entry, at(t + 30_000), DEVICES)?.inside).toBe(true);
    expect(alarmWindow(entry, at(t + 30_001), DEVICES)?.inside).toBe(false);
    expect(alarmWindow(entry, [{ ...meta("cam-1", "r", t + 99_000), kind: "live" }], DEVICES)?.inside).toBe(true);
    expect(alarmWindow(entry, at(t), {})).toEqual({
      text: "alarm at 22:13:20 UTC; window unknown (no enrolled profile)",
      inside: null,
    });
    expect(alarmWindow({ justification: { consent_id: "c" } }, at(t), DEVICES)).toBeNull();
  });

  it("the compact range reproduces every root and survives its JSON form", () => {
    const leaves = Array.from({ length: 37 }, (_, i) => entryLeafHash(utf8(`{"i":${i}}`)));
    const border: [Uint8Array, number][] = [];
    leaves.forEach((l, i) => {
      appendLeaf(border, l);
      expect(toHex(borderRoot(border))).toBe(toHex(mth(leaves.slice(0, i + 1))));
    });
    const s = { origin: "o", size: 37, root: borderRoot(border), border };
    expect(stateFromJson(JSON.parse(JSON.stringify(stateToJson(s))))).toEqual(s);
  });

  it("split_view: another signed root for the same size, or off the history; consistent is fine", async () => {
    const c = custodians[0]!;
    c.append({ type: "site-keys", site_id: SITE, statement_sha256: SIGNED_SHA });
    const reader = new HttpLogReader(c.url, "c1");
    const v = custodianVerifier("c1", c.endpoint.log_key);
    const cp = { origin: custodianOrigin("c1"), size: 3n, rootHash: mth(c.leaves(3)), extensions: [] };
    expect(await crossCheckCheckpoint(reader, v, c.checkpointNote(2), cp)).toEqual([]);
    expect(await crossCheckCheckpoint(reader, v, c.checkpointNote(3), cp)).toEqual([]);
    const fork = signCheckpoint({ ...cp, rootHash: mth(c.leaves(2)).map((b) => b ^ 1) }, c.signer);
    expect((await crossCheckCheckpoint(reader, v, fork, cp)).map((f) => f.kind)).toEqual(["split_view"]);
    const forkSmall = signCheckpoint({ ...cp, size: 2n, rootHash: mth(c.leaves(3)) }, c.signer);
    expect((await crossCheckCheckpoint(reader, v, forkSmall, cp)).map((f) => f.kind)).toEqual(["split_view"]);
    const stranger = signCheckpoint(cp, new NoteSigner(custodianOrigin("c1"), new Uint8Array(32).fill(5)));
    expect((await crossCheckCheckpoint(reader, v, stranger, cp)).map((f) => f.kind)).toEqual(["bad_checkpoint"]);
  });

  it("notice parsing refuses what the Python parser refuses, with one line", () => {
    expect(() => parseNotice("[")).toThrow(/not JSON/);
    expect(() => parseNotice("[]")).toThrow("not a JSON object");
    expect(() => parseNotice('{"log_index":-1}')).toThrow(/log_index/);
    expect(() => parseNotice('{"log_index":1.5}')).toThrow(/log_index/);
    expect(() => parseNotice('{"log_index":1,"site_id":3}')).toThrow("site_id must be a string");
    const base = { log_index: 1, site_id: SITE, release_id: "r", recordings: [] as unknown[] };
    expect(() => parseNotice(JSON.stringify({ ...base, operator_id: 5 }))).toThrow(/operator_id/);
    expect(() => parseNotice(JSON.stringify({ ...base, recordings: {} }))).toThrow(/recordings must be a list/);
    const extra = { ...meta("cam-1", "r1", 0), extra: 1 };
    expect(() => parseNotice(JSON.stringify({ ...base, recordings: [extra] }))).toThrow(/unknown fields/);
    const bad = { ...meta("cam-1", "r1", 5), end_ms: 1 };
    expect(() => parseNotice(JSON.stringify({ ...base, recordings: [bad] }))).toThrow(/end_ms/);
    expect(parseNotice(JSON.stringify(base)).recordingsRoot).toBe(EMPTY_ROOT_HEX);
  });

  it("one notice per log index; another site's notice is a mismatch", () => {
    const n = JSON.stringify({ log_index: 4, site_id: SITE, release_id: "r", recordings: [] });
    const [ok, f] = parseNotices([n, n, n.replace('"r"', '"s"'), n.replace(SITE, OTHER_SITE)], SITE);
    expect([...ok.keys()]).toEqual([4]);
    expect(f.map((x) => [x.kind, x.detail])).toEqual([
      ["notice_mismatch", "two different notices claim the same log entry"],
      ["notice_mismatch", "the notice is for another site"],
    ]);
  });

  it("what is expected: refusals releasing nothing, alarm closes, signed statements", () => {
    const e = new Expected(new Map(), new Set([SIGNED_SHA]));
    const nothing = { count: 0, root: EMPTY_ROOT_HEX, cameras: [] };
    expect(releasesNothing({ released: nothing })).toBe(true);
    expect(releasesNothing({ released: { ...nothing, cameras: ["cam-1"] } })).toBe(false);
    expect(e.problem(0, { type: "refusal", released: nothing })).toBeNull();
    expect(e.problem(0, { type: "refusal", released: { ...nothing, count: 1 } })).toMatch(/records released/);
    expect(e.problem(0, { type: "alarm-close" })).toBeNull();
    expect(e.problem(0, { type: "retention", statement_sha256: SIGNED_SHA })).toBeNull();
    expect(e.problem(0, { type: "retention", statement_sha256: "ee".repeat(32) })).toBe(
      "retention entry the customer did not expect",
    );
    expect(withheld([["not json", true]], [])).toEqual([]);
  });
});
