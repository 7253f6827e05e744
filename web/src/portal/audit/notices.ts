// Access notices as the customer's audit reads them (mirrors clients/audit/notices.py):
// parsing (a malformed notice is a finding, never a crash), what a notice must agree on with
// its log entry, and which log entries of the site the customer expects.

import { toHex } from "../../crypto/bytes";
import { associatedData, RECORDING_KINDS, type RecordingMetadata } from "../../crypto/metadata";
import { EMPTY_ROOT_HEX, leafHash, rootFromLeafHashes } from "../../crypto/tlog/merkle";

/** The finding codes of clients/audit/notices.py Finding, plus `unreachable` (the Python
 *  audit's per-custodian error: its log was not checked). */
export type FindingKind =
  | "bad_checkpoint"
  | "unwitnessed_checkpoint"
  | "stale_checkpoint"
  | "log_truncated"
  | "log_inconsistent"
  | "entries_mismatch"
  | "unexpected_release"
  | "unattributed_release"
  | "unexpected_change"
  | "notice_not_in_log"
  | "notice_mismatch"
  | "notice_malformed"
  | "notice_withheld"
  | "split_view"
  | "receipts_malformed"
  | "unreachable";

export interface Finding {
  kind: FindingKind;
  index: number | null;
  detail: string;
}

export const finding = (kind: FindingKind, index: number | null, detail: string): Finding => ({ kind, index, detail });

/** What each code means, in words for the page. */
export const FINDING_EXPLANATIONS: Record<FindingKind, string> = {
  bad_checkpoint: "the custodian's checkpoint is not signed by its log key, or cannot be read",
  unwitnessed_checkpoint: "the custodian's checkpoint is not cosigned by enough of your witnesses",
  stale_checkpoint: "the custodian's newest cosigned checkpoint is too old: your view of its log may be frozen",
  log_truncated: "the log is smaller than when this browser last verified it: entries were removed",
  log_inconsistent: "the log does not extend the one this browser verified before: history was rewritten",
  entries_mismatch: "the entries served do not hash to the signed checkpoint",
  unexpected_release: "a release of this site's recordings that no access notice accounts for",
  unattributed_release: "a release that names no site but records released recordings",
  unexpected_change: "a change to this site that you did not sign",
  notice_not_in_log: "an access notice you received is not in the custodian's log",
  notice_mismatch: "an access notice disagrees with the log entry it points to",
  notice_malformed: "an access notice could not be read",
  notice_withheld: "the storage service took an access notice and its inbox does not show it",
  split_view: "the custodian showed two different histories of its log",
  receipts_malformed:
    "an operator's release-receipt report could not be used (unreadable, another site, or not signed)",
  unreachable: "the custodian could not be reached: its log was not checked",
};

export const MAX_INDEX = 2 ** 63 - 1;

export class NoticeError extends Error {
  override name = "NoticeError";
}

export interface Notice {
  text: string;
  logIndex: number;
  siteId: string;
  releaseId: string;
  operatorId: string | null;
  recordings: RecordingMetadata[];
  /** Computed from the recordings it lists (hex). */
  recordingsRoot: string;
  /** The root it states (any JSON value). */
  claimedRoot: unknown;
  data: Record<string, unknown>;
}

export type Json = Record<string, unknown>;

export const isObject = (x: unknown): x is Json => x !== null && typeof x === "object" && !Array.isArray(x);

const METADATA_FIELDS = ["site_id", "camera_id", "recording_id", "kind", "start_ms", "end_ms"];

/** crypto/metadata.py RecordingMetadata.from_json: exactly the six members, each checked. */
export function metadataFromJson(obj: unknown): RecordingMetadata {
  if (!isObject(obj)) throw new NoticeError("recordings: recording metadata: must be a JSON object");
  const keys = Object.keys(obj);
  if (keys.length !== METADATA_FIELDS.length || !METADATA_FIELDS.every((k) => k in obj))
    throw new NoticeError("recordings: recording metadata: missing or unknown fields");
  if (typeof obj["kind"] !== "string" || !(RECORDING_KINDS as readonly string[]).includes(obj["kind"]))
    throw new NoticeError(`recordings: kind: must be one of ${RECORDING_KINDS.join(", ")}`);
  const m = obj as unknown as RecordingMetadata;
  try {
    associatedData(m); // runs checkMetadata
  } catch (e) {
    throw new NoticeError(`recordings: ${(e as Error).message}`);
  }
  return m;
}

/** One access notice as a custodian delivers it; throws NoticeError. */
export function parseNotice(text: string): Notice {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new NoticeError(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(obj)) throw new NoticeError("not a JSON object");
  const index = obj["log_index"];
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index > MAX_INDEX)
    throw new NoticeError("log_index must be an integer 0..2^63-1");
  for (const key of ["site_id", "release_id"])
    if (typeof obj[key] !== "string") throw new NoticeError(`${key} must be a string`);
  const operator = obj["operator_id"] ?? null;
  if (operator !== null && typeof operator !== "string") throw new NoticeError("operator_id must be a string");
  const recs = obj["recordings"];
  if (!Array.isArray(recs)) throw new NoticeError("recordings must be a list");
  const metas = recs.map(metadataFromJson);
  const root = toHex(rootFromLeafHashes(metas.map((m) => leafHash(associatedData(m)))));
  return {
    text,
    logIndex: index,
    siteId: obj["site_id"] as string,
    releaseId: obj["release_id"] as string,
    operatorId: operator,
    recordings: metas,
    recordingsRoot: root,
    claimedRoot: obj["released_root"] ?? null,
    data: obj,
  };
}

