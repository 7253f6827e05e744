// What the console does with the storage service and the custodians (mirrors
// clients/operator/console.py release_batch / release_alarm / release_consent, live.py live):
// headers from the storage's justified route, t releases for the whole batch under one fresh
// session key, file keys rebuilt, payloads fetched from their presigned URLs and decrypted
// here. Nothing decrypted and no key is ever sent anywhere.

import { decryptRecording } from "../crypto/age";
import { concat } from "../crypto/bytes";
import type { Json } from "../crypto/canonical";
import type { RecordingKind, RecordingMetadata } from "../crypto/metadata";
import type { Ed25519SigningKey } from "../crypto/ed25519";
import type { WitnessPolicy } from "../crypto/cosignature";
import type { CustodianEndpoint } from "../portal/keyfile";
import {
  gatherReleases,
  reasonOf,
  recoverFileKey,
  SessionKey,
  thresholdOf,
  ThresholdNotMet,
  type CustodianOutcome,
  type Purpose,
  type ReleaseRecording,
} from "./release";
import { fromUtf8 } from "../crypto/bytes";
import { signStatement } from "../crypto/statements/index";
import { SignedFetch } from "../portal/api";
import { headerBytes, type Alarm, type ArcRecording, type OperatorStorage } from "./storage";
import { postReceipts, receiptOf } from "./receipts";

export interface Operator {
  storage: OperatorStorage;
  operatorId: string;
  key: Ed25519SigningKey;
  custodians: CustodianEndpoint[];
  /** The site's witnesses (config.json): a receipt without their quorum is refused. */
  witnesses: WitnessPolicy | null;
}

export interface Released {
  item: ArcRecording;
  /** The decrypted payload (in memory only), or null with the reason it was not released. */
  plain: Uint8Array | null;
  refused: string | null;
  decryptedMs: number;
}

export interface BatchResult {
  outcomes: CustodianOutcome[];
  items: Released[];
  /** When t custodians had answered. */
  releasedMs: number;
  /** Headers held, for asking the custodians again without the storage (defence in depth shown). */
  held: ReleaseRecording[];
  /** Settles (never rejects) once every custodian answered (or LATE_ANSWERS_MS passed) and
   *  the receipts were posted to the site's inbox. */
  receipts: Promise<AfterRelease>;
}

/** What is known once every custodian answered: each one's outcome, and the CLI's warnings
 *  (a custodian whose shares were not used, receipts not delivered). */
export interface AfterRelease {
  outcomes: CustodianOutcome[];
  warnings: Warning[];
  /** The report reached the inbox (false: nothing to post, or it failed: see warnings). */
  posted: boolean;
}

/** How long, once t custodians released, the others still get to answer (console.py). */
export const LATE_ANSWERS_MS = 10_000;

/** One of the CLI's `warning:` lines (custodian null: about the receipts' delivery). */
export interface Warning {
  custodian: string | null;
  reason: string;
  text: string;
}

/** The CLI's `warning: custodian <id>: <reason>` lines: every custodian whose shares were not used. */
export function custodianWarnings(outcomes: readonly CustodianOutcome[]): Warning[] {
  return [...outcomes]
    .filter((o) => !(o.kind === "released" && o.sealed.size > 0))
    .sort((a, b) => a.custodian.localeCompare(b.custodian))
    .map((o) => {
      const reason = reasonOf(o);
      const why = o.kind === "unwitnessed" || o.kind === "refused" ? ` (${o.message})` : "";
      return { custodian: o.custodian, reason, text: `custodian ${o.custodian}: ${reason}${why}` };
    });
}

