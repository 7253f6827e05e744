// The Recordings page's listing check (src/portal/recordings/data.ts readCamera), as
// clients/customer/chain.py does it: the service's listing of a camera against the camera's
// signed manifest chain. The service is the attacker here: it relabels a field, drops,
// reorders or forges a recording; every one is reported, an honest listing is not.

import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, test } from "vitest";
import { fromUtf8, toHex } from "../src/crypto/bytes";
import { Ed25519SigningKey } from "../src/crypto/ed25519";
import { signStatement, statementHash } from "../src/crypto/statements/index";
import type { PortalContext } from "../src/portal/pages/types";
import { readCamera, type Listed } from "../src/portal/recordings/data";
import { ApiRefusal } from "../src/portal/api";

const SITE = "home-1";
const CAM = "cam-1";
const T0 = 1_790_000_000_000;
const camKey = Ed25519SigningKey.generate();

/** n recordings as the camera signs them and the service lists them (newest first). */
function chain(n: number, key = camKey): Listed[] {
  const out: Listed[] = [];
  let prev: string | null = null;
  for (let i = 0; i < n; i++) {
    const payload = new Uint8Array(100 + i);
    const body = {
      site_id: SITE,
      camera_id: CAM,
      recording_id: `rec-${i}`,
      kind: "segment",
      start_ms: T0 + 2000 * i,
      end_ms: T0 + 2000 * (i + 1),
      payload_sha256: toHex(sha256(payload)),
      payload_size: payload.length,
      header_sha256: toHex(sha256(new Uint8Array([i]))),
      sequence: i,
      prev_manifest_sha256: prev,
      issued_at_ms: T0 + 2000 * (i + 1) + 50,
    };
    const signed = signStatement("camvault/v1/manifest", body, key);
    prev = toHex(statementHash(signed));
    out.push({
      camera_id: CAM,
      recording_id: body.recording_id,
      kind: "segment",
      start_ms: body.start_ms,
      end_ms: body.end_ms,
      payload_size: body.payload_size,
      payload_sha256: body.payload_sha256,
      manifest_sha256: prev,
      sequence: i,
      status: "committed",
      manifest: JSON.parse(fromUtf8(signed.encoded)),
    });
  }
  return out.reverse();
}

/** A chain head as the camera signs it, as the service answers it. */
function head(sequence: number | null, manifestSha256: string | null, issuedAt = Date.now(), key = camKey): unknown {
  const body = {
    site_id: SITE,
    camera_id: CAM,
    sequence,
    manifest_sha256: manifestSha256,
    issued_at_ms: issuedAt,
    interval_s: 30,
  };
  return {
    head: JSON.parse(fromUtf8(signStatement("camvault/v1/chain-head", body, key).encoded)),
    received_ms: issuedAt,
  };
}

/** A portal context whose storage answers `items` (in pages of 2, to follow the cursor) and
 *  the camera's chain head (`headAnswer`; none: 404 chain_head_not_found). */
function ctx(
  items: Listed[],
  devices: Record<string, Record<string, unknown>> = { [CAM]: { device_key: camKey.publicKey.toText() } },
  headAnswer: unknown = null,
): PortalContext {
  const api = {
    get: async (path: string, params: Record<string, string>) => {
      if (path === `/v1/sites/${SITE}/cameras/${CAM}/chain-head`) {
        if (headAnswer === null) throw new ApiRefusal(404, "chain_head_not_found", "no head");
        return headAnswer;
      }
      expect(path).toBe(`/v1/sites/${SITE}/recordings`);
      expect(params["camera_id"]).toBe(CAM);
      expect(params["include_deleted"]).toBe("true");
      const at = Number(params["cursor"] ?? "0");
      return { items: items.slice(at, at + 2), next_cursor: at + 2 < items.length ? String(at + 2) : null };
    },
  };
  return {
    api: api as unknown as PortalContext["api"],
    keys: {
      identity: "AGE-SECRET-KEY-1X",
      siteKey: "ed25519-secret:x",
      siteId: SITE,
      config: { custodians: [], threshold: null, devices, signed: [], site_keys: null },
    },
    navigate: () => undefined,
  };
}

