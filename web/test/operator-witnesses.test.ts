// The operator console's witness checks (src/operator/keys.ts, release.ts, receipts.ts,
// flows.ts), as the CLI operator does them (clients/operator/release.py WitnessPolicy,
// Unwitnessed; clients/operator/receipts.py): config.json's witnesses checked at import; a
// receipt whose checkpoint lacks the quorum is refused (`unwitnessed`, its shares not used)
// while the honest ones pass; every receipt's checkpoint goes to the site's inbox as the same
// report text the CLI posts (checked by the Python parser). Custodians and the storage are
// simulated at the HTTP level (global fetch stubbed) with real logs, proofs, signed and
// cosigned checkpoints.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { b64encode, b64encodePadded, b64urlEncode } from "../src/crypto/base64";
import { encodeBech32Key, CUSTODIAN_PUBLIC_HRP } from "../src/crypto/bech32";
import { utf8 } from "../src/crypto/bytes";
import { Ed25519PublicKey, Ed25519SigningKey } from "../src/crypto/ed25519";
import { custodianKeyId, SessionKey } from "../src/crypto/escrow/index";
import type { RecordingMetadata } from "../src/crypto/metadata";
import { entryLeafHash } from "../src/crypto/tlog/merkle";
import { NoteSigner, signCheckpoint } from "../src/crypto/tlog/note";
import { custodianWarnings, releaseBatch, type Operator } from "../src/operator/flows";
import { OperatorKeyError, parseOperatorFiles, witnessPolicy } from "../src/operator/keys";
import { receiptOf, reportId, reportText } from "../src/operator/receipts";
import {
  gatherReleases,
  reasonOf,
  releasedRoot,
  ThresholdNotMet,
  Unwitnessed,
  verifyReceipt,
  type CustodianOutcome,
} from "../src/operator/release";
import { OperatorStorage } from "../src/operator/storage";
import type { CustodianEndpoint } from "../src/portal/keyfile";
import { cosignAll, inclusionPath, mth, Witness } from "./witness-fixtures";
import { REPO_ROOT } from "./vectors";

const SITE = "home-abcd1234";
const OP = "op-7";
const STORAGE = "http://127.0.0.1:8000";
const PYTHON = join(REPO_ROOT, ".venv", "bin", "python");
const skipPython = process.env.CAMVAULT_WEB_NO_PYTHON === "1";
if (!skipPython && !existsSync(PYTHON))
  throw new Error(`${PYTHON} not found: run make install first, or set CAMVAULT_WEB_NO_PYTHON=1`);

const W = [new Witness("witness.test/w1", 11), new Witness("witness.test/w2", 12), new Witness("witness.test/w3", 13)];
const POLICY = { witnesses: W.map((w) => w.vkey), quorum: 2, urls: W.map((_, i) => `http://w${i + 1}.test`) };
const opKey = Ed25519SigningKey.generate();

/** A custodian at the HTTP level: it logs each request as a refusal of every recording (no
 *  share crypto needed) and answers with a receipt cosigned by `cosigners`. */
class FakeCustodian {
  readonly signer: NoteSigner;
  readonly escrowPk = crypto.getRandomValues(new Uint8Array(32));
  readonly entries: string[] = ["{}", "{}"];
  cosigners: Witness[] = W;
  /** answer a refusal of the whole request (with its receipt), as access_period_closed */
  refuseWhole = false;

  constructor(
    readonly id: string,
    readonly url: string,
  ) {
    this.signer = new NoteSigner(`camvault.io/custodian/${id}`, crypto.getRandomValues(new Uint8Array(32)));
  }

  get endpoint(): CustodianEndpoint {
    return {
      custodian_id: this.id,
      url: this.url,
      escrow_key: encodeBech32Key(CUSTODIAN_PUBLIC_HRP, this.escrowPk),
      log_key: new Ed25519PublicKey(this.signer.verifier.publicKey).toText(),
    };
  }

  receipt(entry: string): { index: number; entry: string; checkpoint: string; inclusion_proof: string[] } {
    const index = this.entries.push(entry) - 1;
    const leaves = this.entries.map((t) => entryLeafHash(utf8(t)));
    const note = signCheckpoint(
      {
        origin: `camvault.io/custodian/${this.id}`,
        size: BigInt(leaves.length),
        rootHash: mth(leaves),
        extensions: [],
      },
      this.signer,
    );
    return {
      index,
      entry,
      checkpoint: new TextDecoder().decode(cosignAll(note, this.cosigners)),
      inclusion_proof: inclusionPath(index, leaves).map(b64encodePadded),
    };
  }

