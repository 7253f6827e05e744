// cosignature/v1 (C2SP tlog-cosignature) in the browser, on the Go reference's bytes
// (tests/vectors/go_cosignature_vectors/vectors.json, filippo.io/torchwood v0.6.1): key IDs,
// verifier keys, every cosignature verifies with its timestamp; quorum, tampering, unknown
// and future-dated witnesses, freshness (web/src/crypto/cosignature.ts).
import { describe, expect, it } from "vitest";
import { fromHex, utf8 } from "../src/crypto/bytes";
import {
  CosignatureVerifier,
  QuorumError,
  cosignatureKeyId,
  freshAsOf,
  openCosignedCheckpoint,
  witnessPolicyFromJson,
} from "../src/crypto/cosignature";
import { KeyFormatError } from "../src/crypto/errors";
import { InvalidNoteSignatureError, NoteVerifier, UnverifiedNoteError } from "../src/crypto/tlog/note";
import { loadVectors, named } from "./vectors";
import { auditLog } from "../src/portal/audit/log";
import { Expected } from "../src/portal/audit/notices";

const V = loadVectors("go_cosignature_vectors/vectors.json");
const LOG = NoteVerifier.fromText(V.log_verifier_key);
const ORIGIN = LOG.name;
const WITNESSES = V.witnesses.map((w: any) => CosignatureVerifier.fromText(w.verifier_key));

describe("Go cosignature vectors", () => {
  it.each(named(V.witnesses))("key ID and verifier key of %s", (_, w) => {
    const v = new CosignatureVerifier(w.name, fromHex(w.public_hex));
    expect(v.keyId.toString(16).padStart(8, "0")).toBe(w.key_id_hex);
    expect(cosignatureKeyId(w.name, fromHex(w.public_hex))).toBe(v.keyId);
    expect(v.toText()).toBe(w.verifier_key);
    expect(CosignatureVerifier.fromText(w.verifier_key).toText()).toBe(w.verifier_key);
  });

  it.each(named(V.notes, (n) => n.description))("%s: every cosignature verifies", (_, n) => {
    const k = n.cosignatures.length;
    const opened = openCosignedCheckpoint(utf8(n.signed), [LOG], ORIGIN, WITNESSES, k);
    expect(opened.cosigners.size).toBe(k);
    for (const c of n.cosignatures) expect(opened.cosigners.get(c.name)).toBe(c.timestamp);
    if (k < WITNESSES.length)
      expect(() => openCosignedCheckpoint(utf8(n.signed), [LOG], ORIGIN, WITNESSES, k + 1)).toThrow(QuorumError);
  });
});

describe("refusals", () => {
  const n = V.notes.find((x: any) => x.cosignatures.length === 3);

  it("counts only the policy's witnesses", () => {
    const other = new CosignatureVerifier("witness.example/w1", fromHex("11".repeat(32)));
    expect(() => openCosignedCheckpoint(utf8(n.signed), [LOG], ORIGIN, [other], 1)).toThrow(
      /cosigned by 0 of the 1 witnesses required/,
    );
  });

  it("refuses a tampered cosignature of a known witness", () => {
    const line = n.cosignatures[0].line as string;
    const b64 = line.slice(line.lastIndexOf(" ") + 1);
    const i = 20; // inside the timestamp/signature, not the key ID
    const flipped = b64.slice(0, i) + (b64[i] === "A" ? "B" : "A") + b64.slice(i + 1);
    const tampered = n.signed.replace(b64, flipped);
    expect(() => openCosignedCheckpoint(utf8(tampered), [LOG], ORIGIN, WITNESSES, 1)).toThrow(
      InvalidNoteSignatureError,
    );
  });

  it("refuses a cosignature moved onto another checkpoint", () => {
    const other = V.notes.find((x: any) => x.text !== n.text);
    const moved = other.signed + (n.cosignatures[0].line as string);
    expect(() => openCosignedCheckpoint(utf8(moved), [LOG], ORIGIN, WITNESSES, 1)).toThrow(InvalidNoteSignatureError);
  });

  it("needs the log's own signature", () => {
    const sigs = n.signed.slice(n.signed.indexOf("\n\n") + 2).split("\n");
    const onlyWitnesses = n.text + "\n" + sigs.slice(1).join("\n");
    expect(() => openCosignedCheckpoint(utf8(onlyWitnesses), [LOG], ORIGIN, WITNESSES, 1)).toThrow(UnverifiedNoteError);
  });

  it("does not count a cosignature dated ahead of the clock", () => {
    const ts = Math.max(...n.cosignatures.map((c: any) => c.timestamp as number));
    expect(() => openCosignedCheckpoint(utf8(n.signed), [LOG], ORIGIN, WITNESSES, 1, ts - 10_000)).toThrow(QuorumError);
    expect(openCosignedCheckpoint(utf8(n.signed), [LOG], ORIGIN, WITNESSES, 3, ts).cosigners.size).toBe(3);
  });

  it("refuses witness key texts that are not cosignature/v1 keys", () => {
    expect(() => CosignatureVerifier.fromText(V.log_verifier_key)).toThrow(KeyFormatError);
    expect(() => CosignatureVerifier.fromText("nope")).toThrow(KeyFormatError);
  });
});

