// Hybrid (ML-KEM-768 + X25519) escrow in the web app: the custodian keys a SiteKeys or the
// operator's config.json lists (src/crypto/escrow/pqkeys.ts), routing a recording's hybrid
// stanza to its custodian and what the release request then carries (src/operator/release.ts),
// against tests/vectors/escrow_hybrid.json and escrow.json (the Python implementation's bytes).
import { describe, expect, it } from "vitest";
import { b64encode, b64urlEncode } from "../src/crypto/base64";
import { decodeBech32Key, encodeBech32Key } from "../src/crypto/bech32";
import { utf8 } from "../src/crypto/bytes";
import { Ed25519SigningKey } from "../src/crypto/ed25519";
import { KeyFormatError } from "../src/crypto/errors";
import { NotThisCustodianError, parseEscrowStanza, SessionKey } from "../src/crypto/escrow/index";
import { parseHeader } from "../src/crypto/ageheader";
import {
  HYBRID_PUBLIC_KEY_HRP,
  HYBRID_PUBLIC_KEY_SIZE,
  HYBRID_STANZA_TYPE,
  hybridCustodianKeyId,
  parseHybridCustodianPublicKey,
} from "../src/crypto/escrow/pqkeys";
import { OperatorKeyError, parseOperatorFiles } from "../src/operator/keys";
import { requestRelease, stanzaFor, thresholdOf, type ReleaseRecording } from "../src/operator/release";
import type { CustodianEndpoint } from "../src/portal/keyfile";
import { loadVectors } from "./vectors";

const H = loadVectors("escrow_hybrid.json").escrow_hybrid[0];
const X = loadVectors("escrow.json").escrow[0];
const MAC_LINE = "--- " + b64encode(new Uint8Array(32)) + "\n";
const header = (stanzaText: string[]): Uint8Array => utf8("age-encryption.org/v1\n" + stanzaText.join("") + MAC_LINE);
// A recording escrowed to the 2-of-3 X25519 set and, as a site whose custodians publish hybrid
// keys seals it, to the hybrid set (the vectors' two custodian sets; routing only).
const hybridRec: ReleaseRecording = { header: header(H.stanza_text), metadata: H.metadata };
const x25519Rec: ReleaseRecording = { header: header(X.stanza_text), metadata: X.metadata };
const LOG_KEY = new Ed25519SigningKey(new Uint8Array(32).fill(7)).publicKey.toText();

function endpoint(i: number, hybrid: boolean): CustodianEndpoint {
  return {
    custodian_id: `c${i + 1}`,
    url: "http://127.0.0.1:9",
    escrow_key: X.custodian_public_keys[i],
    log_key: LOG_KEY,
    ...(hybrid ? { hybrid_escrow_key: H.custodian_public_keys[i] } : {}),
  };
}

/** `key` with byte `index` set to `value`, re-encoded as camvault-custodian-pq1... */
function withByte(text: string, index: number, value: number): string {
  const raw = decodeBech32Key(text, HYBRID_PUBLIC_KEY_HRP, HYBRID_PUBLIC_KEY_SIZE, "key");
  raw[index] = value;
  return encodeBech32Key(HYBRID_PUBLIC_KEY_HRP, raw);
}

