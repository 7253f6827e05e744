// Device key rotation and revocation in the portal (src/crypto/statements/devices.ts, the port
// of crypto/statements/devices.py): config.json devices[cam] holds the current device_key and
// revoked_keys [{device_key, revoked_from_ms}] (clients/customer/state.py camera_keys). A
// manifest of a rotated-out key signed before its revoked_from_ms verifies; at or after it is
// refused device_revoked; the new key verifies; a key never the camera's stays manifest_invalid.

import { Encrypter } from "age-encryption";
import { sha256 } from "@noble/hashes/sha2.js";
import { describe, expect, test } from "vitest";
import { generateIdentity, identityToRecipient } from "../src/crypto/age";
import { splitFile } from "../src/crypto/ageheader";
import { fromUtf8, toHex, utf8 } from "../src/crypto/bytes";
import { Ed25519SigningKey } from "../src/crypto/ed25519";
import { parseSigned, signStatement, verifyChain } from "../src/crypto/statements/index";
import { DeviceKeys } from "../src/crypto/statements/devices";
import { cameraKeyOf, checkManifest, RecordingRefused, verifyRecording } from "../src/portal/recordings/verify";

const SITE = "home-1";
const CAM = "cam-1";
const REVOKED_FROM = 1_790_000_010_000;
const oldKey = Ed25519SigningKey.generate();
const newKey = Ed25519SigningKey.generate();
const devices = {
  [CAM]: {
    device_key: newKey.publicKey.toText(),
    version: 2,
    revoked_keys: [{ device_key: oldKey.publicKey.toText(), revoked_from_ms: REVOKED_FROM }],
  },
};

async function recording(
  key: Ed25519SigningKey,
  issuedAt: number,
  identity: string,
  seq = 0,
  prev: string | null = null,
) {
  const e = new Encrypter();
  e.addRecipient(await identityToRecipient(identity));
  const { header, payload } = splitFile(await e.encrypt(utf8(`rec ${seq}`)));
  const h = Uint8Array.from(header);
  const p = Uint8Array.from(payload);
  const body = {
    site_id: SITE,
    camera_id: CAM,
    recording_id: `rec-${seq}`,
    kind: "segment",
    start_ms: issuedAt - 2_100,
    end_ms: issuedAt - 100,
    payload_sha256: toHex(sha256(p)),
    payload_size: p.length,
    header_sha256: toHex(sha256(h)),
    sequence: seq,
    prev_manifest_sha256: prev,
    issued_at_ms: issuedAt,
  };
  const signed = signStatement("camvault/v1/manifest", body as never, key);
  return { header: h, payload: p, manifest: JSON.parse(fromUtf8(signed.encoded)) as unknown, signed };
}

async function verdict(key: Ed25519SigningKey, issuedAt: number): Promise<string> {
  const identity = await generateIdentity();
  const r = await recording(key, issuedAt, identity);
  try {
    const v = await verifyRecording({
      manifest: r.manifest,
      header: r.header,
      payload: r.payload,
      cameraKey: cameraKeyOf(devices, CAM),
      siteId: SITE,
      cameraId: CAM,
      recordingId: "rec-0",
      identity,
    });
    expect(fromUtf8(v.plaintext)).toBe("rec 0");
    return "accepted";
  } catch (e) {
    expect(e).toBeInstanceOf(RecordingRefused);
    return (e as RecordingRefused).reason;
  }
}

describe("device key rotation and revocation in the portal", () => {
  test("config.json's revoked_keys are read: the rotated-out key is known with its time", () => {
    const k = cameraKeyOf(devices, CAM)!;
    expect(k.current.toText()).toBe(newKey.publicKey.toText());
    expect(k.revoked.get(oldKey.publicKey.toText())).toBe(REVOKED_FROM);
    expect(cameraKeyOf(devices, "cam-unknown")).toBeUndefined();
  });

  test("old key before revoked_from_ms verifies; at or after: device_revoked; new key verifies", async () => {
    expect(await verdict(oldKey, REVOKED_FROM - 1)).toBe("accepted");
    expect(await verdict(oldKey, REVOKED_FROM)).toBe("device_revoked");
    expect(await verdict(oldKey, REVOKED_FROM + 60_000)).toBe("device_revoked");
    expect(await verdict(newKey, REVOKED_FROM + 60_000)).toBe("accepted");
  });

  test("a key that was never the camera's is still manifest_invalid (control)", async () => {
    expect(await verdict(Ed25519SigningKey.generate(), REVOKED_FROM - 1)).toBe("manifest_invalid");
  });

  test("without revoked_keys (before this change) the old key is refused: the rotation gap this closes", async () => {
    const bare = { [CAM]: { device_key: newKey.publicKey.toText() } };
    const identity = await generateIdentity();
    const r = await recording(oldKey, REVOKED_FROM - 1, identity);
    expect(() => checkManifest(r.manifest, cameraKeyOf(bare, CAM)!, "rec-0")).toThrow(/reason: manifest_invalid$/);
    expect(() => checkManifest(r.manifest, cameraKeyOf(devices, CAM)!, "rec-0")).not.toThrow();
  });

  test("the chain across a rotation links; a stolen key's manifest after revocation is device-revoked", async () => {
    const id = await generateIdentity();
    const a = await recording(oldKey, REVOKED_FROM - 5_000, id, 0);
    const b = await recording(newKey, REVOKED_FROM + 5_000, id, 1, toHex(sha256(a.signed.encoded)));
    const keys = cameraKeyOf(devices, CAM)!;
    const ok = verifyChain([parseSigned(a.signed.encoded), parseSigned(b.signed.encoded)], keys, {
      siteId: SITE,
      cameraId: CAM,
    });
    expect(ok).toEqual([]);
    const stolen = await recording(oldKey, REVOKED_FROM + 6_000, id, 2, toHex(sha256(b.signed.encoded)));
    const bad = verifyChain([parseSigned(stolen.signed.encoded)], keys, { siteId: SITE, cameraId: CAM });
    expect(bad.map((p) => p.kind)).toContain("device-revoked");
  });

  test("a malformed revoked_keys entry is an error, not a silent pass", () => {
    expect(() =>
      DeviceKeys.fromConfig({ device_key: newKey.publicKey.toText(), revoked_keys: [{ device_key: 1 }] }),
    ).toThrow(/revoked_keys entry/);
  });
});