describe("readCamera", () => {
  test("an honest listing: no problem, committed recordings oldest first, tombstones counted", async () => {
    const items = chain(5);
    items[1]!.status = "deleted";
    const r = await readCamera(ctx(items), CAM);
    expect(r.problems).toEqual([]);
    expect(r.items.map((i) => i.recording_id)).toEqual(["rec-0", "rec-1", "rec-2", "rec-4"]);
    expect(r.deleted).toBe(1);
  });

  test("a field of the listing that is not what the camera signed: relabelled", async () => {
    const items = chain(3);
    items[1]!.start_ms += 60_000;
    const r = await readCamera(ctx(items), CAM);
    expect(r.problems.join("\n")).toMatch(/^relabelled: rec-1: the listing says start_ms/m);
    // and the page shows the signed time, not the service's
    expect(r.items.find((i) => i.recording_id === "rec-1")!.start_ms).toBe(T0 + 2000);
  });

  test("a recording dropped from the listing: missing", async () => {
    const items = chain(4).filter((i) => i.recording_id !== "rec-1");
    const r = await readCamera(ctx(items), CAM);
    expect(r.problems.join("\n")).toMatch(/^missing: sequence 1\.\.1 missing/m);
  });

  test("a listing out of its promised order: reordered", async () => {
    const items = chain(3);
    [items[0], items[1]] = [items[1]!, items[0]!];
    const r = await readCamera(ctx(items), CAM);
    expect(r.problems.join("\n")).toMatch(/^reordered: rec-2/m);
  });

  test("a recording forged under another key: refused, and the chain reports it", async () => {
    const items = chain(3);
    items[0] = chain(3, Ed25519SigningKey.generate())[0]!;
    const r = await readCamera(ctx(items), CAM);
    const text = r.problems.join("\n");
    expect(text).toMatch(/^not-a-manifest: rec-2: .*reason: manifest_invalid/m);
    expect(text).toMatch(/^bad-signature: /m);
  });

  test("a camera without an enrolled key: nothing can be verified, said so", async () => {
    const r = await readCamera(ctx(chain(2), {}), CAM);
    expect(r.problems).toEqual([`${CAM} has no enrolled device key in config.json: nothing of it can be verified`]);
  });

  test("the camera's signed chain head: reached by the listing, fresh: no problem", async () => {
    const items = chain(4);
    const top = items[0]!;
    const r = await readCamera(ctx(items, undefined, head(3, top.manifest_sha256)), CAM);
    expect(r.problems).toEqual([]);
    expect(r.head?.sequence).toBe(3);
    // no head posted yet: a note, not a finding
    expect((await readCamera(ctx(items, undefined, null), CAM)).problems).toEqual([]);
  });

  test("the newest recordings hidden below a signed head: recordings_hidden", async () => {
    const all = chain(5);
    const shown = all.slice(2); // rec-0..rec-2 listed, rec-3 and rec-4 hidden
    const r = await readCamera(ctx(shown, undefined, head(4, all[0]!.manifest_sha256)), CAM);
    expect(r.problems.join("\n")).toMatch(
      /^recordings_hidden: cam-1 signed a chain head at sequence 4 but the service lists up to sequence 2: sequence 3\.\.4 hidden/m,
    );
  });

  test("a head naming another manifest, a stale head, a forged head", async () => {
    const items = chain(3);
    const other = "ab".repeat(32);
    expect((await readCamera(ctx(items, undefined, head(2, other)), CAM)).problems.join("\n")).toMatch(
      /^chain_head_mismatch: /m,
    );
    const old = Date.now() - 10 * 60_000;
    expect(
      (await readCamera(ctx(items, undefined, head(2, items[0]!.manifest_sha256, old)), CAM)).problems.join("\n"),
    ).toMatch(/^camera_silent_or_hidden: cam-1's newest chain head was signed \d+ s ago/m);
    const forged = head(2, items[0]!.manifest_sha256, Date.now(), Ed25519SigningKey.generate());
    expect((await readCamera(ctx(items, undefined, forged), CAM)).problems.join("\n")).toMatch(
      /^chain_head_invalid: /m,
    );
    expect((await readCamera(ctx(items, undefined, { nothing: 1 }), CAM)).problems.join("\n")).toMatch(
      /^chain_head_invalid: /m,
    );
  });
});