describe("policy and freshness", () => {
  it("reads the customer's witnesses.json / config.json witnesses", () => {
    const keys = V.witnesses.map((w: any) => w.verifier_key);
    const p = witnessPolicyFromJson({ witnesses: keys, quorum: 2 });
    expect(p.quorum).toBe(2);
    expect(p.maxAgeS).toBe(900);
    expect(witnessPolicyFromJson({ witnesses: keys, max_age_s: 60 }).quorum).toBe(3);
    expect(() => witnessPolicyFromJson({ witnesses: keys, quorum: 4 })).toThrow(/quorum 4/);
    expect(() => witnessPolicyFromJson({ witnesses: [] })).toThrow(KeyFormatError);
  });

  it("is the quorum-th newest cosignature", () => {
    const p = witnessPolicyFromJson({ witnesses: V.witnesses.map((w: any) => w.verifier_key), quorum: 2 });
    const names = V.witnesses.map((w: any) => w.name as string);
    expect(
      freshAsOf(
        p,
        new Map([
          [names[0], 100],
          [names[1], 50],
          [names[2], 10],
        ]),
      ),
    ).toBe(50);
    expect(freshAsOf(p, new Map([[names[0], 100]]))).toBe(0);
    expect(
      freshAsOf(
        p,
        new Map([
          [names[0], 100],
          ["stranger", 99],
        ]),
      ),
    ).toBe(0);
  });
});

describe("the portal's audit requires the witnesses", () => {
  const n = V.notes.find((x: any) => x.cosignatures.length === 3);
  const reader = (note: string) => ({
    checkpoint: async () => utf8(note.slice(0, note.indexOf("\n— witness"))),
    cosignedCheckpoint: async () => utf8(note),
    consistency: async () => [],
    inclusion: async () => [],
    entries: async () => [],
  });
  const store = () => ({ load: async () => null, save: async () => {} });
  const policy = (max_age_s: number, quorum = 3) =>
    witnessPolicyFromJson({ witnesses: V.witnesses.map((w: any) => w.verifier_key), quorum, max_age_s });
  const newest = Math.min(...n.cosignatures.map((c: any) => c.timestamp as number));
  const kinds = async (p: ReturnType<typeof policy>, now: number, note = n.signed) =>
    (await auditLog(reader(note), LOG, store() as any, "s", new Expected(new Map(), new Set()), p, now)).findings.map(
      (f) => f.kind,
    );

  it("fresh quorum: no witness finding (control)", async () => {
    expect(await kinds(policy(60), newest + 30)).not.toContain("stale_checkpoint");
    expect(await kinds(policy(60), newest + 30)).not.toContain("unwitnessed_checkpoint");
  });
  it("frozen view: stale_checkpoint", async () => {
    expect(await kinds(policy(60), newest + 61)).toContain("stale_checkpoint");
  });
  it("no quorum: unwitnessed_checkpoint", async () => {
    const bare = n.signed.slice(0, n.signed.indexOf("\n— witness") + 1);
    expect(await kinds(policy(60, 1), newest, bare)).toEqual(["unwitnessed_checkpoint"]);
  });
});
