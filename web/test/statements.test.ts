// tests/vectors/statements.json against src/crypto/canonical.ts and src/crypto/statements/.
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { ED25519_TORSION_SUBGROUP, ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { concat, fromHex, toHex, utf8 } from "../src/crypto/bytes";
import { canonicalJson, parseCanonicalJson } from "../src/crypto/canonical";
import { Ed25519PublicKey, Ed25519SigningKey } from "../src/crypto/ed25519";
import { SignatureError, StatementError } from "../src/crypto/errors";
import {
  parseSigned,
  signStatement,
  signedMessage,
  statementHash,
  verifyStatement,
} from "../src/crypto/statements/index";
import { loadVectors, named } from "./vectors";
import { mixedOrderSignature, smallOrderSignature } from "./forge";

const V = loadVectors("statements.json");
const key = (name: string): Ed25519SigningKey => new Ed25519SigningKey(fromHex(V.keys[name].seed));
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("keys", () => {
  it("every Ed25519 seed gives its public key text", () => {
    for (const [name, k] of Object.entries<any>(V.keys)) {
      if (!k.public.startsWith("ed25519:")) continue;
      expect(key(name).publicKey.toText(), name).toBe(k.public);
      expect(Ed25519PublicKey.fromText(k.public).toText()).toBe(k.public);
    }
  });

  it("refuses small-order and non-canonical public keys, never prints a seed", () => {
    const identity = new Uint8Array(32);
    identity[0] = 1; // the neutral point: small order
    expect(() => new Ed25519PublicKey(identity)).toThrow(/prime-order subgroup/);
    // A mixed-order key (a valid key plus a point of order 8) is not in the prime-order
    // subgroup: libsodium's crypto_core_ed25519_is_valid_point refuses it, so must we.
    const torsion = ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[1]!);
    const mixed = ed25519.Point.fromBytes(key("customer").publicKey.raw).add(torsion).toBytes();
    expect(() => new Ed25519PublicKey(mixed)).toThrow(/prime-order subgroup/);
    const k = key("customer");
    expect(() => Ed25519PublicKey.fromText(k.publicKey.toText() + "=")).toThrow(/base64url/);
    expect(JSON.stringify({ k })).not.toContain(V.keys.customer.seed);
    expect(String(k)).toContain("redacted");
  });

  it("refuses a malleated signature with S + L (non-canonical S, RFC 8032 section 5.1.7)", () => {
    const v = V.valid.find((x: any) => x.name === "alarm-event");
    const sig = fromHex(v.sig);
    const L = ed25519.Point.Fn.ORDER;
    const s2 = bytesToNumberLE(sig.subarray(32)) + L;
    const malleated = concat(
      sig.subarray(0, 32),
      Uint8Array.from({ length: 32 }, (_, i) => Number((s2 >> BigInt(8 * i)) & 0xffn)),
    );
    const pk = key("panel").publicKey;
    expect(pk.isValid(utf8(v.signed_message), sig)).toBe(true);
    expect(pk.isValid(utf8(v.signed_message), malleated)).toBe(false);
  });

  it("refuses R of order 8, or with a component of order 8 (as libsodium does; noble alone accepts both)", () => {
    const seed = fromHex(V.keys.customer.seed);
    const pk = key("customer").publicKey;
    const msg = utf8("any message");
    for (const forged of [smallOrderSignature(seed, msg), mixedOrderSignature(seed, msg)]) {
      expect(ed25519.verify(forged, msg, pk.raw, { zip215: false })).toBe(true); // cofactored
      expect(pk.isValid(msg, forged)).toBe(false);
    }
  });
});