  handle(body: Record<string, unknown>): Response {
    const session = Uint8Array.from(atob(String(body["session_key"])), (c) => c.charCodeAt(0));
    const items = body["items"] as { metadata: RecordingMetadata }[];
    const releaseId = `rel-${this.id}-${this.entries.length}`;
    const entry = JSON.stringify({
      type: "refusal",
      custodian_id: this.id,
      release_id: releaseId,
      site_id: items[0]!.metadata.site_id,
      operator_id: OP,
      operator_verified: true,
      purpose: body["purpose"],
      session_key: b64urlEncode(session),
      justification: null,
      released: { count: 0, root: releasedRoot([]) },
    });
    const log = this.receipt(entry);
    if (this.refuseWhole)
      return new Response(JSON.stringify({ error: { code: "access_period_closed", message: "over" }, log }), {
        status: 403,
      });
    return new Response(
      JSON.stringify({
        release_id: releaseId,
        items: items.map((i) => ({
          recording_id: i.metadata.recording_id,
          status: "refused",
          reason: "outside_window",
          message: "not in the alarm window",
        })),
        log,
      }),
      { status: 200 },
    );
  }
}

const meta = (rec: string): RecordingMetadata => ({
  site_id: SITE,
  camera_id: "cam-1",
  recording_id: rec,
  kind: "segment",
  start_ms: 1_700_000_000_000,
  end_ms: 1_700_000_002_000,
});

/** An age header with one escrow stanza per custodian (what stanzaFor looks for; the MAC is
 *  never checked here: nothing is released). */
function header(cs: FakeCustodian[]): Uint8Array {
  const body = b64encode(new Uint8Array(35).fill(1));
  const eph = b64encode(new Uint8Array(32).fill(9));
  const stanzas = cs
    .map((c, i) => `-> camvault-escrow ${custodianKeyId(c.escrowPk)} ${i + 1} 2 ${cs.length} ${eph}\n${body}\n`)
    .join("");
  return utf8(`age-encryption.org/v1\n${stanzas}--- ${b64encode(new Uint8Array(32))}\n`);
}

let custodians: FakeCustodian[];
let posted: { path: string; body: Record<string, unknown>; keyid: string }[];
let storageDown: boolean;

