// tests/vectors/escrow.json against src/crypto/escrow/ (FORMAT.md part 2).
import { describe, expect, it } from "vitest";
import { b64decode } from "../src/crypto/base64";
import { parseCustodianPublicKey } from "../src/crypto/bech32";
import { concat, fromHex, toHex, utf8 } from "../src/crypto/bytes";
import { EscrowError, ShareError } from "../src/crypto/errors";
import { parseHeader } from "../src/crypto/ageheader";
import { associatedData } from "../src/crypto/metadata";
import {
  combine,
  combineFileKey,
  custodianKeyId,
  decodeShare,
  encodeShare,
  ESCROW_LABEL,
  gfMul,
  NotThisCustodianError,
  openEscrowStanza,
  openReleasedShare,
  parseEscrowStanza,
  sealShareToSession,
  SessionKey,
  stanzaAd,
  x25519PublicKey,
  type Share,
} from "../src/crypto/escrow/index";
import { seal } from "../src/crypto/escrow/seal";
import { flip, loadVectors, named } from "./vectors";

const V = loadVectors("escrow.json");
const shareOf = (hex: string): Share => decodeShare(fromHex(hex));

/** Reference split (section 1.2): y_i[j] = f_j(i), coefficient a_(j,k) = coeffs[j*(t-1) + k-1]. */
function referenceShares(secret: Uint8Array, coeffs: Uint8Array, t: number, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let x = 1; x <= n; x++) {
    const y = secret.map((s, j) => {
      let acc = 0;
      for (let k = t - 1; k >= 1; k--) acc = gfMul(acc ^ coeffs[j * (t - 1) + k - 1]!, x); // Horner
      return acc ^ s;
    });
    out.push(encodeShare({ x, threshold: t, y }));
  }
  return out;
}

describe("Shamir over GF(2^8)", () => {
  it.each(named(V.shamir))("%s: shares and every reconstruction", (_n, v: any) => {
    const secret = fromHex(v.secret);
    expect(referenceShares(secret, fromHex(v.coefficients), v.threshold, v.shares).map(toHex)).toEqual(v.share_bytes);
    const shares: Share[] = v.share_bytes.map(shareOf);
    expect(toHex(combine(shares))).toBe(v.secret); // all shares
    expect(toHex(combine(shares.slice(0, v.threshold)))).toBe(v.secret);
    expect(toHex(combine(shares.slice(-v.threshold).reverse()))).toBe(v.secret);
    if (v.threshold > 1) {
      expect(() => combine(shares.slice(0, v.threshold - 1))).toThrow(/too few shares/);
      expect(() => combine([shares[0]!, shares[0]!, ...shares.slice(2)])).toThrow(/duplicate share/);
    }
  });

  it("refuses mixed thresholds, lengths and bad encodings", () => {
    const [a, b] = V.shamir.find((v: any) => v.name === "2-of-3 file key").share_bytes.map(shareOf);
    expect(() => combine([a, { ...b, threshold: 3 }])).toThrow(ShareError);
    expect(() => combine([a, { ...b, y: b.y.subarray(1) }])).toThrow(/different lengths/);
    expect(() => combine([])).toThrow(/no shares/);
    expect(() => decodeShare(fromHex("02020101"))).toThrow(/version/);
    expect(() => decodeShare(fromHex("010200aa"))).toThrow(/x-coordinate/);
    expect(() => decodeShare(fromHex("010201"))).toThrow(/too short/);
  });
});