/** Wait for the late answers (bounded), post the receipts, say what went wrong. */
async function afterRelease(
  op: Operator,
  siteId: string,
  session: SessionKey,
  early: readonly CustodianOutcome[],
  all: Promise<CustodianOutcome[]>,
): Promise<AfterRelease> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), LATE_ANSWERS_MS)));
  const got = await Promise.race([all, late]);
  clearTimeout(timer);
  const outcomes: CustodianOutcome[] = got ?? [...early];
  if (got === null)
    for (const c of op.custodians)
      if (!outcomes.some((o) => o.custodian === c.custodian_id))
        outcomes.push({
          custodian: c.custodian_id,
          kind: "unavailable",
          message: `no answer within ${LATE_ANSWERS_MS / 1000} s after the threshold was met`,
        });
  const warnings = custodianWarnings(outcomes);
  const failed = await postReceipts(op.storage, siteId, op.operatorId, session.publicKey, outcomes);
  if (failed !== null) warnings.push({ custodian: null, reason: "receipts_not_delivered", text: failed });
  return { outcomes, warnings, posted: failed === null && outcomes.some((o) => receiptOf(o) !== null) };
}

export function metadataOf(siteId: string, item: ArcRecording): RecordingMetadata {
  return {
    site_id: siteId,
    camera_id: item.camera_id,
    recording_id: item.recording_id,
    kind: item.kind as RecordingKind,
    start_ms: item.start_ms,
    end_ms: item.end_ms,
  };
}

async function download(url: string): Promise<Uint8Array> {
  const resp = await fetch(url, { credentials: "omit", cache: "no-store" });
  if (!resp.ok) throw new Error(`payload download: HTTP ${resp.status}`);
  return new Uint8Array(await resp.arrayBuffer());
}

/** Ask t custodians for held headers directly (no storage involved); used after the access period. */
export async function askCustodians(
  op: Operator,
  held: readonly ReleaseRecording[],
  purpose: Purpose,
  justification: Json | null,
): Promise<CustodianOutcome[]> {
  const session = SessionKey.generate();
  const threshold = held.length > 0 ? thresholdOf((held[0] as ReleaseRecording).header) : 2;
  const siteId = held[0]?.metadata.site_id;
  let outcomes: CustodianOutcome[];
  try {
    outcomes = await (
      await gatherReleases(op.custodians, threshold, {
        operatorId: op.operatorId,
        key: op.key,
        purpose,
        justification,
        session,
        recordings: held,
        witnesses: op.witnesses,
      })
    ).all;
  } catch (e) {
    if (!(e instanceof ThresholdNotMet)) throw e;
    outcomes = e.outcomes;
  }
  // these receipts' checkpoints are evidence for the customer too
  if (siteId !== undefined) await postReceipts(op.storage, siteId, op.operatorId, session.publicKey, outcomes);
  return outcomes;
}

/** Headers (storage, justified route), t releases for the batch, decrypt each payload. Throws
 *  ApiRefusal (storage) or ThresholdNotMet (custodians, with each one's reason). */
export async function releaseBatch(
  op: Operator,
  siteId: string,
  items: readonly ArcRecording[],
  purpose: Purpose,
  justification: Json,
  onItem?: (r: Released) => void,
): Promise<BatchResult> {
  const recs: { item: ArcRecording; rec: ReleaseRecording; url: string }[] = [];
  const details = await Promise.all(items.map((i) => op.storage.recording(siteId, i.camera_id, i.recording_id)));
  details.forEach((d, n) => {
    const header = headerBytes(d);
    const item = items[n] as ArcRecording;
    if (header === null || d.download_url === null) return;
    recs.push({
      item: { ...item, committed_ms: item.committed_ms },
      rec: { header, metadata: metadataOf(siteId, item) },
      url: d.download_url,
    });
  });
  if (recs.length === 0)
    return {
      outcomes: [],
      items: [],
      releasedMs: Date.now(),
      held: [],
      receipts: Promise.resolve({ outcomes: [], warnings: [], posted: false }),
    };
  const session = SessionKey.generate();
  let gathered;
  try {
    gathered = await gatherReleases(op.custodians, thresholdOf((recs[0] as { rec: ReleaseRecording }).rec.header), {
      operatorId: op.operatorId,
      key: op.key,
      purpose,
      justification,
      session,
      recordings: recs.map((r) => r.rec),
      witnesses: op.witnesses,
    });
  } catch (e) {
    // the refused receipts are evidence too (an unwitnessed one may be a split view)
    if (e instanceof ThresholdNotMet)
      await postReceipts(op.storage, siteId, op.operatorId, session.publicKey, e.outcomes);
    throw e;
  }
  const releasedMs = Date.now();
  const receipts = afterRelease(op, siteId, session, gathered.outcomes, gathered.all).catch(
    (e: unknown): AfterRelease => ({
      outcomes: [...gathered.outcomes],
      warnings: [
        {
          custodian: null,
          reason: "receipts_not_delivered",
          text: `release receipts not delivered: ${(e as Error).message}`,
        },
      ],
      posted: false,
    }),
  );
  // fetch and decrypt concurrently, hand over in order
  const work = recs.map(async ({ item, rec, url }): Promise<Released> => {
    let fileKey: Uint8Array;
    try {
      fileKey = recoverFileKey(gathered.releases, rec, session);
    } catch {
      const reasons = new Set<string>();
      for (const o of gathered.outcomes)
        if (o.kind === "released") {
          const r = o.refused.get(rec.metadata.recording_id);
          if (r !== undefined) reasons.add(r);
        }
      return { item, plain: null, refused: [...reasons].sort().join(", ") || "not_released", decryptedMs: Date.now() };
    }
    const payload = await download(url);
    const plain = await decryptRecording(concat(rec.header, payload), { fileKey });
    return { item, plain, refused: null, decryptedMs: Date.now() };
  });
  const out: Released[] = [];
  for (const w of work) {
    const r = await w;
    out.push(r);
    onItem?.(r);
  }
  return { outcomes: gathered.outcomes, items: out, releasedMs, held: recs.map((r) => r.rec), receipts };
}