describe("valid statements: byte for byte", () => {
  it.each(named(V.valid))("%s", (_name, v: any) => {
    const k = key(v.signer);
    // The signed message and the wire form, built from the body alone.
    expect(dec(signedMessage(v.type, k.publicKey, v.body))).toBe(v.signed_message);
    expect(toHex(k.sign(utf8(v.signed_message)))).toBe(v.sig);
    const signed = signStatement(v.type, v.body, k);
    expect(dec(signed.encoded)).toBe(v.encoded);
    expect(toHex(statementHash(signed))).toBe(v.statement_hash);
    // Parsing and verifying the wire bytes.
    const parsed = parseSigned(utf8(v.encoded));
    expect(parsed.type).toBe(v.type);
    expect(verifyStatement(parsed, k.publicKey, v.type)).toEqual(v.body);
    expect(dec(canonicalJson(parsed.unverifiedBody))).toBe(JSON.stringify(JSON.parse(v.encoded).body));
    // The right bytes, the wrong key or the wrong type: refused.
    expect(() => verifyStatement(parsed, key("log-a").publicKey, v.type)).toThrow(SignatureError);
    const other = v.type === "camvault/v1/consent" ? "camvault/v1/revocation" : "camvault/v1/consent";
    expect(() => verifyStatement(parsed, k.publicKey, other)).toThrow(/expected camvault\/v1\//);
  });

  it("the manifest chain: seq 1 names the hash of seq 0", () => {
    const [m0, m1] = ["manifest/seq-0", "manifest/seq-1"].map((n) => V.valid.find((v: any) => v.name === n));
    expect(m1.body.prev_manifest_sha256).toBe(toHex(sha256(utf8(m0.encoded))));
  });
});

describe("invalid statements: refused for the stated reason", () => {
  it.each(named(V.invalid))("%s", (_name, v: any) => {
    const panel = key("panel").publicKey;
    const attempt = (): unknown => verifyStatement(parseSigned(utf8(v.encoded)), panel, "camvault/v1/alarm-event");
    if (v.error === "SignatureError") {
      expect(() => parseSigned(utf8(v.encoded))).not.toThrow();
      expect(attempt).toThrow(SignatureError);
    } else {
      expect(() => parseSigned(utf8(v.encoded))).toThrow(StatementError);
      expect(() => parseSigned(utf8(v.encoded))).not.toThrow(SignatureError);
    }
    expect(attempt).toThrow(v.fragment);
  });
});

describe("canonical JSON (RFC 8785, camvault subset)", () => {
  it("sorts members by UTF-16 code units and escapes as JSON.stringify", () => {
    const value = { "\u20ac": 1, "\ud83d\ude00": 2, b: '\u2028\n\u0007"', a: [true, null, -0, 9007199254740991] };
    const text = dec(canonicalJson(value));
    expect(text).toBe('{"a":[true,null,0,9007199254740991],"b":"\u2028\\n\\u0007\\"","\u20ac":1,"\ud83d\ude00":2}'); // as Python's rfc8785
    expect(parseCanonicalJson(utf8(text))).toEqual({ ...value, a: [true, null, 0, 9007199254740991] });
  });

  it("refuses what the Python side refuses", () => {
    const refuse = (text: string, why: RegExp): void => expect(() => parseCanonicalJson(utf8(text)), text).toThrow(why);
    refuse('{"a":1.5}', /floating-point/);
    refuse('{"a":1e3}', /floating-point/);
    refuse('{"a":9007199254740993}', /IEEE-754/);
    refuse('{"a":1,"a":1}', /duplicate member/);
    refuse('{"b":1,"a":1}', /not canonical/);
    refuse('{"a": 1}', /not canonical/);
    refuse('{"a":"\\u0041"}', /not canonical/);
    refuse('{"a":NaN}', /NaN/);
    refuse('"\\ud800"', /lone surrogate/);
    refuse("[".repeat(600) + "]".repeat(600), /too deep/);
    expect(() => parseCanonicalJson(Uint8Array.of(0x22, 0xff, 0x22))).toThrow(/UTF-8/);
    expect(() => canonicalJson({ a: 0.5 })).toThrow(/floating-point/);
    expect(() => canonicalJson({ a: 2 ** 53 })).toThrow(/IEEE-754/);
  });
});
