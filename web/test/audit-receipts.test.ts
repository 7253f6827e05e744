// The Audit page's split-view cross-check (src/portal/audit/receipts.ts, site.ts; mirrors
// clients/audit/receipts.py): the checkpoints operators were shown, relayed by the inbox as
// release-receipt reports, checked against each custodian's verified history. The attack: a
// custodian forks its log per audience (the operator is shown a log with the release, the
// customer one without it); its receipt's checkpoint is then `split_view`. Controls: receipts
// of the honest log (older, same or newer size) find nothing. Custodians are simulated at the
// HTTP level (global fetch stubbed) with real RFC 9162 trees, proofs and signed notes.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { b64encodePadded, b64urlEncode } from "../src/crypto/base64";
import { fromUtf8, utf8 } from "../src/crypto/bytes";
import { witnessPolicyFromJson } from "../src/crypto/cosignature";
import { entryLeafHash } from "../src/crypto/tlog/merkle";
import { NoteSigner, signCheckpoint } from "../src/crypto/tlog/note";
import { custodianOrigin } from "../src/portal/audit/log";
import { parseReport, shownCheckpoints } from "../src/portal/audit/receipts";
import { auditSite, type CustodianAudit } from "../src/portal/audit/site";
import { MemoryAuditStore } from "../src/portal/audit/store";
import type { CustodianEndpoint } from "../src/portal/keyfile";
import { cosignAll, consistencyProof, inclusionPath, mth, Witness } from "./witness-fixtures";

const SITE = "home-abcd1234";
const SITE_KEY = `ed25519-secret:${b64urlEncode(new Uint8Array(32).fill(7))}`;
const W = [new Witness("witness.test/w1", 21), new Witness("witness.test/w2", 22)];

/** A custodian with one log key and, when it forks, two logs: `entries` (what it serves the
 *  customer) and `forked` (what it showed the operator). */
class Custodian {
  readonly signer: NoteSigner;
  entries: string[] = [];
  witnesses: Witness[] = [];

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

  /** A site-keys change the customer signed (expected: no notice needed). */
  change(n: number): void {
    for (let i = 0; i < n; i++)
      this.entries.push(
        JSON.stringify({
          v: 1,
          type: "site-keys",
          site_id: "other-site",
          n: this.entries.length,
          custodian_id: this.id,
        }),
      );
  }

  note(entries: string[], size = entries.length, signer = this.signer): string {
    const leaves = entries.slice(0, size).map((t) => entryLeafHash(utf8(t)));
    const cp = signCheckpoint(
      { origin: custodianOrigin(this.id), size: BigInt(size), rootHash: mth(leaves), extensions: [] },
      signer,
    );
    return fromUtf8(cosignAll(cp, this.witnesses));
  }

  handle(url: URL): Response {
    const q = (k: string): number => Number(url.searchParams.get(k));
    const leaves = (n: number): Uint8Array[] => this.entries.slice(0, n).map((t) => entryLeafHash(utf8(t)));
    const json = (v: unknown): Response => new Response(JSON.stringify(v), { status: 200 });
    const b64 = (hs: Uint8Array[]): string[] => hs.map(b64encodePadded);
    switch (url.pathname) {
      case "/v1/log/checkpoint":
      case "/v1/log/cosigned-checkpoint":
        return new Response(this.note(this.entries), { status: 200 });
      case "/v1/log/consistency":
        if (q("new") > this.entries.length)
          return new Response(JSON.stringify({ error: { code: "invalid_range", message: "beyond the log" } }), {
            status: 400,
          });
        return json({ old: q("old"), new: q("new"), proof: b64(consistencyProof(q("old"), leaves(q("new")))) });
      case "/v1/log/inclusion":
        return json({ proof: b64(inclusionPath(q("index"), leaves(q("tree_size")))) });
      case "/v1/log/entries": {
        const out = [];
        for (let i = q("start"); i < Math.min(q("end"), this.entries.length); i++)
          out.push({ index: i, entry: this.entries[i] });
        return json({ entries: out });
      }
      case `/v1/sites/${SITE}/notices`:
        return json({ notices: [] });
      default:
        return new Response("{}", { status: 404 });
    }
  }
}

