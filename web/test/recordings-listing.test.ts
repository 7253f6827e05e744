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

/** A portal context whose storage answers `items` (in pages of 2, to follow the cursor). */
function ctx(
  items: Listed[],
  devices: Record<string, Record<string, unknown>> = { [CAM]: { device_key: camKey.publicKey.toText() } },
): PortalContext {
  const api = {
    get: async (path: string, params: Record<string, string>) => {
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
});