const show = (v: unknown): string => (v === undefined || v === null ? "None" : JSON.stringify(v));
const get = (o: Json, k: string): unknown => o[k] ?? null;

/** How the logged entry and the notice disagree (empty: they describe one release). */
export function noticeProblems(notice: Notice, entry: Json): string[] {
  const problems: string[] = [];
  for (const [key, want] of [
    ["type", "release"],
    ["site_id", notice.siteId],
    ["release_id", notice.releaseId],
    ["operator_id", notice.operatorId],
  ] as const) {
    if (get(entry, key) !== want) problems.push(`${key}: entry has ${show(entry[key])}, notice ${show(want)}`);
  }
  if (notice.recordings.some((m) => m.site_id !== notice.siteId))
    problems.push("the notice lists recordings of another site");
  const released = isObject(entry["released"]) ? entry["released"] : {};
  if (released["root"] !== notice.recordingsRoot || notice.claimedRoot !== notice.recordingsRoot)
    problems.push("the recordings listed do not match the entry's released root");
  if (released["count"] !== notice.recordings.length)
    problems.push("the entry's released count is not the number of recordings listed");
  return problems;
}

/** A release/refusal entry that records no released recording at all. */
export function releasesNothing(entry: Json): boolean {
  const released = entry["released"];
  if (!isObject(released)) return false;
  const cams = released["cameras"];
  const noCameras =
    cams === undefined || cams === null || cams === false || cams === "" || (Array.isArray(cams) && cams.length === 0);
  return released["count"] === 0 && released["root"] === EMPTY_ROOT_HEX && noCameras;
}

/** What the customer knows happened at its site (clients/audit/notices.py Expected). */
export class Expected {
  constructor(
    readonly notices: Map<number, Notice> = new Map(),
    readonly statementHashes: Set<string> = new Set(),
  ) {}

  /** Why this entry of the site is not expected (null: it is). */
  problem(index: number, entry: Json): string | null {
    const kind = entry["type"];
    if (kind === "refusal") {
      if (releasesNothing(entry)) return null;
      return "a refusal entry that records released recordings";
    }
    if (kind === "release") {
      const notice = this.notices.get(index);
      if (notice === undefined) return "a release the customer holds no access notice for";
      const problems = noticeProblems(notice, entry);
      if (problems.length > 0) return "the access notice for this index disagrees: " + problems.join("; ");
      return null;
    }
    if (kind === "alarm-close") return null; // narrows access only; names who closed it
    const sha = entry["statement_sha256"];
    if (typeof sha === "string" && this.statementHashes.has(sha)) return null;
    return `${String(kind)} entry the customer did not expect`;
  }
}

/** Parse each notice on its own: the usable ones by log index (a second, different notice
 *  for an index already claimed is a mismatch) and the findings about the others. */
export function parseNotices(texts: Iterable<string>, siteId: string): [Map<number, Notice>, Finding[]] {
  const notices = new Map<number, Notice>();
  const findings: Finding[] = [];
  for (const text of texts) {
    let notice: Notice;
    try {
      notice = parseNotice(text);
    } catch (e) {
      findings.push(finding("notice_malformed", null, (e as Error).message));
      continue;
    }
    if (notice.siteId !== siteId) {
      findings.push(finding("notice_mismatch", notice.logIndex, "the notice is for another site"));
      continue;
    }
    const held = notices.get(notice.logIndex);
    if (held !== undefined) {
      if (held.text !== text)
        findings.push(finding("notice_mismatch", notice.logIndex, "two different notices claim the same log entry"));
      continue;
    }
    notices.set(notice.logIndex, notice);
  }
  return [notices, findings];
}

/** The notices a custodian delivered to the storage service (`direct`: text and whether the
 *  service acknowledged it) that the inbox does not relay: withheld or rolled back. */
export function withheld(direct: Iterable<[string, boolean]>, relayed: Iterable<string>): Finding[] {
  const shown = new Set<number>();
  for (const text of relayed) {
    try {
      shown.add(parseNotice(text).logIndex);
    } catch {
      // reported by parseNotices
    }
  }
  const out: Finding[] = [];
  for (const [text, delivered] of direct) {
    let notice: Notice;
    try {
      notice = parseNotice(text);
    } catch {
      continue;
    }
    if (delivered && !shown.has(notice.logIndex))
      out.push(
        finding(
          "notice_withheld",
          notice.logIndex,
          `the storage service took this custodian's access notice (release ${notice.releaseId} by ` +
            `${String(notice.operatorId)}) and its inbox does not show it: withheld or rolled back`,
        ),
      );
  }
  return out;
}
