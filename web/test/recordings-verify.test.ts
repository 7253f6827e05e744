// The Recordings page's verification (src/portal/recordings/verify.ts), attacked the way the
// storage service could attack it: every refusal with the reason code crypto/recording.py
// gives, nothing of the plaintext returned unless every check passed. Event-record labels
// (data.ts eventLabels) mirror clients/customer/recordings.py _event_labels.

import { Encrypter } from "age-encryption";
import { describe, expect, test } from "vitest";
import { generateIdentity, identityToRecipient } from "../src/crypto/age";
import { splitFile } from "../src/crypto/ageheader";
import { concat, fromUtf8, toHex, utf8 } from "../src/crypto/bytes";
import { Ed25519SigningKey } from "../src/crypto/ed25519";
import { signStatement } from "../src/crypto/statements/index";
import { sha256 } from "@noble/hashes/sha2.js";
import { RecordingRefused, verifyRecording, type VerifyInput } from "../src/portal/recordings/verify";
import { eventLabels } from "../src/portal/recordings/data";
import { Decrypter } from "age-encryption";
import { x25519 } from "@noble/curves/ed25519.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { parseAgeRecipient } from "../src/crypto/bech32";
import { b64encode } from "../src/crypto/base64";

/** A header wrapping `fileKey` for `recipient` (C2SP age X25519 stanza and header MAC): what
 *  `customer add-device` writes when it re-wraps a recording for a new device. */
function rewrap(fileKey: Uint8Array, recipient: string): Uint8Array {
  const pub = parseAgeRecipient(recipient);
  const eph = x25519.utils.randomSecretKey();
  const share = x25519.getPublicKey(eph);
  const shared = x25519.getSharedSecret(eph, pub);
  const wrapKey = hkdf(sha256, shared, concat(share, pub), utf8("age-encryption.org/v1/X25519"), 32);
  const body = chacha20poly1305(wrapKey, new Uint8Array(12)).encrypt(fileKey);
  const lines = (b: string): string => (b.match(/.{1,64}/g) ?? [""]).join("\n") + (b.length % 64 === 0 ? "\n" : "");
  const upToMac = `age-encryption.org/v1\n-> X25519 ${b64encode(share)}\n${lines(b64encode(body))}\n---`;
  const macKey = hkdf(sha256, fileKey, new Uint8Array(0), utf8("header"), 32);
  const mac = hmac(sha256, macKey, utf8(upToMac));
  return utf8(`${upToMac} ${b64encode(mac)}\n`);
}

const SITE = "home-1";
const CAM = "cam-1";
const camKey = Ed25519SigningKey.generate();

async function ageFile(plaintext: Uint8Array, identity: string): Promise<{ header: Uint8Array; payload: Uint8Array }> {
  const e = new Encrypter();
  e.addRecipient(await identityToRecipient(identity));
  const file = await e.encrypt(plaintext);
  const { header, payload } = splitFile(file);
  return { header: Uint8Array.from(header), payload: Uint8Array.from(payload) };
}

function manifest(
  rid: string,
  header: Uint8Array,
  payload: Uint8Array,
  over: Record<string, unknown> = {},
  key = camKey,
): unknown {
  const body = {
    site_id: SITE,
    camera_id: CAM,
    recording_id: rid,
    kind: "segment",
    start_ms: 1_790_000_000_000,
    end_ms: 1_790_000_002_000,
    payload_sha256: toHex(sha256(payload)),
    payload_size: payload.length,
    header_sha256: toHex(sha256(header)),
    sequence: 0,
    prev_manifest_sha256: null,
    issued_at_ms: 1_790_000_002_100,
    ...over,
  };
  return JSON.parse(fromUtf8(signStatement("camvault/v1/manifest", body as never, key).encoded));
}

async function setup(): Promise<{ input: VerifyInput; plaintext: Uint8Array; identity: string }> {
  const identity = await generateIdentity();
  const plaintext = utf8("G".repeat(70_000)); // more than one 64 KiB STREAM chunk
  const { header, payload } = await ageFile(plaintext, identity);
  return {
    identity,
    plaintext,
    input: {
      manifest: manifest("rec-1", header, payload),
      header,
      payload,
      cameraKey: camKey.publicKey.toText(),
      siteId: SITE,
      cameraId: CAM,
      recordingId: "rec-1",
      identity,
    },
  };
}

async function reason(input: VerifyInput): Promise<string> {
  try {
    await verifyRecording(input);
  } catch (e) {
    expect(e).toBeInstanceOf(RecordingRefused);
    expect((e as Error).message).toMatch(new RegExp(`; reason: ${(e as RecordingRefused).reason}$`));
    return (e as RecordingRefused).reason;
  }
  return "accepted";
}

