// The audit of the whole site in the browser (mirrors clients/audit/site.py, `camvault
// customer audit`): every custodian's log verified (./log.ts), the access notices collected
// from both channels (each custodian's own notices API, signed by the site key, and the
// storage service's inbox), each checked against the log, and every access to the site listed
// with who, what, when and why, each entry proved included in the latest checkpoint. The
// checkpoints the operators' release receipts carried (inbox kind release_receipts) are
// cross-checked against each custodian's verified history (./receipts.ts: split_view).

import type { RecordingMetadata } from "../../crypto/metadata";
import type { Checkpoint } from "../../crypto/tlog/note";
import { SignedFetch } from "../api";
import type { CustodianEndpoint } from "../keyfile";
import { custodianNotices, HttpLogReader } from "./http";
import type { WitnessPolicy } from "../../crypto/cosignature";
import { auditCustodianLog, type AuditReport, custodianVerifier, entryIncluded, type LogReader, Refused } from "./log";
import { finding, type Finding, isObject, type Json, parseNotice, withheld } from "./notices";
import { crossCheckShown, type Shown, shownCheckpoints } from "./receipts";
import { type AuditStore, stateStore, type StoredAccess } from "./store";

/** Entries that end access: an alarm closed by the ARC, recordings deleted by the customer. */
export const ENDS_OF_ACCESS = ["alarm-close", "recording-deletion"];

export interface Access {
  custodianId: string;
  logIndex: number;
  timeMs: number;
  /** release / refusal, or an end of access */
  kind: string;
  operatorId: string;
  purpose: string;
  /** The CLI's "why": alarm <event> (<type>) of <panel>, consent <id>, or none. */
  justification: string;
  /** What else the justification says: the alarm's trigger and the span released, a consent
   *  signed by this customer. */
  detail: string;
  cameras: string[];
  /** Recording ids (camera/recording) the access notice lists; empty when none is held. */
  recordings: string[];
  /** An alarm release: the alarm window of the cameras' profiles (as the customer enrolled
   *  them) and whether every recording the notice lists meets it (null: not known). Shown,
   *  not a finding: the Python audit has no such code, the custodian enforces the window. */
  window: { text: string; inside: boolean | null } | null;
  released: number;
  reason: string | null;
  /** The entry proved included in the latest verified checkpoint (null: not checked, the log
   *  itself failed its checks). */
  included: boolean | null;
}

export interface CustodianAudit {
  custodian: CustodianEndpoint;
  report: AuditReport | null;
  notices: number;
  accesses: Access[];
  /** The custodian could not be read (down, refused): its log was not checked. */
  error: string | null;
  findings: Finding[];
  ok: boolean;
}

export interface SiteAuditInput {
  siteId: string;
  /** Signs the notices request (customer:<site id>); never sent itself. */
  siteKey: string;
  custodians: readonly CustodianEndpoint[];
  /** SHA-256 (hex) of the statements this customer signed. */
  statementHashes: Iterable<string>;
  /** The access notices the storage service's inbox relays (exact texts, oldest first). */
  relayed: () => Promise<string[]>;
  store: AuditStore;
  /** config.json's devices (the camera profiles give each alarm its window). */
  devices?: Record<string, Record<string, unknown>>;
  /** Reader of a custodian's log (default: its HTTP API). */
  reader?: (c: CustodianEndpoint) => LogReader;
  /** The witnesses whose cosignatures every log needs (witnesses.json; null: none). */
  witnesses?: WitnessPolicy | null;
  /** The operators' release-receipt reports the inbox relays (exact texts; none: no cross-check). */
  receipts?: () => Promise<string[]>;
}

/** Findings after which the verified checkpoint is no base for further cross-checks (site.py LOG_BROKEN). */
const LOG_BROKEN = ["log_truncated", "log_inconsistent", "bad_checkpoint", "unwitnessed_checkpoint"];

const fmtUtc = (ms: number): string => new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";

function justification(entry: Json): string {
  const j = isObject(entry["justification"]) ? entry["justification"] : {};
  if ("event_id" in j) return `alarm ${String(j["event_id"])} (${String(j["alarm_type"])}) of ${String(j["panel_id"])}`;
  if ("consent_id" in j) return `consent ${String(j["consent_id"])}`;
  return "none";
}

function detail(entry: Json, signed: Set<string>): string {
  const j = isObject(entry["justification"]) ? entry["justification"] : {};
  const released = isObject(entry["released"]) ? entry["released"] : {};
  const parts: string[] = [];
  if (typeof j["triggered_at_ms"] === "number") parts.push(`triggered ${fmtUtc(j["triggered_at_ms"])}`);
  if ("consent_id" in j) {
    const sha = j["sha256"];
    parts.push(typeof sha === "string" && signed.has(sha) ? "signed by you" : "not a consent you signed");
    if (typeof j["not_after_ms"] === "number") parts.push(`valid until ${fmtUtc(j["not_after_ms"])}`);
  }
  if (typeof released["from_ms"] === "number" && typeof released["to_ms"] === "number")
    parts.push(`recordings from ${fmtUtc(released["from_ms"])} to ${fmtUtc(released["to_ms"])}`);
  return parts.join("; ");
}