describe("hybrid custodian public keys", () => {
  it("the vectors' keys parse and give the key ids their stanzas carry", () => {
    H.custodian_public_keys.forEach((text: string, i: number) => {
      const key = parseHybridCustodianPublicKey(text);
      expect(key.length).toBe(HYBRID_PUBLIC_KEY_SIZE);
      expect(hybridCustodianKeyId(key)).toBe(H.key_ids[i]);
      expect(H.stanzas[i].args[0]).toBe(H.key_ids[i]);
    });
  });

  it("refuses another key type, upper case, a bad ML-KEM half, a bad X25519 half", () => {
    const good: string = H.custodian_public_keys[0];
    expect(() => parseHybridCustodianPublicKey(X.custodian_public_keys[0])).toThrow(/camvault-custodian-pq/);
    expect(() => parseHybridCustodianPublicKey(good.toUpperCase())).toThrow(/lowercase/);
    // First coefficient 0xfff >= q = 3329: FIPS 203's encapsulation-key check fails.
    const badMlkem = withByte(withByte(good, 0, 0xff), 1, 0x0f | 0xf0);
    expect(() => parseHybridCustodianPublicKey(badMlkem)).toThrow(/invalid ML-KEM-768 half/);
    // X25519 half: the point 0 (low order) and p = 2^255 - 19 (non-canonical spelling of 0).
    let zero = good;
    for (let i = 1184; i < 1216; i++) zero = withByte(zero, i, 0);
    expect(() => parseHybridCustodianPublicKey(zero)).toThrow(/low-order point/);
    let p = withByte(good, 1184, 0xed);
    for (let i = 1185; i < 1215; i++) p = withByte(p, i, 0xff);
    p = withByte(p, 1215, 0x7f);
    expect(() => parseHybridCustodianPublicKey(p)).toThrow(/non-canonical/);
    expect(() => parseHybridCustodianPublicKey(good)).not.toThrow(); // control
    for (const bad of [badMlkem, zero, p])
      try {
        parseHybridCustodianPublicKey(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(KeyFormatError);
      }
  });
});

describe("hybrid escrow stanzas in the operator's release", () => {
  it("parses a hybrid stanza (enc of 1120 bytes) for routing, never opens it", () => {
    const st = parseHeader(hybridRec.header).stanzas;
    st.forEach((s, i) => {
      const info = parseEscrowStanza(s);
      expect([info.stanzaType, info.index, info.threshold, info.count]).toEqual([HYBRID_STANZA_TYPE, i + 1, 2, 3]);
      expect(info.ephemeralPublicKey.length).toBe(1120);
    });
    expect(thresholdOf(hybridRec.header)).toBe(2);
    // A hybrid stanza whose enc is an X25519 key's size is malformed, not routed.
    const short = { ...st[0]!, args: [...st[0]!.args.slice(0, 4), X.stanzas[0].args[4]] };
    expect(() => parseEscrowStanza(short)).toThrow(/enc: must encode 1120 bytes/);
    expect(() => parseEscrowStanza({ ...st[0]!, type: "camvault-escrow-other" })).toThrow(NotThisCustodianError);
  });

  it("sends each custodian its hybrid stanza with its type; an X25519 one without", () => {
    H.stanzas.forEach((s: { args: string[]; body: string }, i: number) => {
      expect(stanzaFor(hybridRec, endpoint(i, true))).toEqual({ args: s.args, body: s.body, type: HYBRID_STANZA_TYPE });
    });
    X.stanzas.forEach((s: { args: string[]; body: string }, i: number) => {
      expect(stanzaFor(x25519Rec, endpoint(i, true))).toEqual({ args: s.args, body: s.body });
    });
    // Without the custodian's pinned hybrid key its hybrid stanza is not found (never guessed).
    expect(() => stanzaFor(hybridRec, endpoint(0, false))).toThrow(/has no stanza for c1/);
    // Another custodian's hybrid key does not pick up c1's stanza.
    const swapped = { ...endpoint(0, true), hybrid_escrow_key: H.custodian_public_keys[1] };
    expect(stanzaFor(hybridRec, swapped).args[0]).toBe(H.key_ids[1]);
  });

  it("the request body that leaves the page carries the stanza's type", async () => {
    const bodies: string[] = [];
    const outcome = await requestRelease(endpoint(1, true), {
      operatorId: "op-1",
      key: new Ed25519SigningKey(new Uint8Array(32).fill(3)),
      purpose: "maintenance",
      justification: null,
      session: SessionKey.generate(),
      recordings: [hybridRec],
      onBody: (_c, body) => bodies.push(body),
    });
    expect(outcome.kind).toBe("unavailable"); // nothing listens on port 9
    const sent = JSON.parse(bodies[0]!);
    expect(sent.items[0].stanza).toEqual({
      args: H.stanzas[1].args,
      body: H.stanzas[1].body,
      type: HYBRID_STANZA_TYPE,
    });
  });
});

describe("operator config.json: hybrid_escrow_key", () => {
  const files = (c: Record<string, unknown>): string =>
    "ed25519-secret:" +
    b64urlEncode(new Uint8Array(32).fill(5)) +
    "\n" +
    JSON.stringify({ operator_id: "op-1", role: "operator", storage_url: "http://s", custodians: [c] });
  const base = { custodian_id: "c1", url: "http://c1", escrow_key: X.custodian_public_keys[0], log_key: LOG_KEY };

  it("kept when the CLI wrote it; absent or null: none", () => {
    const withKey = parseOperatorFiles(files({ ...base, hybrid_escrow_key: H.custodian_public_keys[0] }));
    expect(withKey.custodians[0]!.hybrid_escrow_key).toBe(H.custodian_public_keys[0]);
    expect("hybrid_escrow_key" in parseOperatorFiles(files(base)).custodians[0]!).toBe(false);
    expect("hybrid_escrow_key" in parseOperatorFiles(files({ ...base, hybrid_escrow_key: null })).custodians[0]!).toBe(
      false,
    );
  });

  it("a malformed one is refused, naming the custodian", () => {
    for (const bad of [X.custodian_public_keys[1], 7])
      expect(() => parseOperatorFiles(files({ ...base, hybrid_escrow_key: bad }))).toThrow(OperatorKeyError);
    expect(() => parseOperatorFiles(files({ ...base, hybrid_escrow_key: X.custodian_public_keys[1] }))).toThrow(
      /custodian 1/,
    );
  });
});