describe.each(named(V.escrow))("escrow stanzas %s", (_n, v: any) => {
  const header = utf8(v.header);
  const parsed = parseHeader(header);
  const secrets: Uint8Array[] = v.custodian_secret_keys.map(fromHex);

  it("keys, key ids, stanza layout and associated data", () => {
    v.custodian_public_keys.forEach((text: string, i: number) => {
      expect(toHex(parseCustodianPublicKey(text))).toBe(toHex(x25519PublicKey(secrets[i]!)));
      expect(custodianKeyId(parseCustodianPublicKey(text))).toBe(v.stanzas[i].args[0]);
    });
    expect(parsed.stanzas.map((s) => ({ type: s.type, args: s.args, body: toHex(s.body) }))).toEqual(
      v.stanzas.map((s: any) => ({ type: s.type, args: s.args, body: toHex(b64decode(s.body)) })),
    );
    expect(new TextDecoder().decode(associatedData(v.metadata))).toBe(v.associated_data_prefix);
    parsed.stanzas.forEach((s, i) => {
      const info = parseEscrowStanza(s);
      expect([info.index, info.threshold, info.count]).toEqual([i + 1, v.threshold, v.stanzas.length]);
    });
  });

  it("each body is re-sealed byte for byte from its ephemeral key, and opens to its share", () => {
    parsed.stanzas.forEach((s, i) => {
      const share = fromHex(v.shares[i]);
      const body = seal(
        ESCROW_LABEL,
        x25519PublicKey(secrets[i]!),
        fromHex(v.ephemeral_secret_keys[i]),
        share,
        stanzaAd(v.metadata, s.args),
      );
      expect(toHex(body)).toBe(toHex(s.body));
      expect(toHex(encodeShare(openEscrowStanza(s, secrets[i]!, v.metadata)))).toBe(v.shares[i]);
    });
  });

  it("a stanza does not open for another custodian, other metadata or altered bytes", () => {
    const s = parsed.stanzas[0]!;
    expect(() => openEscrowStanza(s, secrets[1]!, v.metadata)).toThrow(NotThisCustodianError);
    expect(() => openEscrowStanza(s, secrets[0]!, { ...v.metadata, end_ms: v.metadata.end_ms + 1 })).toThrow(
      /does not open/,
    );
    expect(() => openEscrowStanza({ ...s, body: flip(s.body, 3) }, secrets[0]!, v.metadata)).toThrow(/does not open/);
    const relabelled = { ...s, args: [s.args[0]!, "2", ...s.args.slice(2)] }; // the index is authenticated
    expect(() => openEscrowStanza(relabelled, secrets[0]!, v.metadata)).toThrow(/does not open/);
    expect(() => parseEscrowStanza({ ...s, args: [s.args[0]!, "01", ...s.args.slice(2)] })).toThrow(/decimal/);
    expect(() => parseEscrowStanza({ ...s, body: s.body.subarray(1) })).toThrow(/body must be 35 bytes/);
    expect(() => parseEscrowStanza({ type: "X25519", args: [], body: s.body })).toThrow(NotThisCustodianError);
  });

  it("t shares rebuild the file key through the header MAC; wrong shares are refused", () => {
    const shares: Share[] = v.shares.map(shareOf);
    expect(toHex(combineFileKey(shares.slice(0, v.threshold), header))).toBe(v.file_key);
    expect(toHex(combineFileKey(shares.slice(-v.threshold), header))).toBe(v.file_key);
    const bad = { ...shares[0]!, y: flip(shares[0]!.y, 0) };
    expect(() => combineFileKey([bad, ...shares.slice(1, v.threshold)], header)).toThrow(/do not reconstruct/);
    // Relabelled with a lower threshold: interpolation "works", the MAC refuses it.
    const low = shares.slice(0, v.threshold - 1).map((s) => ({ ...s, threshold: v.threshold - 1 }));
    if (low.length >= 2) expect(() => combineFileKey(low, header)).toThrow(EscrowError);
    expect(() => combineFileKey(shares.slice(0, v.threshold - 1), header)).toThrow(/too few shares/);
    expect(() => combineFileKey(shares, utf8("not an age header\n"))).toThrow(/version line/);
  });
});

describe("release to an operator", () => {
  const r = V.release[0];
  const session = new SessionKey(fromHex(r.session_secret_key));

  it("re-sealing reproduces the vectors and the operator opens them", () => {
    expect(V.release.length).toBe(2);
    for (const x of V.release) {
      expect(toHex(session.publicKey)).toBe(x.session_public_key);
      const sealed = sealShareToSession(
        shareOf(x.share),
        session.publicKey,
        x.metadata,
        x.release_id,
        fromHex(x.ephemeral_secret_key),
        fromHex(x.nonce),
      );
      expect(toHex(sealed)).toBe(x.sealed);
      expect(toHex(encodeShare(openReleasedShare(fromHex(x.sealed), session, x.metadata, x.release_id)))).toBe(x.share);
    }
    // one ephemeral key for the release, each share's own random bytes (so its own key)
    const [a, b] = V.release.map((x: { sealed: string }) => fromHex(x.sealed));
    expect(toHex(a!.subarray(0, 32))).toBe(toHex(b!.subarray(0, 32)));
    expect(toHex(a!.subarray(32, 48))).not.toBe(toHex(b!.subarray(32, 48)));
  });

  it("refuses another session key, metadata, release id, a flipped bit, swapped random bytes or a wrong length", () => {
    const sealed = fromHex(r.sealed);
    const open = (s: Uint8Array, k = session, m = r.metadata, id = r.release_id): Share =>
      openReleasedShare(s, k, m, id);
    expect(() => open(sealed, SessionKey.generate())).toThrow(/does not open/);
    expect(() => open(sealed, session, { ...r.metadata, recording_id: "rec-other" })).toThrow(/does not open/);
    expect(() => open(sealed, session, r.metadata, r.release_id + "x")).toThrow(/does not open/);
    expect(() => open(sealed, session, r.metadata, "with space")).toThrow(/release id/);
    for (const i of [0, 32, 47, 48, 82]) expect(() => open(flip(sealed, i))).toThrow(EscrowError);
    const other = fromHex(V.release[1]!.sealed);
    expect(() => open(concat(sealed.subarray(0, 32), other.subarray(32, 48), sealed.subarray(48)))).toThrow(
      /does not open/,
    );
    expect(() => open(concat(sealed, Uint8Array.of(0)))).toThrow(/83 bytes/);
    expect(String(session)).not.toContain(r.session_secret_key);
  });
});
