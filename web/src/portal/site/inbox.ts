// The customer's inbox as clients/customer/inbox.py reads it: smart alerts (age files to the
// customer's recipients only: decrypted here with the identity, never on the server), access
// notices (JSON text each custodian delivers for every release), consent requests and alarms.
// Thumbnails are not in the smart alert: they are in the camera's event record (a recording
// of kind `event`, encrypted like a segment, clients/camera/events.py), which is fetched with
// a signed GET of its standard age file (/export) and decrypted here too.

import { decryptRecording } from "../../crypto/age";
import { b64decodePadded } from "../../crypto/base64";
import { refusal, type SignedFetch } from "../api";

export const SMART_ALERT_TYPE = "camvault/v1/smart-alert";
export const EVENT_RECORD_TYPE = "camvault/v1/detection-event";
export const ACCESS_NOTICE_TYPE = "camvault/v1/access-notice";
const PAGE_LIMIT = 100;
const MAX_THUMBNAIL = 2 * 1024 * 1024;

export type InboxKind = "smart_alert" | "access_notice" | "consent_request" | "alarm";

export interface InboxItem {
  id: number;
  kind: InboxKind;
  source: string;
  source_ref: string;
  created_ms: number;
  text: string | null;
  payload: string | null;
}

export interface Label {
  label: string;
  confidence: number;
}

export interface SmartAlert {
  alert_id: string;
  camera_id: string;
  segment_recording_id: string;
  event_recording_id: string;
  start_ms: number;
  labels: Label[];
}

export interface AccessNotice {
  custodian_id: string;
  site_id: string;
  log_index: number;
  time_ms: number;
  release_id: string;
  operator_id: string;
  purpose: string;
  justification: Record<string, unknown>;
  cameras: string[];
  from_ms: number;
  to_ms: number;
  recordings: unknown[];
}

export class InboxFormatError extends Error {
  override name = "InboxFormatError";
}

/** Every item after `after`, oldest first (following next_cursor). */
export async function fetchInbox(api: SignedFetch, siteId: string, after = 0): Promise<InboxItem[]> {
  const out: InboxItem[] = [];
  let cursor: string | null = String(after);
  while (cursor !== null) {
    const page: { items: InboxItem[]; next_cursor: string | null } = await api.get(
      `/v1/sites/${encodeURIComponent(siteId)}/inbox`,
      { after: cursor, limit: String(PAGE_LIMIT) },
    );
    out.push(...page.items);
    cursor = page.items.length === 0 ? null : page.next_cursor;
  }
  return out;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new InboxFormatError(`${what}: not an object`);
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== "string") throw new InboxFormatError(`${what}: ${k} is not a string`);
  return v;
}

function int(o: Record<string, unknown>, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new InboxFormatError(`${what}: ${k} is not an integer`);
  return v;
}

function strings(o: Record<string, unknown>, k: string, what: string): string[] {
  const v = o[k];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    throw new InboxFormatError(`${what}: ${k} is not a list of strings`);
  return v as string[];
}

export function parseLabels(v: unknown, what: string): Label[] {
  if (!Array.isArray(v)) throw new InboxFormatError(`${what}: labels is not a list`);
  return v.map((x, i) => {
    const o = obj(x, `${what}: labels[${i}]`);
    const conf = o["confidence"];
    if (typeof conf !== "number" || !Number.isFinite(conf))
      throw new InboxFormatError(`${what}: labels[${i}].confidence is not a number`);
    return { label: str(o, "label", `${what}: labels[${i}]`), confidence: conf };
  });
}

/** The smart alert's decrypted JSON, checked for shape. */
export function parseSmartAlert(plain: Uint8Array): SmartAlert {
  const what = "smart alert";
  let o: Record<string, unknown>;
  try {
    o = obj(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain)), what);
  } catch (e) {
    if (e instanceof InboxFormatError) throw e;
    throw new InboxFormatError(`${what}: not JSON`);
  }
  if (o["type"] !== SMART_ALERT_TYPE) throw new InboxFormatError(`${what}: type is not ${SMART_ALERT_TYPE}`);
  return {
    alert_id: str(o, "alert_id", what),
    camera_id: str(o, "camera_id", what),
    segment_recording_id: str(o, "segment_recording_id", what),
    event_recording_id: str(o, "event_recording_id", what),
    start_ms: int(o, "start_ms", what),
    labels: parseLabels(o["labels"], what),
  };
}