/** The access (release, refusal) or end of access an entry of the site records (site.py _access). */
export function accessOf(
  custodianId: string,
  index: number,
  entry: Json,
  metas: RecordingMetadata[],
  signed: Set<string>,
  devices: Record<string, Record<string, unknown>> = {},
): Omit<Access, "included"> | null {
  const kind = String(entry["type"]);
  const timeMs = typeof entry["time_ms"] === "number" ? entry["time_ms"] : 0;
  const recordings = metas.map((m) => `${m.camera_id}/${m.recording_id}`);
  const base = {
    custodianId,
    logIndex: index,
    timeMs,
    kind,
    recordings,
    window: null,
    released: 0,
    reason: null,
    detail: "",
  };
  if (kind === "alarm-close")
    return {
      ...base,
      operatorId: String(entry["operator_id"]),
      purpose: "end of access",
      justification: `alarm ${String(entry["event_id"])} of ${String(entry["panel_id"])} closed`,
      cameras: [],
    };
  if (kind === "recording-deletion")
    return {
      ...base,
      operatorId: "customer",
      purpose: "end of access",
      justification: `${String(entry["recordings"])} recording(s) deleted`,
      cameras: [String(entry["camera_id"])],
    };
  if (kind !== "release" && kind !== "refusal") return null;
  const released = isObject(entry["released"]) ? entry["released"] : {};
  return {
    ...base,
    operatorId: String(entry["operator_id"] ?? "None"),
    purpose: String(entry["purpose"] ?? "None"),
    justification: justification(entry),
    detail: detail(entry, signed),
    window: alarmWindow(entry, metas, devices),
    cameras: Array.isArray(released["cameras"]) ? released["cameras"].map(String) : [],
    released: typeof released["count"] === "number" ? released["count"] : 0,
    reason: typeof entry["reason"] === "string" ? entry["reason"] : null,
  };
}

const fmtClock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

/** [trigger - pre_alarm_s, trigger + post_alarm_s] of each camera's enrolled profile, and
 *  whether each recording listed intersects it (live segments: up to the access period's
 *  end, which the customer's files do not hold, so not judged). */
