// What the Recordings page reads from the storage service, checked before it is believed:
// a camera's listing against its signed manifest chain (clients/customer/chain.py), each
// recording against its manifest before anything of it is shown (./verify.ts), event
// records' labels decrypted here (clients/customer/recordings.py _event_labels). The
// service hands out ciphertext only: the header in the recording's detail, the payload by a
// presigned GET to the object store, the age file by the export route.

import { ApiRefusal, refusal, type Recording } from "../api";
import { b64decodePadded } from "../../crypto/base64";
import { splitFile } from "../../crypto/ageheader";
import { parseSigned, statementHash, verifyStatement } from "../../crypto/statements/envelope";
import { canonicalJson, type Json } from "../../crypto/canonical";
import { verifyChain } from "../../crypto/statements/chain";
import { Ed25519PublicKey } from "../../crypto/ed25519";
import { toHex } from "../../crypto/bytes";
import type { PortalContext } from "../pages/types";
import {
  cameraKeyOf,
  checkManifest,
  deviceKeys,
  RecordingRefused,
  verifyRecording,
  type VerifiedRecording,
} from "./verify";
import type { DeviceKeys } from "../../crypto/statements/devices";

/** A listed recording with the fields the page needs (the listing carries the manifest). */
export interface Listed extends Recording {
  manifest: unknown;
  payload_sha256: string;
  manifest_sha256: string;
}

export interface Detail extends Listed {
  header: string | null;
  download_url: string | null;
}

/** The kinds whose plaintext is an MPEG-TS segment (clients/common.py EXTENSIONS). */
export const VIDEO_KINDS = new Set(["segment", "live", "clip"]);

export interface Label {
  label: string;
  confidence?: number;
}

