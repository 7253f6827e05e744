// The customer's side of the operators' release-receipt reports in the browser (mirrors
// clients/audit/receipts.py; format: clients/operator/receipts.py, docs/FORMAT.md 4.7.1): every
// checkpoint an operator was shown by a custodian is cross-checked against the history this
// audit verified for that custodian.
//
// * a report that does not parse, is about another site, or holds a checkpoint the custodian's
//   log key did not sign: `receipts_malformed` (anyone relaying the report could have spoiled
//   it: not the custodian's doing);
// * a checkpoint the custodian did sign that is not on this audit's history (same size and
//   another root, or no consistency proof between the two): `split_view` (crossCheckCheckpoint):
//   the custodian signed two histories and showed the operator the other one.
//
// Identical checkpoints (several releases between two log appends) are checked once.

import { utf8 } from "../../crypto/bytes";
import { type Checkpoint, type NoteVerifier, openCheckpoint } from "../../crypto/tlog/note";
import { crossCheckCheckpoint, type LogReader } from "./log";
import { finding, type Finding, isObject } from "./notices";

export const RECEIPTS_TYPE = "camvault/v1/release-receipts";
const OUTCOMES = ["released", "nothing_released", "refused", "unwitnessed"];
const MAX_RECEIPTS = 64;
const MAX_NOTE_CHARS = 8192;

export class ReceiptsError extends Error {
  override name = "ReceiptsError";
}

export interface Receipt {
  custodianId: string;
  outcome: string;
  logIndex: number | null;
  checkpoint: string;
}

export interface ReceiptReport {
  siteId: string;
  operatorId: string;
  sessionKey: string;
  timeMs: number;
  receipts: Receipt[];
}

/** One checkpoint an operator says a custodian showed it. */
export interface Shown {
  operatorId: string;
  /** what it was for, for the finding's text */
  release: string;
  checkpoint: string;
}

function str(o: Record<string, unknown>, key: string, limit = 256): string {
  const v = o[key];
  if (typeof v !== "string" || v.length === 0 || v.length > limit)
    throw new ReceiptsError(`${key} must be a non-empty string of at most ${limit} characters`);
  return v;
}

function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw new ReceiptsError(`${what} must be an integer 0..2^63-1`);
  return v;
}

/** Parse strictly (receipts.py parse_report); ReceiptsError says what is wrong. */
export function parseReport(text: string): ReceiptReport {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new ReceiptsError(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(obj) || obj["type"] !== RECEIPTS_TYPE)
    throw new ReceiptsError(`not a JSON object of type ${RECEIPTS_TYPE}`);
  const items = obj["receipts"];
  if (!Array.isArray(items) || items.length > MAX_RECEIPTS)
    throw new ReceiptsError(`receipts must be a list of at most ${MAX_RECEIPTS}`);
  const receipts = items.map((item: unknown): Receipt => {
    if (!isObject(item)) throw new ReceiptsError("a receipt is not a JSON object");
    const outcome = str(item, "outcome");
    if (!OUTCOMES.includes(outcome)) throw new ReceiptsError(`unknown outcome '${outcome}'`);
    const index = item["log_index"];
    return {
      custodianId: str(item, "custodian_id"),
      outcome,
      logIndex: index === null || index === undefined ? null : int(index, "log_index"),
      checkpoint: str(item, "checkpoint", MAX_NOTE_CHARS),
    };
  });
  return {
    siteId: str(obj, "site_id"),
    operatorId: str(obj, "operator_id"),
    sessionKey: str(obj, "session_key"),
    timeMs: int(obj["time_ms"], "time_ms"),
    receipts,
  };
}

/** The reports' checkpoints by custodian id, and the findings about unusable reports. */
export function shownCheckpoints(texts: Iterable<string>, siteId: string): [Map<string, Shown[]>, Finding[]] {
  const byCustodian = new Map<string, Shown[]>();
  const findings: Finding[] = [];
  for (const text of texts) {
    let report: ReceiptReport;
    try {
      report = parseReport(text);
    } catch (e) {
      findings.push(finding("receipts_malformed", null, `release receipts: ${(e as Error).message}`));
      continue;
    }
    if (report.siteId !== siteId) {
      findings.push(finding("receipts_malformed", null, "release receipts for another site"));
      continue;
    }
    for (const r of report.receipts) {
      let what = `${r.outcome} receipt of operator ${report.operatorId}`;
      if (r.logIndex !== null) what += ` (log index ${r.logIndex})`;
      const list = byCustodian.get(r.custodianId) ?? [];
      list.push({ operatorId: report.operatorId, release: what, checkpoint: r.checkpoint });
      byCustodian.set(r.custodianId, list);
    }
  }
  return [byCustodian, findings];
}

/** Each checkpoint an operator was shown, against the one this audit verified. */
export async function crossCheckShown(
  log: LogReader,
  verifier: NoteVerifier,
  shown: Iterable<Shown>,
  cp: Checkpoint,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const s of shown) {
    if (seen.has(s.checkpoint)) continue;
    seen.add(s.checkpoint);
    try {
      openCheckpoint(utf8(s.checkpoint), [verifier], verifier.name);
    } catch (e) {
      findings.push(
        finding(
          "receipts_malformed",
          null,
          `${s.release}: the checkpoint is not signed by this custodian (${(e as Error).message})`,
        ),
      );
      continue;
    }
    for (const f of await crossCheckCheckpoint(log, verifier, s.checkpoint, cp))
      findings.push(finding(f.kind, f.index, `${s.release}: ${f.detail}`));
  }
  return findings;
}