describe("verifyRecording", () => {
  test("the recording as the camera made it: verified, plaintext returned", async () => {
    const { input, plaintext } = await setup();
    const v = await verifyRecording(input);
    expect(fromUtf8(v.plaintext)).toBe(fromUtf8(plaintext));
    expect(v.rewrapped).toBe(false);
    expect(v.manifest.recording_id).toBe("rec-1");
    expect(v.manifestHash.length).toBe(32);
  });

  test("a payload altered, truncated or extended: payload_mismatch", async () => {
    const { input } = await setup();
    const flipped = input.payload.slice();
    flipped[40_000]! ^= 1;
    expect(await reason({ ...input, payload: flipped })).toBe("payload_mismatch");
    expect(await reason({ ...input, payload: input.payload.subarray(0, input.payload.length - 1) })).toBe(
      "payload_mismatch",
    );
    expect(await reason({ ...input, payload: concat(input.payload, new Uint8Array(1)) })).toBe("payload_mismatch");
  });

  test("a manifest not signed by the enrolled camera key, or altered: manifest_invalid", async () => {
    const { input } = await setup();
    const other = Ed25519SigningKey.generate();
    expect(await reason({ ...input, manifest: manifest("rec-1", input.header, input.payload, {}, other) })).toBe(
      "manifest_invalid",
    );
    const altered = structuredClone(input.manifest) as { body: { end_ms: number } };
    altered.body.end_ms += 1000;
    expect(await reason({ ...input, manifest: altered })).toBe("manifest_invalid");
    expect(await reason({ ...input, manifest: { hello: "world" } })).toBe("manifest_invalid");
    expect(await reason({ ...input, manifest: null })).toBe("manifest_invalid");
  });

  test("the manifest of another recording, camera or site: manifest_wrong_recording", async () => {
    const { input } = await setup();
    for (const over of [{ recording_id: "rec-2" }, { camera_id: "cam-2" }, { site_id: "home-2" }]) {
      const m = manifest("rec-1", input.header, input.payload, over);
      expect(await reason({ ...input, manifest: m })).toBe("manifest_wrong_recording");
    }
  });

  test("a camera this customer never enrolled: camera_not_enrolled", async () => {
    const { input } = await setup();
    expect(await reason({ ...input, cameraKey: undefined })).toBe("camera_not_enrolled");
  });

  test("headers: malformed, over the stanza cap, for another key, MAC altered, of another recording", async () => {
    const { input, identity } = await setup();
    const withManifest = (header: Uint8Array): VerifyInput => ({
      ...input,
      header,
      manifest: manifest("rec-1", header, input.payload),
    });
    expect(await reason(withManifest(utf8("not an age header\n")))).toBe("header_malformed");
    const text = fromUtf8(input.header);
    const nl = text.indexOf("\n") + 1;
    const many = text.slice(0, nl) + "-> junk\n\n".repeat(129) + text.slice(nl);
    expect(await reason(withManifest(utf8(many)))).toBe("header_too_many_stanzas");
    // a header for somebody else (another site's identity)
    const stranger = await ageFile(utf8("x"), await generateIdentity());
    expect(await reason(withManifest(stranger.header))).toBe("header_no_stanza_for_key");
    // this device's stanza, the MAC of another header
    const mine = await ageFile(utf8("y"), identity);
    const macOf = (h: Uint8Array): string => fromUtf8(h).split("\n--- ")[1]!;
    const forged = utf8(text.replace(macOf(input.header), macOf(mine.header)));
    expect(await reason(withManifest(forged))).toBe("header_mac_invalid");
    // another recording's header (opens for this device, but not this payload)
    expect(await reason(withManifest(mine.header))).toBe("header_not_of_payload");
    // ... even served with the camera's manifest (the header hash differs): still refused
    expect(await reason({ ...input, header: mine.header })).toBe("header_not_of_payload");
  });
});

test("a header re-wrapped for this device (not the camera's) is accepted, flagged; not for another", async () => {
  const { input, identity, plaintext } = await setup();
  const d = new Decrypter();
  d.addIdentity(identity);
  const fileKey = await d.decryptHeader(input.header);
  const newDevice = await generateIdentity();
  const header = rewrap(fileKey, await identityToRecipient(newDevice));
  const v = await verifyRecording({ ...input, header, identity: newDevice });
  expect(v.rewrapped).toBe(true);
  expect(fromUtf8(v.plaintext)).toBe(fromUtf8(plaintext));
  // the same re-wrap for a key that is not this device's
  expect(await reason({ ...input, header })).toBe("header_no_stanza_for_key");
  // a re-wrap of another file key (the service's own): its MAC holds, the payload does not open
  const own = await generateIdentity();
  const fake = rewrap(new Uint8Array(16).fill(7), await identityToRecipient(own));
  expect(await reason({ ...input, header: fake, identity: own })).toBe("header_not_of_payload");
});

describe("eventLabels", () => {
  test("labels and the recording an event record describes", () => {
    const rec = {
      type: "camvault/v1/detection-event",
      segment_recording_id: "segment-1",
      labels: [{ label: "person", confidence: 0.91 }, { nolabel: 1 }, "junk"],
    };
    expect(eventLabels(utf8(JSON.stringify(rec)))).toEqual({
      labels: [{ label: "person", confidence: 0.91 }],
      ref: "segment-1",
    });
  });
  test("anything else: no labels, no reference", () => {
    for (const bad of ["", "[]", "null", '{"labels": "person"}', "\xff\xfe"]) {
      expect(eventLabels(utf8(bad))).toEqual({ labels: [], ref: null });
    }
    expect(eventLabels(new Uint8Array([0xff, 0xfe]))).toEqual({ labels: [], ref: null });
  });
});