/** Labels of a decrypted event record and the recording it describes (if it says). */
export function eventLabels(plain: Uint8Array): { labels: Label[]; ref: string | null } {
  let obj: unknown;
  try {
    obj = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
  } catch {
    return { labels: [], ref: null };
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return { labels: [], ref: null };
  const o = obj as Record<string, unknown>;
  const raw = Array.isArray(o["labels"]) ? (o["labels"] as unknown[]) : [];
  const labels = raw.filter(
    (x): x is Label => x !== null && typeof x === "object" && typeof (x as Label).label === "string",
  );
  const ref = o["segment_recording_id"];
  return { labels, ref: typeof ref === "string" ? ref : null };
}

/** The listed fields that must equal the signed manifest's (clients/customer/chain.py FIELDS). */
const FIELDS = [
  "camera_id",
  "recording_id",
  "kind",
  "start_ms",
  "end_ms",
  "sequence",
  "payload_size",
  "payload_sha256",
  "manifest_sha256",
] as const;

/** What a head may be late by beyond the interval its camera promises (the CLI's
 *  --head-margin default, clients/customer/chain.py DEFAULT_HEAD_MARGIN_S). */
export const HEAD_MARGIN_S = 60;

export interface ChainHead {
  site_id: string;
  camera_id: string;
  sequence: number | null;
  manifest_sha256: string | null;
  issued_at_ms: number;
  interval_s: number;
}

/** The camera's signed chain head as served (docs/CHAIN_HEADS.md), checked against the
 *  listing (tombstones included: sequence -> manifest hash) and the clock, as
 *  clients/customer/chain.py check_head does (without the newest head this device saw before:
 *  the portal keeps none). Problems as "<code>: <detail>". */
export function checkHead(
  answer: unknown,
  cameraKey: DeviceKeys | string,
  siteId: string,
  cameraId: string,
  listed: Map<number, string>,
  nowMs: number,
): { head: ChainHead | null; problems: string[] } {
  if (answer === null) return { head: null, problems: [] }; // no head posted yet: a note, not a finding
  let head: ChainHead;
  try {
    const a = answer as { head?: unknown };
    if (a === undefined || typeof a !== "object" || a.head === undefined) throw new Error("the answer has no head");
    const signed = parseSigned(canonicalJson(a.head as Json));
    const keys = deviceKeys(cameraKey);
    head = verifyStatement(signed, keys.keyFor(signed), "camvault/v1/chain-head") as unknown as ChainHead;
    const from = keys.revokedAt(signed.signer, head.issued_at_ms);
    if (from !== null) throw new Error(`signed at ${head.issued_at_ms} by a key revoked from ${from} (device_revoked)`);
    if (head.site_id !== siteId || head.camera_id !== cameraId) {
      throw new Error(`the head is for ${head.site_id}/${head.camera_id}`);
    }
  } catch (e) {
    return {
      head: null,
      problems: [`chain_head_invalid: the chain head served for ${cameraId}: ${(e as Error).message}`],
    };
  }
  const problems: string[] = [];
  if (head.sequence !== null) {
    const top = listed.size === 0 ? null : Math.max(...listed.keys());
    const at = listed.get(head.sequence);
    if (at === undefined) {
      const shown = top === null ? "nothing" : `up to sequence ${top}`;
      problems.push(
        `recordings_hidden: ${cameraId} signed a chain head at sequence ${head.sequence} but the service lists ${shown}: sequence ${top === null ? 0 : top + 1}..${head.sequence} hidden`,
      );
    } else if (at !== head.manifest_sha256) {
      problems.push(
        `chain_head_mismatch: ${cameraId}'s chain head names another manifest than the one listed at sequence ${head.sequence}`,
      );
    }
  }
  const deadline = head.issued_at_ms + (head.interval_s + HEAD_MARGIN_S) * 1000;
  if (nowMs > deadline) {
    problems.push(
      `camera_silent_or_hidden: ${cameraId}'s newest chain head was signed ${Math.round((nowMs - head.issued_at_ms) / 1000)} s ago (it promises one every ${head.interval_s} s, margin ${HEAD_MARGIN_S} s): the camera is silent or its newer heads and recordings are hidden`,
    );
  }
  return { head, problems };
}

export interface CameraListing {
  /** Committed recordings, oldest first, with the times, kind and sizes their manifests sign
   *  (the listing's own values only where a manifest does not verify). */
  items: Listed[];
  /** Everything wrong with the listing (chain gaps, relabelled fields, reordering...). */
  problems: string[];
  deleted: number;
  /** The camera's signed chain head, when one was served and verified. */
  head: ChainHead | null;
}

/** List a camera (tombstones included) and check the listing against the signed chain. */
export async function readCamera(ctx: PortalContext, cameraId: string): Promise<CameraListing> {
  const key = cameraKeyOf(ctx.keys.config.devices, cameraId);
  // the head first, then the listing (a head signed in between would name a recording the
  // listing read before it could not show: a false recordings_hidden)
  const headPath = `/v1/sites/${encodeURIComponent(ctx.keys.siteId)}/cameras/${encodeURIComponent(cameraId)}/chain-head`;
  let headAnswer: unknown = null;
  try {
    headAnswer = await ctx.api.get<unknown>(headPath);
  } catch (e) {
    if (!(e instanceof ApiRefusal && e.status === 404 && e.code === "chain_head_not_found")) throw e;
  }
  const all: Listed[] = [];
  let cursor: string | null = null;
  do {
    const params: Record<string, string> = { camera_id: cameraId, include_deleted: "true", limit: "100" };
    if (cursor !== null) params["cursor"] = cursor;
    const page: { items: Listed[]; next_cursor: string | null } = await ctx.api.get(
      `/v1/sites/${encodeURIComponent(ctx.keys.siteId)}/recordings`,
      params,
    );
    all.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor !== null);
  const problems: string[] = [];
  let head: ChainHead | null = null;
  if (key === undefined) {
    problems.push(`${cameraId} has no enrolled device key in config.json: nothing of it can be verified`);
  } else {
    const signed = [];
    let previous: { rid: string; start: number } | null = null;
    for (const item of all) {
      let m;
      try {
        signed.push({ s: parseSigned(canonicalJson(item.manifest as Json)), seq: item.sequence });
        m = checkManifest(item.manifest, key, item.recording_id);
      } catch (e) {
        problems.push(`not-a-manifest: ${item.recording_id}: ${(e as Error).message}`);
        continue;
      }
      const want: Record<string, unknown> = { ...m.manifest, manifest_sha256: toHex(m.hash) };
      const diff = FIELDS.filter((f) => item[f] !== want[f]).map(
        (f) => `${f} ${JSON.stringify(item[f])} (signed ${JSON.stringify(want[f])})`,
      );
      if (diff.length > 0) problems.push(`relabelled: ${m.manifest.recording_id}: the listing says ${diff.join(", ")}`);
      if (previous !== null && m.manifest.start_ms > previous.start) {
        problems.push(
          `reordered: ${m.manifest.recording_id} is listed after ${previous.rid} but starts later (the service lists newest first)`,
        );
      }
      previous = { rid: m.manifest.recording_id, start: m.manifest.start_ms };
      // from here on the camera's word, not the service's: times, kind, sizes as signed
      Object.assign(item, {
        kind: m.manifest.kind,
        start_ms: m.manifest.start_ms,
        end_ms: m.manifest.end_ms,
        sequence: m.manifest.sequence,
        payload_size: m.manifest.payload_size,
        payload_sha256: m.manifest.payload_sha256,
      });
    }
    const hashes = new Map<number, string>();
    for (const x of signed) {
      const seq = x.s.unverifiedBody["sequence"];
      if (typeof seq === "number" && !hashes.has(seq)) hashes.set(seq, toHex(statementHash(x.s)));
    }
    const checked = checkHead(headAnswer, key, ctx.keys.siteId, cameraId, hashes, Date.now());
    head = checked.head;
    problems.push(...checked.problems);
    signed.sort((a, b) => a.seq - b.seq);
    for (const p of verifyChain(
      signed.map((x) => x.s),
      key,
      { siteId: ctx.keys.siteId, cameraId },
    )) {
      problems.push(`${p.kind}: ${p.detail}`);
    }
  }
  const items = all
    .filter((i) => i.status === "committed")
    .sort((a, b) => a.start_ms - b.start_ms || a.sequence - b.sequence);
  return { items, problems, deleted: all.length - items.length, head };
}

function recordingPath(ctx: PortalContext, cameraId: string, recordingId: string): string {
  return `/v1/sites/${encodeURIComponent(ctx.keys.siteId)}/cameras/${encodeURIComponent(cameraId)}/recordings/${encodeURIComponent(recordingId)}`;
}

export type Progress = (done: number, total: number) => void;

/** Read a response body, reporting progress against Content-Length (or `expected`). */
export async function readBody(resp: Response, progress?: Progress, expected = 0): Promise<Uint8Array> {
  const total = Number(resp.headers.get("Content-Length")) || expected;
  if (resp.body === null) return new Uint8Array(await resp.arrayBuffer());
  const reader = resp.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
    progress?.(n, Math.max(total, n));
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Fetch one recording (detail, then its payload by presigned GET) and verify it; the
 *  plaintext comes back only if every check passed (RecordingRefused otherwise). */
export async function fetchVerified(ctx: PortalContext, item: Listed, progress?: Progress): Promise<VerifiedRecording> {
  const detail = await ctx.api.get<Detail>(recordingPath(ctx, item.camera_id, item.recording_id));
  if (detail.header === null || detail.download_url === null) {
    throw new ApiRefusal(410, "recording_deleted", `${item.recording_id} is deleted`);
  }
  let header: Uint8Array;
  try {
    header = b64decodePadded(detail.header);
  } catch {
    throw new RecordingRefused("header_malformed", `${item.recording_id}: the header served is not base64`);
  }
  const resp = await fetch(detail.download_url, {
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
  });
  if (!resp.ok) throw new ApiRefusal(resp.status, "download_failed", `the object store answered HTTP ${resp.status}`);
  const payload = await readBody(resp, progress, item.payload_size);
  return verifyRecording({
    manifest: detail.manifest,
    header,
    payload,
    cameraKey: cameraKeyOf(ctx.keys.config.devices, item.camera_id),
    siteId: ctx.keys.siteId,
    cameraId: item.camera_id,
    recordingId: item.recording_id,
    identity: ctx.keys.identity,
  });
}

/** The standard age file (header || payload, exactly the stored bytes) by the export route,
 *  checked against the listed manifest like a download before it is handed out. */
export async function exportAgeFile(ctx: PortalContext, item: Listed, progress?: Progress): Promise<Uint8Array> {
  const resp = await ctx.api.raw("GET", recordingPath(ctx, item.camera_id, item.recording_id) + "/export");
  if (!resp.ok) throw await refusal(resp);
  const file = await readBody(resp, progress, item.payload_size);
  let parts;
  try {
    parts = splitFile(file);
  } catch (e) {
    throw new RecordingRefused(
      "header_malformed",
      `${item.recording_id}: the exported file has no valid age header: ${(e as Error).message}`,
    );
  }
  const v = await verifyRecording({
    manifest: item.manifest,
    header: parts.header,
    payload: parts.payload,
    cameraKey: cameraKeyOf(ctx.keys.config.devices, item.camera_id),
    siteId: ctx.keys.siteId,
    cameraId: item.camera_id,
    recordingId: item.recording_id,
    identity: ctx.keys.identity,
  });
  v.plaintext.fill(0);
  return file;
}

/** Offer bytes as a download (a Blob URL and <a download>; nothing leaves the browser). */
export function saveFile(bytes: Uint8Array, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
