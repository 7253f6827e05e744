// Release-receipt reports from the console (mirrors clients/operator/receipts.py, docs/FORMAT.md
// 4.7.1): after every release request the checkpoint each custodian put in its receipt
// (released, nothing released, refused, unwitnessed) goes to the site's inbox at the storage
// service (`POST /v1/sites/{site}/release-receipts`, signed as operator:<id>), where the
// customer's audit cross-checks it against the history it verified (`split_view`). The report
// is the same text the CLI posts: sorted keys, no spaces, UTF-8 (json.dumps(sort_keys=True,
// separators=(",", ":"), ensure_ascii=False) = RFC 8785 for these ASCII keys and integers).
// It needs no signature of its own: every checkpoint carries the custodian's signature.

import { b64urlEncode } from "../crypto/base64";
import { fromUtf8, toHex, utf8 } from "../crypto/bytes";
import { canonicalJson } from "../crypto/canonical";
import { sha256 } from "@noble/hashes/sha2.js";
import { ApiRefusal, type SignedFetch } from "../portal/api";
import type { CustodianOutcome } from "./release";

export const RECEIPTS_TYPE = "camvault/v1/release-receipts";

export type ReceiptOutcome = "released" | "nothing_released" | "refused" | "unwitnessed";

export interface Receipt {
  custodian_id: string;
  outcome: ReceiptOutcome;
  log_index: number | null;
  /** The signed note as received (cosignature lines included). */
  checkpoint: string;
}

/** The receipt an outcome carried, if any (receipts.py receipt_of / collect_receipts). */
export function receiptOf(o: CustodianOutcome): Receipt | null {
  const custodian_id = o.custodian;
  if (o.kind === "released" && o.checkpoint !== undefined)
    return {
      custodian_id,
      outcome: o.sealed.size > 0 ? "released" : "nothing_released",
      log_index: o.logIndex ?? null,
      checkpoint: o.checkpoint,
    };
  if (o.kind === "unwitnessed")
    return { custodian_id, outcome: "unwitnessed", log_index: null, checkpoint: o.checkpoint };
  if (o.kind === "refused" && o.log)
    return { custodian_id, outcome: "refused", log_index: o.log.index, checkpoint: o.log.checkpoint };
  return null;
}

/** The report's exact text (ReceiptReport.to_text). */
export function reportText(
  siteId: string,
  operatorId: string,
  sessionPublicKey: Uint8Array,
  timeMs: number,
  receipts: readonly Receipt[],
): string {
  return fromUtf8(
    canonicalJson({
      type: RECEIPTS_TYPE,
      site_id: siteId,
      operator_id: operatorId,
      session_key: b64urlEncode(sessionPublicKey),
      time_ms: timeMs,
      receipts: receipts.map((r) => ({ ...r })),
    }),
  );
}

/** The inbox reference: one report per release request (its session key). */
export function reportId(sessionPublicKey: Uint8Array): string {
  return "rr-" + toHex(sha256(utf8(b64urlEncode(sessionPublicKey)))).slice(0, 40);
}

/** Post this request's receipts to the site's inbox; returns a warning when that failed (the
 *  release stands, the customer's audit just cannot cross-check it), null when posted or
 *  when there was nothing to post. */
export async function postReceipts(
  storage: SignedFetch,
  siteId: string,
  operatorId: string,
  sessionPublicKey: Uint8Array,
  outcomes: readonly CustodianOutcome[],
  nowMs: number = Date.now(),
): Promise<string | null> {
  const receipts = outcomes.map(receiptOf).filter((r): r is Receipt => r !== null);
  if (receipts.length === 0) return null;
  const report = reportText(siteId, operatorId, sessionPublicKey, nowMs, receipts);
  try {
    await storage.post(`/v1/sites/${encodeURIComponent(siteId)}/release-receipts`, {
      report_id: reportId(sessionPublicKey),
      report,
    });
  } catch (e) {
    const why = e instanceof ApiRefusal ? `${e.code} (${e.detail})` : (e as Error).message;
    return `release receipts not delivered to the customer's inbox: ${why}`;
  }
  return null;
}