/** A recording of the feed that the pre-alarm batch releases, not the live view (live.py _pre_alarm). */
export function isPreAlarm(item: { kind: string; end_ms: number }, triggerMs: number): boolean {
  return item.kind !== "live" && item.end_ms <= triggerMs;
}

/** The labels of a decrypted event record (the camera's detector: [{label, confidence}]),
 *  as "person 0.87", if it is one and carries them (clients/customer/recordings.py). */
export function eventLabels(kind: string, plain: Uint8Array | null): string[] {
  if (kind !== "event" || plain === null) return [];
  try {
    const obj = JSON.parse(new TextDecoder().decode(plain)) as Record<string, unknown>;
    const labels = obj["labels"];
    if (!Array.isArray(labels)) return [];
    return labels
      .filter((l): l is Record<string, unknown> => l !== null && typeof l === "object" && !Array.isArray(l))
      .map((l) => `${String(l["label"] ?? "?")}${typeof l["confidence"] === "number" ? ` ${l["confidence"]}` : ""}`);
  } catch {
    return [];
  }
}
export interface CloseAck {
  custodian: string;
  status: string;
}

/** Close an acknowledged alarm (clients/operator/ends.py): at the storage service, then at every
 *  custodian with an AlarmClose signed by this operator, so a header saved during the alarm no
 *  longer gets a share either. Each custodian's answer (or refusal code) is returned. */
export async function closeAlarm(op: Operator, alarmId: string): Promise<{ alarm: Alarm; custodians: CloseAck[] }> {
  const a = await op.storage.post<Alarm>(`/v1/alarms/${encodeURIComponent(alarmId)}/close`, undefined);
  const close = signStatement(
    "camvault/v1/alarm-close",
    {
      site_id: a.site_id,
      panel_id: a.panel_id,
      event_id: a.event_id,
      operator_id: op.operatorId,
      closed_at_ms: Date.now(),
    },
    op.key,
  );
  const json = JSON.parse(fromUtf8(close.encoded)) as Json;
  const custodians = await Promise.all(
    op.custodians.map(async (c): Promise<CloseAck> => {
      try {
        const r = await new SignedFetch(c.url, `operator:${op.operatorId}`, op.key).post<{ status?: string }>(
          `/v1/sites/${encodeURIComponent(a.site_id)}/alarm-closes`,
          { alarm_close: json },
        );
        return { custodian: c.custodian_id, status: r?.status ?? "ok" };
      } catch (e) {
        const code = e instanceof Error && "code" in e ? String((e as { code: unknown }).code) : (e as Error).message;
        return { custodian: c.custodian_id, status: `refused: ${code}` };
      }
    }),
  );
  return { alarm: a, custodians };
}