beforeEach(() => {
  custodians = ["c1", "c2", "c3"].map((id, i) => new FakeCustodian(id, `http://127.0.0.1:${9101 + i}`));
  posted = [];
  storageDown = false;
  vi.stubGlobal("fetch", async (input: URL | string, init?: RequestInit) => {
    const url = new URL(input.toString());
    const headers = new Headers(init?.headers);
    const body = JSON.parse(String(init?.body ?? "{}")) as Record<string, unknown>;
    if (url.origin === STORAGE) {
      if (storageDown) throw new TypeError("Failed to fetch");
      posted.push({ path: url.pathname, body, keyid: headers.get("signature-input") ?? "" });
      return new Response(JSON.stringify({ id: posted.length, kind: "release_receipts" }), { status: 201 });
    }
    const c = custodians.find((x) => new URL(x.url).origin === url.origin);
    if (c === undefined || url.pathname !== "/v1/releases") throw new TypeError("Failed to fetch");
    return c.handle(body);
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const request = (witnesses = witnessPolicy(POLICY), session = SessionKey.generate()) => ({
  operatorId: OP,
  key: opKey,
  purpose: "alarm-verification" as const,
  justification: null,
  session,
  recordings: [{ header: header(custodians), metadata: meta("rec-1") }],
  witnesses,
});

describe("config.json's witnesses, as `operator init --witness` writes them", () => {
  const key = "ed25519-secret:" + b64urlEncode(crypto.getRandomValues(new Uint8Array(32)));
  const base = () => ({
    operator_id: OP,
    role: "operator",
    storage_url: STORAGE,
    custodians: [new FakeCustodian("c1", "http://127.0.0.1:9").endpoint],
  });

  it("are read, checked and kept; absent means none", () => {
    const k = parseOperatorFiles(`${key}\n${JSON.stringify({ ...base(), witnesses: POLICY }, null, 2)}`);
    expect(k.witnesses).toEqual(POLICY);
    const policy = witnessPolicy(k.witnesses)!;
    expect(policy.quorum).toBe(2);
    expect(policy.witnesses.map((w) => w.toText())).toEqual(POLICY.witnesses);
    expect(parseOperatorFiles(`${key}\n${JSON.stringify(base())}`).witnesses).toBeNull();
    // the CLI's own file: quorum defaults to all, max_age_s kept when given
    const cli = parseOperatorFiles(`${key}\n${JSON.stringify({ ...base(), witnesses: { witnesses: [W[0]!.vkey] } })}`);
    expect(cli.witnesses).toEqual({ witnesses: [W[0]!.vkey], quorum: 1, urls: [] });
  });

  it("a bad witness entry is refused in one line, naming it", () => {
    const bad = (w: unknown, msg: RegExp): void => {
      const text = `${key}\n${JSON.stringify({ ...base(), witnesses: w })}`;
      expect(() => parseOperatorFiles(text)).toThrow(OperatorKeyError);
      expect(() => parseOperatorFiles(text)).toThrow(msg);
    };
    bad({ ...POLICY, quorum: 4 }, /quorum 4 is not 1..3/);
    bad({ ...POLICY, quorum: 0 }, /quorum 0/);
    bad({ ...POLICY, witnesses: ["not-a-key"] }, /witness key must have the form/);
    bad({ ...POLICY, witnesses: [W[0]!.vkey.replace(/\+[0-9a-f]{8}\+/, "+00000000+")] }, /does not match/);
    bad({ ...POLICY, witnesses: [W[0]!.vkey, W[0]!.vkey], quorum: 1 }, /given twice/);
    bad({ ...POLICY, witnesses: [] }, /non-empty list/);
    bad({ ...POLICY, urls: "http://w1" }, /urls/);
    bad({ ...POLICY, max_age_s: 0 }, /max_age_s/);
  });
});

describe("receipts checked against the witness quorum", () => {
  const c = (): FakeCustodian => custodians[0]!;
  const receipt = () => c().receipt('{"type":"refusal"}');

  it("control: a receipt cosigned by 2 of 3 witnesses (or 3) passes; without a policy the log key suffices", () => {
    c().cosigners = [W[0]!, W[2]!];
    expect(() => verifyReceipt(c().endpoint, receipt(), witnessPolicy(POLICY))).not.toThrow();
    c().cosigners = W;
    expect(() => verifyReceipt(c().endpoint, receipt(), witnessPolicy(POLICY))).not.toThrow();
    c().cosigners = [];
    expect(() => verifyReceipt(c().endpoint, receipt(), null)).not.toThrow();
  });

  it("attack: the log's own checkpoint, one cosignature, or other witnesses' are Unwitnessed", () => {
    for (const cosigners of [[], [W[1]!], [new Witness("witness.test/w1", 99), new Witness("evil.test/w9", 98)]]) {
      c().cosigners = cosigners;
      const r = receipt();
      let err: unknown;
      try {
        verifyReceipt(c().endpoint, r, witnessPolicy(POLICY));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Unwitnessed);
      expect((err as Unwitnessed).message).toMatch(/not witnessed: .*cosigned by \d of the 2 witnesses required/);
      expect((err as Unwitnessed).checkpoint).toBe(r.checkpoint); // kept: evidence for the customer
    }
  });

  it("a cosignature line forged under a configured witness's name refuses the receipt (not just unwitnessed)", () => {
    const r = receipt();
    const forged = r.checkpoint.replace(
      /(— witness\.test\/w1 \S{10})\S/,
      (m, p: string) => p + (m.endsWith("A") ? "B" : "A"),
    );
    expect(forged).not.toBe(r.checkpoint);
    expect(() => verifyReceipt(c().endpoint, { ...r, checkpoint: forged }, witnessPolicy(POLICY))).toThrow(
      /invalid cosignature by known witness/,
    );
  });

  it("a custodian whose receipt is unwitnessed is `unwitnessed`: its answer is not used, the others are", async () => {
    custodians[2]!.cosigners = [W[0]!];
    let outcomes: CustodianOutcome[] = [];
    try {
      await gatherReleases(
        custodians.map((x) => x.endpoint),
        2,
        request(),
      );
    } catch (e) {
      expect(e).toBeInstanceOf(ThresholdNotMet); // nothing is released by these custodians
      outcomes = (e as ThresholdNotMet).outcomes;
    }
    const by = Object.fromEntries(outcomes.map((o) => [o.custodian, o]));
    expect(reasonOf(by["c1"]!)).toBe("outside_window");
    expect(by["c1"]!.kind).toBe("released"); // a verified answer (nothing in it)
    expect(by["c3"]!.kind).toBe("unwitnessed");
    expect(reasonOf(by["c3"]!)).toBe("unwitnessed");
    // control: without the policy the same answer is used
    const plain = await gatherReleases([custodians[2]!.endpoint], 1, request(null)).catch(
      (e: ThresholdNotMet) => e.outcomes,
    );
    expect((plain as CustodianOutcome[])[0]!.kind).toBe("released");
  });
});

describe("the release-receipt report", () => {
  const op = (): Operator => ({
    storage: new OperatorStorage(STORAGE, OP, "ed25519-secret:" + b64urlEncode(new Uint8Array(32).fill(3))),
    operatorId: OP,
    key: opKey,
    custodians: custodians.map((c) => c.endpoint),
    witnesses: witnessPolicy(POLICY),
  });

  it("every custodian's checkpoint, refused or not, goes to the inbox as the CLI's report", async () => {
    custodians[1]!.cosigners = [W[2]!]; // c2: unwitnessed
    custodians[2]!.refuseWhole = true; // c3: refused with its receipt
    const s = SessionKey.generate();
    const outcomes = await gatherReleases(
      custodians.map((x) => x.endpoint),
      2,
      request(witnessPolicy(POLICY), s),
    ).catch((e: ThresholdNotMet) => e.outcomes);
    const receipts = (outcomes as CustodianOutcome[])
      .map(receiptOf)
      .filter((r) => r !== null)
      .sort((a, b) => a.custodian_id.localeCompare(b.custodian_id));
    expect(receipts.map((r) => [r.custodian_id, r.outcome, r.log_index])).toEqual([
      ["c1", "nothing_released", 2],
      ["c2", "unwitnessed", null],
      ["c3", "refused", 2],
    ]);
    expect(receipts[1]!.checkpoint).toContain("— witness.test/w3 ");
    const text = reportText(SITE, OP, s.publicKey, 1_700_000_123_456, receipts);
    expect(JSON.parse(text)).toMatchObject({ type: "camvault/v1/release-receipts", site_id: SITE, operator_id: OP });
    expect(reportId(s.publicKey)).toMatch(/^rr-[0-9a-f]{40}$/);
    if (skipPython) return;
    // the CLI's parser reads it and writes the very same bytes and reference back
    const py = [
      "import sys, json",
      "from clients.operator.receipts import parse_report",
      "r = parse_report(sys.stdin.read())",
      "print(json.dumps([r.to_text(), r.report_id]))",
    ].join("\n");
    const out = execFileSync(PYTHON, ["-c", py], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONPATH: REPO_ROOT },
      input: text,
      encoding: "utf8",
    });
    expect(JSON.parse(out)).toEqual([text, reportId(s.publicKey)]);
  });

  it("releaseBatch posts the report (signed as the operator) and warns per custodian; a refusal posts too", async () => {
    const o = op();
    o.storage.recording = async (_s, cam, rec) => ({
      ...meta(rec),
      camera_id: cam,
      payload_size: 1,
      sequence: 0,
      status: "committed",
      committed_ms: 0,
      header: b64encodePadded(header(custodians)),
      download_url: "http://127.0.0.1:1/never",
    });
    custodians[1]!.cosigners = []; // c2 unwitnessed
    const item = { ...meta("rec-1"), payload_size: 1, sequence: 0, status: "committed", committed_ms: 0 };
    await expect(releaseBatch(o, SITE, [item], "alarm-verification", null as never)).rejects.toBeInstanceOf(
      ThresholdNotMet,
    );
    expect(posted).toHaveLength(1);
    expect(posted[0]!.path).toBe(`/v1/sites/${SITE}/release-receipts`);
    expect(posted[0]!.keyid).toContain(`keyid="operator:${OP}"`);
    const report = JSON.parse(String(posted[0]!.body["report"])) as { receipts: { outcome: string }[] };
    expect(report.receipts.map((r) => r.outcome).sort()).toEqual([
      "nothing_released",
      "nothing_released",
      "unwitnessed",
    ]);
    expect(posted[0]!.body["report_id"]).toMatch(/^rr-/);
  });

  it("the CLI's warning lines: each custodian whose shares were not used, with its reason", () => {
    const released: CustodianOutcome = {
      custodian: "c1",
      kind: "released",
      releaseId: "r",
      sealed: new Map([["rec-1", new Uint8Array(1)]]),
      refused: new Map(),
    };
    const unw: CustodianOutcome = { custodian: "c3", kind: "unwitnessed", message: "not witnessed", checkpoint: "x" };
    const ref: CustodianOutcome = {
      custodian: "c2",
      kind: "refused",
      status: 403,
      reason: "alarm_closed",
      message: "m",
    };
    expect(custodianWarnings([unw, released, ref])).toEqual([
      { custodian: "c2", reason: "alarm_closed", text: "custodian c2: alarm_closed (m)" },
      { custodian: "c3", reason: "unwitnessed", text: "custodian c3: unwitnessed (not witnessed)" },
    ]);
    expect(custodianWarnings([released])).toEqual([]);
  });
});