export function alarmWindow(
  entry: Json,
  metas: RecordingMetadata[],
  devices: Record<string, Record<string, unknown>>,
): Access["window"] {
  const j = isObject(entry["justification"]) ? entry["justification"] : {};
  const t = j["triggered_at_ms"];
  if (typeof t !== "number") return null;
  const cameras = [...new Set(metas.map((m) => m.camera_id))];
  const windows = new Map<string, [number, number]>();
  for (const cam of cameras) {
    const profile = devices[cam]?.["camera_profile"];
    if (!isObject(profile)) continue;
    const pre = profile["pre_alarm_s"];
    const post = profile["post_alarm_s"];
    if (typeof pre === "number" && typeof post === "number") windows.set(cam, [t - pre * 1000, t + post * 1000]);
  }
  if (cameras.length === 0 || windows.size < cameras.length)
    return { text: `alarm at ${fmtClock(t)} UTC; window unknown (no enrolled profile)`, inside: null };
  let inside = true;
  for (const m of metas) {
    const [lo, hi] = windows.get(m.camera_id)!;
    if (m.kind !== "live" && !(m.start_ms <= hi && m.end_ms >= lo)) inside = false;
  }
  const text = cameras
    .map((cam) => {
      const [lo, hi] = windows.get(cam)!;
      return `${cam} window ${fmtClock(lo)}–${fmtClock(hi)} UTC`;
    })
    .join("; ");
  return { text, inside };
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function parsedEntry(text: string): Json | null {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

/** The recordings each notice lists, by log index. */
function recordingsByIndex(texts: Iterable<string>): Map<number, RecordingMetadata[]> {
  const out = new Map<number, RecordingMetadata[]>();
  for (const t of texts) {
    try {
      const n = parseNotice(t);
      if (!out.has(n.logIndex)) out.set(n.logIndex, n.recordings);
    } catch {
      // reported by the audit
    }
  }
  return out;
}

/** The custodian id a relayed notice names (to give each custodian its own). */
function noticeCustodian(text: string): string {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? String(v["custodian_id"]) : "";
  } catch {
    return "";
  }
}

async function auditOne(
  input: SiteAuditInput,
  c: CustodianEndpoint,
  direct: [string, boolean][],
  mine: string[],
  signed: Set<string>,
  shown: Shown[] = [],
): Promise<CustodianAudit> {
  const reader = input.reader?.(c) ?? new HttpLogReader(c.url, `custodian ${c.custodian_id}`);
  const verifier = custodianVerifier(c.custodian_id, c.log_key);
  const notices = [...direct.map(([t]) => t), ...mine];
  const report = await auditCustodianLog(
    reader,
    verifier,
    stateStore(input.store, input.siteId, c.custodian_id),
    input.siteId,
    notices,
    signed,
    input.witnesses ?? null,
  );
  if (report.checkpoint !== null && !report.findings.some((f) => LOG_BROKEN.includes(f.kind)))
    report.findings.push(...(await crossCheckShown(reader, verifier, shown, report.checkpoint)));
  report.findings.push(...withheld(direct, mine));
  const recs = recordingsByIndex(notices);
  const memory = await input.store.get(input.siteId, c.custodian_id);
  const current: StoredAccess[] = report.siteEntries.map((e) => ({
    index: e.index,
    text: e.text,
    recordings: recs.get(e.index) ?? [],
  }));
  const ok = report.findings.length === 0;
  if (ok) {
    const have = new Set(memory.accesses.map((a) => a.index));
    memory.accesses.push(...current.filter((a) => !have.has(a.index)));
    await input.store.put(input.siteId, c.custodian_id, memory);
  }
  const now = new Set(current.map((a) => a.index));
  const all = [...memory.accesses.filter((a) => !now.has(a.index)), ...current].sort((a, b) => a.index - b.index);
  const cp: Checkpoint | null = report.checkpoint;
  const broken = report.findings.some((f) => ["log_truncated", "log_inconsistent", "bad_checkpoint"].includes(f.kind));
  const accesses: Access[] = [];
  for (const a of all) {
    const entry = parsedEntry(a.text);
    if (entry === null) continue;
    const access = accessOf(c.custodian_id, a.index, entry, a.recordings, signed, input.devices);
    if (access === null) continue;
    let included: boolean | null = null;
    if (cp !== null && !broken) {
      included = await entryIncluded(reader, a.index, a.text, cp);
      if (!included)
        report.findings.push(
          finding("entries_mismatch", a.index, "this access's entry is not proved included in the checkpoint"),
        );
    }
    accesses.push({ ...access, included });
  }
  const findings = report.findings;
  return {
    custodian: c,
    report,
    notices: new Set(notices).size,
    accesses,
    error: null,
    findings,
    ok: findings.length === 0,
  };
}

function unreachable(c: CustodianEndpoint, e: unknown): string {
  if (e instanceof Refused) return `${msg(e)}: its log was not checked`;
  return `unreachable at ${c.url} (${msg(e)}): its log was not checked`;
}

/** A custodian not audited this time: the accesses remembered from earlier audits are still
 *  listed (who read what does not vanish because a custodian is down), inclusion unchecked. */
async function failed(
  input: SiteAuditInput,
  c: CustodianEndpoint,
  error: string,
  signed: Set<string>,
): Promise<CustodianAudit> {
  let accesses: Access[] = [];
  try {
    const memory = await input.store.get(input.siteId, c.custodian_id);
    accesses = memory.accesses.flatMap((a) => {
      const entry = parsedEntry(a.text);
      const access = entry && accessOf(c.custodian_id, a.index, entry, a.recordings, signed, input.devices);
      return access ? [{ ...access, included: null }] : [];
    });
  } catch {
    // nothing remembered can be read: none listed
  }
  return {
    custodian: c,
    report: null,
    notices: 0,
    accesses,
    error,
    findings: [finding("unreachable", null, error)],
    ok: false,
  };
}

/** The audit of every custodian of the site; one custodian down does not stop the others. */
export async function auditSite(input: SiteAuditInput): Promise<CustodianAudit[]> {
  const signed = new Set(input.statementHashes);
  // each custodian's own notices first, then the inbox: a notice a custodian counts as
  // delivered is then already in the inbox read after it (no false notice_withheld)
  const direct = await Promise.all(
    input.custodians.map(async (c): Promise<[string, boolean][] | string> => {
      try {
        const client = new SignedFetch(c.url.replace(/\/+$/, "") + "/", `customer:${input.siteId}`, input.siteKey);
        return await custodianNotices(client, input.siteId, `custodian ${c.custodian_id}`);
      } catch (e) {
        return unreachable(c, e);
      }
    }),
  );
  const relayed = new Map<string, string[]>();
  for (const text of await input.relayed()) {
    const id = noticeCustodian(text);
    relayed.set(id, [...(relayed.get(id) ?? []), text]);
  }
  // the checkpoints the operators were shown, for the split-view cross-check
  const [shown, reportFindings] = shownCheckpoints(input.receipts ? await input.receipts() : [], input.siteId);
  const results = await Promise.all(
    input.custodians.map(async (c, i) => {
      const own = direct[i]!;
      if (typeof own === "string") return failed(input, c, own, signed);
      try {
        return await auditOne(input, c, own, relayed.get(c.custodian_id) ?? [], signed, shown.get(c.custodian_id));
      } catch (e) {
        return failed(input, c, unreachable(c, e), signed);
      }
    }),
  );
  const first = results.find((r) => r.report !== null);
  if (first !== undefined && reportFindings.length > 0) {
    first.findings.push(...reportFindings); // about the reports, reported once
    first.ok = false;
  }
  return results;
}
