// Site-id binding, the site-keys pinning rule and the manifest chain rule, on the vectors of
// tests/vectors/statements.json plus statements signed here with the vector keys.
import { describe, expect, it } from "vitest";
import { fromHex, toHex, utf8 } from "../src/crypto/bytes";
import { Ed25519SigningKey } from "../src/crypto/ed25519";
import { SignatureError, StatementError } from "../src/crypto/errors";
import {
  checkSiteId,
  parseSigned,
  signStatement,
  SiteIdError,
  statementHash,
  verifyChain,
  verifySiteKeys,
  type SignedStatement,
} from "../src/crypto/statements/index";
import { loadVectors } from "./vectors";

const V = loadVectors("statements.json");
const key = (name: string): Ed25519SigningKey => new Ed25519SigningKey(fromHex(V.keys[name].seed));
const vec = (name: string): any => V.valid.find((v: any) => v.name === name);
const signed = (name: string): SignedStatement => parseSigned(utf8(vec(name).encoded));

describe("site ids and site-keys pinning", () => {
  it("the FORMAT.md example: the all-zero seed gives home-cadsiw6wrb7o725vac6a65fuoa", () => {
    const pk = new Ed25519SigningKey(new Uint8Array(32)).publicKey;
    expect(checkSiteId("home-cadsiw6wrb7o725vac6a65fuoa", pk)).toBe("home-cadsiw6wrb7o725vac6a65fuoa");
    expect(() => checkSiteId("home-cadsiw6wrb7o725vac6a65fuob", pk)).toThrow(SiteIdError);
    expect(() => checkSiteId("-cadsiw6wrb7o725vac6a65fuoa", pk)).toThrow(SiteIdError);
  });

  it("first use, then a rotation signed by the old key", () => {
    const first = verifySiteKeys(signed("site-keys/enrollment"), null);
    const rotated = verifySiteKeys(signed("site-keys/rotation"), first);
    expect(rotated.customer_key).toBe(V.keys["customer-rotated"].public);
    // A replay of the pinned version, and a rollback, are refused.
    expect(() => verifySiteKeys(signed("site-keys/enrollment"), first)).toThrow(/not newer/);
    expect(() => verifySiteKeys(signed("site-keys/enrollment"), rotated)).toThrow(SignatureError);
  });

  it("a squatter cannot pin another customer's site id, nor sign with the new key only", () => {
    const body = { ...vec("site-keys/enrollment").body, customer_key: key("arc").publicKey.toText() };
    expect(() => verifySiteKeys(signStatement("camvault/v1/site-keys", body, key("arc")), null)).toThrow(SiteIdError);
    const first = verifySiteKeys(signed("site-keys/enrollment"), null);
    const byNewKey = signStatement("camvault/v1/site-keys", vec("site-keys/rotation").body, key("customer-rotated"));
    expect(() => verifySiteKeys(byNewKey, first)).toThrow(SignatureError);
  });
});

describe("manifest chain", () => {
  const camera = key("camera");
  const m0 = signed("manifest/seq-0");
  const m1 = signed("manifest/seq-1");
  const opts = { siteId: vec("manifest/seq-0").body.site_id, cameraId: vec("manifest/seq-0").body.camera_id };
  const kinds = (list: SignedStatement[], extra = {}) =>
    verifyChain(list, camera.publicKey, { ...opts, ...extra }).map((p) => p.kind);
  const manifest = (seq: number, prev: string | null, id = `rec-${seq}`): SignedStatement =>
    signStatement(
      "camvault/v1/manifest",
      { ...vec("manifest/seq-1").body, sequence: seq, prev_manifest_sha256: prev, recording_id: id },
      camera,
    );

  it("an intact chain has no problem; with an anchor only the new entries are checked", () => {
    expect(kinds([m0, m1])).toEqual([]);
    expect(kinds([m1], { anchor: { sequence: 0, manifestHash: statementHash(m0) } })).toEqual([]);
    expect(kinds([m0, m1], { expectedLastSequence: 1 })).toEqual([]);
  });

  it("reordering, deletion, truncation, replay, fork, foreign entries", () => {
    expect(kinds([m1, m0])).toEqual(["out-of-order"]);
    expect(kinds([m1])).toEqual(["missing"]);
    expect(kinds([m0, m1], { expectedLastSequence: 3 })).toEqual(["truncated"]);
    expect(kinds([m0, m1, m1])).toEqual(["duplicate-sequence"]);
    const fork = manifest(1, toHex(statementHash(m0)), "rec-forked");
    expect(kinds([m0, m1, fork])).toEqual(["duplicate-sequence"]);
    expect(kinds([m0, manifest(1, "00".repeat(32))])).toEqual(["prev-hash-mismatch"]);
    expect(kinds([m1], { anchor: { sequence: 0, manifestHash: new Uint8Array(32) } })).toEqual(["prev-hash-mismatch"]);
    expect(kinds([m0, signed("alarm-event"), m1])).toEqual(["not-a-manifest"]);
    const foreign = signStatement("camvault/v1/manifest", vec("manifest/seq-1").body, key("panel"));
    expect(kinds([m0, foreign])).toEqual(["bad-signature"]);
    const otherCamera = signStatement(
      "camvault/v1/manifest",
      { ...vec("manifest/seq-1").body, camera_id: "cam-other" },
      camera,
    );
    expect(kinds([m0, m1, otherCamera])).toEqual(["wrong-camera"]);
  });

  it("manifest cross-field rules are parse errors", () => {
    expect(() => manifest(0, toHex(statementHash(m0)))).toThrow(/must be null for sequence 0/);
    expect(() => manifest(2, null)).toThrow(/required for sequence > 0/);
    expect(() => signStatement("camvault/v1/manifest", { ...vec("manifest/seq-0").body, end_ms: 0 }, camera)).toThrow(
      StatementError,
    );
  });
});
