// verifyRecording: the one check of a recording before anything of it is shown, played or
// exported, exactly as the customer CLI runs it (crypto/recording.py verify_recording via
// clients/customer/checks.py), with the same reason codes:
//
// 1. the manifest is a camvault manifest signed by the camera key the customer enrolled
//    (config.json devices[camera].device_key) or by one of its rotated-out or revoked keys
//    (devices[camera].revoked_keys) before that key's revoked_from_ms (device_revoked at or
//    after it: crypto/statements/devices.py), and names this site, camera and recording;
// 2. the header follows the age grammar with at most MAX_STANZAS stanzas;
// 3. the payload has the manifest's size and SHA-256;
// 4. the header opens for this device's identity (its MAC verifies under the file key), and
//    that file key opens the payload to its last chunk. A header whose hash is not the
//    manifest's is a re-wrap for a new device, accepted because of 4.
//
// Pure: bytes in, a verdict out; the plaintext is returned only when every check passed.

import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalJson, type Json } from "../../crypto/canonical";
import { decryptRecording, fileKeyFromHeader } from "../../crypto/age";
import { MAX_STANZAS, parseHeader } from "../../crypto/ageheader";
import { concat, equalBytes, fromHex, toHex } from "../../crypto/bytes";
import { Ed25519PublicKey } from "../../crypto/ed25519";
import { MANIFEST_TYPE, parseSigned, statementHash, verifyStatement } from "../../crypto/statements/index";
import type { JsonObject } from "../../crypto/statements/fields";
import { DeviceKeys } from "../../crypto/statements/devices";

export type RecordingProblem =
  | "manifest_invalid"
  | "manifest_wrong_recording"
  | "header_malformed"
  | "header_too_many_stanzas"
  | "header_no_stanza_for_key"
  | "header_mac_invalid"
  | "header_not_of_payload"
  | "payload_mismatch"
  | "camera_not_enrolled"
  | "device_revoked";

export class RecordingRefused extends Error {
  override name = "RecordingRefused";
  constructor(
    readonly reason: RecordingProblem,
    message: string,
  ) {
    super(`${message}; reason: ${reason}`);
  }
}

export interface Manifest {
  site_id: string;
  camera_id: string;
  recording_id: string;
  kind: string;
  start_ms: number;
  end_ms: number;
  payload_sha256: string;
  payload_size: number;
  header_sha256: string;
  sequence: number;
  prev_manifest_sha256: string | null;
  issued_at_ms: number;
}

export interface VerifiedRecording {
  manifest: Manifest;
  manifestHash: Uint8Array;
  /** The header is not the camera's own (a re-wrap for a new device), bound by the file key. */
  rewrapped: boolean;
  plaintext: Uint8Array;
}

export interface VerifyInput {
  /** The manifest JSON as the service serves it (a signed-statement envelope). */
  manifest: unknown;
  header: Uint8Array;
  payload: Uint8Array;
  /** The camera's keys from config.json (cameraKeyOf), a bare key ("ed25519:..."), or
   *  undefined if not enrolled. */
  cameraKey: DeviceKeys | string | undefined;
  siteId: string;
  cameraId: string;
  recordingId: string;
  identity: string;
}

/** The camera's keys from config.json's devices (its current device_key and its
 *  revoked_keys, as clients/customer/state.py camera_keys reads them), or undefined. */
export function cameraKeyOf(
  devices: Record<string, Record<string, unknown>>,
  cameraId: string,
): DeviceKeys | undefined {
  return DeviceKeys.fromConfig(devices[cameraId]);
}

/** A bare key text as DeviceKeys (no revoked keys). */
export function deviceKeys(keys: DeviceKeys | string): DeviceKeys {
  return typeof keys === "string" ? new DeviceKeys(Ed25519PublicKey.fromText(keys)) : keys;
}

/** A manifest JSON object (as listed) parsed and checked against the camera's keys: the body,
 *  or RecordingRefused(manifest_invalid | device_revoked). */