/** Decrypt a smart alert item with the customer's identity (in this page only). */
export async function openSmartAlert(item: InboxItem, identity: string): Promise<SmartAlert> {
  if (item.kind !== "smart_alert" || item.payload === null) throw new InboxFormatError("not a smart alert");
  let file: Uint8Array;
  try {
    file = b64decodePadded(item.payload);
  } catch {
    throw new InboxFormatError("smart alert: the payload is not base64");
  }
  let plain: Uint8Array;
  try {
    plain = await decryptRecording(file, { identities: [identity] });
  } catch (e) {
    throw new InboxFormatError(`smart alert: cannot decrypt (${(e as Error).message})`);
  }
  return parseSmartAlert(plain);
}

export function parseNotice(text: string | null): AccessNotice {
  const what = "access notice";
  let o: Record<string, unknown>;
  try {
    o = obj(JSON.parse(text ?? ""), what);
  } catch (e) {
    if (e instanceof InboxFormatError) throw e;
    throw new InboxFormatError(`${what}: not JSON`);
  }
  if (o["type"] !== ACCESS_NOTICE_TYPE) throw new InboxFormatError(`${what}: type is not ${ACCESS_NOTICE_TYPE}`);
  const just = o["justification"];
  return {
    custodian_id: str(o, "custodian_id", what),
    site_id: str(o, "site_id", what),
    log_index: int(o, "log_index", what),
    time_ms: int(o, "time_ms", what),
    release_id: str(o, "release_id", what),
    operator_id: str(o, "operator_id", what),
    purpose: str(o, "purpose", what),
    justification: just !== null && typeof just === "object" ? (just as Record<string, unknown>) : {},
    cameras: strings(o, "cameras", what),
    from_ms: int(o, "from_ms", what),
    to_ms: int(o, "to_ms", what),
    recordings: Array.isArray(o["recordings"]) ? (o["recordings"] as unknown[]) : [],
  };
}

/** Why the access was allowed: the alarm's event or the consent, as the CLI summarises it. */
export function noticeWhy(n: AccessNotice): string {
  const j = n.justification;
  const ev = j["event_id"];
  const consent = j["consent_id"];
  if (typeof consent === "string") return `consent ${consent}`;
  if (typeof ev === "string") return `alarm event ${ev}`;
  return "no justification given";
}

/** The JPEG of an event record, if the camera put one in it; null when it has none. */
export function thumbnailOfEventRecord(plain: Uint8Array, cameraId: string): Uint8Array | null {
  const what = "event record";
  let o: Record<string, unknown>;
  try {
    o = obj(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain)), what);
  } catch (e) {
    if (e instanceof InboxFormatError) throw e;
    throw new InboxFormatError(`${what}: not JSON`);
  }
  if (o["type"] !== EVENT_RECORD_TYPE) throw new InboxFormatError(`${what}: type is not ${EVENT_RECORD_TYPE}`);
  if (o["camera_id"] !== cameraId) throw new InboxFormatError(`${what}: from another camera`);
  const t = o["thumbnail_jpeg"];
  if (t === null || t === undefined) return null;
  if (typeof t !== "string") throw new InboxFormatError(`${what}: thumbnail_jpeg is not a string`);
  const jpeg = b64decodePadded(t);
  if (jpeg.length > MAX_THUMBNAIL) throw new InboxFormatError(`${what}: thumbnail larger than ${MAX_THUMBNAIL} bytes`);
  if (jpeg.length < 3 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[2] !== 0xff)
    throw new InboxFormatError(`${what}: the thumbnail is not a JPEG`);
  return jpeg;
}

/** The thumbnail of an alert: its event record fetched (signed GET of the age file) and
 *  decrypted here. */
export async function alertThumbnail(
  api: SignedFetch,
  siteId: string,
  alert: SmartAlert,
  identity: string,
): Promise<Uint8Array | null> {
  const path =
    `/v1/sites/${encodeURIComponent(siteId)}/cameras/${encodeURIComponent(alert.camera_id)}` +
    `/recordings/${encodeURIComponent(alert.event_recording_id)}/export`;
  const resp = await api.raw("GET", path);
  if (!resp.ok) throw await refusal(resp);
  const file = new Uint8Array(await resp.arrayBuffer());
  const plain = await decryptRecording(file, { identities: [identity] });
  return thumbnailOfEventRecord(plain, alert.camera_id);
}