/** A release-receipt report as the operator's client posts it (clients/operator/receipts.py). */
function report(receipts: { custodian_id: string; checkpoint: string; log_index?: number | null }[], site = SITE) {
  return JSON.stringify({
    type: "camvault/v1/release-receipts",
    site_id: site,
    operator_id: "op-7",
    session_key: "c2Vzc2lvbg",
    time_ms: 1_700_000_000_000,
    receipts: receipts.map((r) => ({ outcome: "released", log_index: null, ...r })),
  });
}

let custodians: Custodian[];
let store: MemoryAuditStore;
let inbox: string[];

beforeEach(() => {
  custodians = ["c1", "c2", "c3"].map((id, i) => new Custodian(id, `http://127.0.0.1:${9201 + i}`));
  for (const c of custodians) c.change(3);
  store = new MemoryAuditStore();
  inbox = [];
  vi.stubGlobal("fetch", async (input: URL | string) => {
    const url = new URL(input.toString());
    const c = custodians.find((x) => new URL(x.url).origin === url.origin);
    if (c === undefined) throw new TypeError("Failed to fetch");
    return c.handle(url);
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const audit = (witnesses: unknown = null): Promise<CustodianAudit[]> =>
  auditSite({
    siteId: SITE,
    siteKey: SITE_KEY,
    custodians: custodians.map((c) => c.endpoint),
    statementHashes: [],
    relayed: async () => [],
    receipts: async () => [...inbox],
    store,
    witnesses: witnesses === null ? null : witnessPolicyFromJson(witnesses),
  });
const kinds = (rs: CustodianAudit[]): string[][] => rs.map((r) => r.findings.map((f) => f.kind));

describe("the split-view cross-check of the operators' receipts", () => {
  it("control: receipts of the honest logs (older and same size, before and after it grew) find nothing", async () => {
    const c1 = custodians[0]!;
    inbox.push(report([{ custodian_id: "c1", checkpoint: c1.note(c1.entries, 2) }]));
    inbox.push(report([{ custodian_id: "c1", checkpoint: c1.note(c1.entries) }]));
    expect(kinds(await audit())).toEqual([[], [], []]);
    // later: the log grew, the old receipts are still on its history
    c1.change(2);
    inbox.push(report([{ custodian_id: "c1", checkpoint: c1.note(c1.entries, 4), log_index: 3 }]));
    const rs = await audit();
    expect(kinds(rs)).toEqual([[], [], []]);
    expect(rs.every((r) => r.ok)).toBe(true);
  });

  it("attack: a custodian forks its log per audience; the operator's checkpoint is split_view", async () => {
    const c2 = custodians[1]!;
    await audit(); // trust on first use, size 3
    // the operator's view: the release was logged; the customer's: another entry in its place
    const release = JSON.stringify({ v: 1, type: "release", site_id: SITE, release_id: "rel-9", custodian_id: "c2" });
    const operatorView = [...c2.entries, release];
    c2.change(1);
    inbox.push(report([{ custodian_id: "c2", checkpoint: c2.note(operatorView), log_index: 3 }]));
    const rs = await audit();
    expect(kinds(rs)).toEqual([[], ["split_view"], []]);
    expect(rs[1]!.findings[0]!.detail).toMatch(/released receipt of operator op-7 \(log index 3\): two signed roots/);
    expect(rs[1]!.ok).toBe(false);
    // the fork seen at a larger size than the customer's log: no consistency proof exists
    inbox.length = 0;
    inbox.push(report([{ custodian_id: "c2", checkpoint: c2.note([...operatorView, "{}"]) }]));
    expect(kinds(await audit())).toEqual([[], ["split_view"], []]);
  });

  it("attack with witnesses: the fork's receipt is caught on the witnessed history; colluding witnesses do not help", async () => {
    for (const c of custodians) c.witnesses = W; // both cosign (here even the fork: they collude)
    const policy = { witnesses: W.map((w) => w.vkey), quorum: 2 };
    const c3 = custodians[2]!;
    const fork = [...c3.entries, JSON.stringify({ v: 1, type: "release", site_id: SITE })];
    c3.change(1);
    inbox.push(report([{ custodian_id: "c3", checkpoint: c3.note(fork) }]));
    expect(kinds(await audit(policy))).toEqual([[], [], ["split_view"]]);
    // control: the same audit without the fork's report
    inbox.length = 0;
    inbox.push(report([{ custodian_id: "c3", checkpoint: c3.note(c3.entries) }]));
    expect(kinds(await audit(policy))).toEqual([[], [], []]);
  });

  it("receipts_malformed: unreadable, another site's, a checkpoint not signed by the custodian; reported once", async () => {
    const c1 = custodians[0]!;
    inbox.push("not json");
    inbox.push(report([{ custodian_id: "c1", checkpoint: c1.note(c1.entries) }], "other-site"));
    const stranger = new NoteSigner(custodianOrigin("c1"), new Uint8Array(32).fill(99));
    inbox.push(report([{ custodian_id: "c1", checkpoint: c1.note(c1.entries, 3, stranger) }]));
    const rs = await audit();
    expect(kinds(rs)).toEqual([["receipts_malformed", "receipts_malformed", "receipts_malformed"], [], []]);
    const details = rs[0]!.findings.map((f) => f.detail).sort();
    expect(details[0]).toMatch(/^release receipts for another site$/);
    expect(details[1]).toMatch(/^release receipts: not JSON/);
    expect(details[2]).toMatch(/^released receipt of operator op-7: the checkpoint is not signed by this custodian/);
  });

  it("a log that failed its own checks is no base for the cross-check (as site.py LOG_BROKEN)", async () => {
    const c1 = custodians[0]!;
    inbox.push(report([{ custodian_id: "c1", checkpoint: c1.note([...c1.entries.slice(0, 2), "{}"]) }]));
    const policy = { witnesses: W.map((w) => w.vkey), quorum: 2 }; // c1 serves no cosignature
    expect(kinds(await audit(policy))).toEqual([
      ["unwitnessed_checkpoint"],
      ["unwitnessed_checkpoint"],
      ["unwitnessed_checkpoint"],
    ]);
  });
});

describe("parseReport refuses what receipts.py refuses", () => {
  const ok = JSON.parse(report([{ custodian_id: "c1", checkpoint: "x" }])) as Record<string, unknown>;
  const bad = (o: unknown, msg: RegExp): void => expect(() => parseReport(JSON.stringify(o))).toThrow(msg);

  it("each field", () => {
    expect(parseReport(JSON.stringify(ok)).receipts[0]).toEqual({
      custodianId: "c1",
      outcome: "released",
      logIndex: null,
      checkpoint: "x",
    });
    bad({ ...ok, type: "camvault/v1/access-notice" }, /not a JSON object of type/);
    bad([ok], /not a JSON object of type/);
    bad({ ...ok, receipts: {} }, /receipts must be a list/);
    bad({ ...ok, receipts: Array(65).fill((ok["receipts"] as unknown[])[0]) }, /at most 64/);
    bad({ ...ok, receipts: ["x"] }, /not a JSON object/);
    bad({ ...ok, receipts: [{ custodian_id: "c1", outcome: "stolen", checkpoint: "x" }] }, /unknown outcome/);
    bad(
      { ...ok, receipts: [{ custodian_id: "c1", outcome: "released", checkpoint: "x", log_index: -1 }] },
      /log_index/,
    );
    bad({ ...ok, receipts: [{ custodian_id: "", outcome: "released", checkpoint: "x" }] }, /custodian_id/);
    bad({ ...ok, receipts: [{ custodian_id: "c1", outcome: "released", checkpoint: "x".repeat(8193) }] }, /checkpoint/);
    bad({ ...ok, time_ms: "1" }, /time_ms/);
    bad({ ...ok, site_id: 5 }, /site_id/);
  });

  it("a report's receipts are grouped by custodian, identical checkpoints kept for one check", () => {
    const [by, f] = shownCheckpoints(
      [
        report([
          { custodian_id: "c1", checkpoint: "a", log_index: 4 },
          { custodian_id: "c2", checkpoint: "b" },
        ]),
        report([{ custodian_id: "c1", checkpoint: "a" }]),
      ],
      SITE,
    );
    expect(f).toEqual([]);
    expect(by.get("c1")!.map((s) => s.release)).toEqual([
      "released receipt of operator op-7 (log index 4)",
      "released receipt of operator op-7",
    ]);
    expect(by.get("c2")!.length).toBe(1);
  });
});