export function checkManifest(
  json: unknown,
  cameraKey: DeviceKeys | string,
  what: string,
): { manifest: Manifest; hash: Uint8Array } {
  let signed;
  let body: JsonObject;
  const keys = deviceKeys(cameraKey);
  try {
    signed = parseSigned(canonicalJson(json as Json));
    body = verifyStatement(signed, keys.keyFor(signed), MANIFEST_TYPE);
  } catch (e) {
    throw new RecordingRefused("manifest_invalid", `${what}: ${(e as Error).message}`);
  }
  const m = body as unknown as Manifest;
  const from = keys.revokedAt(signed.signer, m.issued_at_ms);
  if (from !== null) {
    throw new RecordingRefused(
      "device_revoked",
      `${what}: manifest signed at ${m.issued_at_ms} by a key of camera ${m.camera_id} the customer revoked from ${from} (a stolen camera's key?)`,
    );
  }
  return { manifest: m, hash: statementHash(signed) };
}

export async function verifyRecording(v: VerifyInput): Promise<VerifiedRecording> {
  const rid = v.recordingId;
  if (v.cameraKey === undefined) {
    throw new RecordingRefused(
      "camera_not_enrolled",
      `${v.cameraId} is not a camera this customer enrolled (no device key in config.json)`,
    );
  }
  const { manifest: m, hash } = checkManifest(v.manifest, v.cameraKey, `${rid}: manifest of camera ${v.cameraId}`);
  if (m.site_id !== v.siteId || m.camera_id !== v.cameraId || m.recording_id !== rid) {
    throw new RecordingRefused(
      "manifest_wrong_recording",
      `${rid}: the service served, for camera ${v.cameraId}, the manifest of ${m.site_id}/${m.camera_id}/${m.recording_id} (substituted)`,
    );
  }
  const where = `${m.recording_id} (camera ${v.cameraId})`;
  let parsed;
  try {
    parsed = parseHeader(v.header);
  } catch (e) {
    const msg = (e as Error).message;
    const reason = msg.includes("header_too_many_stanzas") ? "header_too_many_stanzas" : "header_malformed";
    throw new RecordingRefused(reason, `${where}: header: ${msg} (tampered)`);
  }
  if (parsed.header.length !== v.header.length) {
    throw new RecordingRefused("header_malformed", `${where}: header: trailing bytes after the MAC line (tampered)`);
  }
  if (parsed.stanzas.length > MAX_STANZAS) {
    throw new RecordingRefused("header_too_many_stanzas", `${where}: header: more than ${MAX_STANZAS} stanzas`);
  }
  if (v.payload.length !== m.payload_size || !equalBytes(sha256(v.payload), fromHex(m.payload_sha256))) {
    throw new RecordingRefused(
      "payload_mismatch",
      `${rid}: payload differs from the signed manifest (tampered or substituted): ${v.payload.length} bytes served, ${m.payload_size} signed by camera ${v.cameraId}`,
    );
  }
  const own = toHex(sha256(v.header)) === m.header_sha256;
  let fileKey: Uint8Array;
  try {
    fileKey = await fileKeyFromHeader(v.header, { identities: [v.identity] });
  } catch (e) {
    const msg = (e as Error).message;
    if (/no identity matched/i.test(msg)) {
      throw new RecordingRefused(
        "header_no_stanza_for_key",
        `${where}: the header served has no stanza for this device (another site's or recording's header, or one from before add-device re-wrapped it)`,
      );
    }
    throw new RecordingRefused("header_mac_invalid", `${where}: header: ${msg} (tampered)`);
  }
  let plaintext: Uint8Array;
  try {
    plaintext = await decryptRecording(concat(v.header, v.payload), { fileKey });
  } catch (e) {
    throw new RecordingRefused(
      "header_not_of_payload",
      `${where}: the header's file key does not open the payload the camera signed (a header of another recording?): ${(e as Error).message}`,
    );
  } finally {
    fileKey.fill(0);
  }
  return { manifest: m, manifestHash: hash, rewrapped: !own, plaintext };
}
