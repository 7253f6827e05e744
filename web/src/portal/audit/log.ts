// Verification of one custodian's transparency log in the browser (mirrors
// clients/audit/log.py): the checkpoint signed by its log key, consistent with the last one
// this browser verified (RFC 9162), every entry appended since hashed into the saved compact
// range until it reproduces the new root, every entry of the site expected (a release matched
// by an access notice, a change signed by the customer), every notice included in the log and
// agreeing with its entry. The state only advances when the log checks find nothing.

import { b64decodePadded, b64encodePadded } from "../../crypto/base64";
import { equalBytes, toHex, utf8 } from "../../crypto/bytes";
import { Ed25519PublicKey } from "../../crypto/ed25519";
import { EMPTY_ROOT, entryLeafHash, nodeHash, verifyConsistency, verifyInclusion } from "../../crypto/tlog/merkle";
import { type Checkpoint, NoteVerifier, openCheckpoint } from "../../crypto/tlog/note";
import { QuorumError, type WitnessPolicy, freshAsOf, openCosignedCheckpoint } from "../../crypto/cosignature";
import {
  Expected,
  finding,
  type Finding,
  isObject,
  type Json,
  type Notice,
  noticeProblems,
  parseNotices,
  releasesNothing,
} from "./notices";

/** The log API of one custodian (escrow_service/api/routes/log.py). */
export interface LogReader {
  /** The signed note's bytes. */
  checkpoint(): Promise<Uint8Array>;
  /** The latest checkpoint cosigned by the custodian's witnesses (GET /v1/log/cosigned-checkpoint). */
  cosignedCheckpoint?(): Promise<Uint8Array>;
  consistency(oldSize: number, newSize: number): Promise<Uint8Array[]>;
  inclusion(index: number, treeSize: number): Promise<Uint8Array[]>;
  /** Entries [start, end) as far as the pages reach: index and exact text. */
  entries(start: number, end: number): Promise<[number, string][]>;
}

/** A network failure or a refusal while reading the log (the Python audit's READ_ERRORS). */
export class ReadError extends Error {
  override name = "ReadError";
}

/** The custodian answered with a refusal (its reason code in the message). */
export class Refused extends ReadError {
  override name = "Refused";
}

export const custodianOrigin = (custodianId: string): string => `camvault.io/custodian/${custodianId}`;

/** The verifier of a custodian's checkpoints: its log key (ed25519:...) named by its origin. */
export function custodianVerifier(custodianId: string, logKey: string): NoteVerifier {
  return new NoteVerifier(custodianOrigin(custodianId), Ed25519PublicKey.fromText(logKey, "log key").raw);
}

/** The last verified tree: size, root and compact range (subtree hashes, sizes decreasing). */
export interface AuditState {
  origin: string;
  size: number;
  root: Uint8Array;
  border: [Uint8Array, number][];
}

export interface AuditStateJson {
  origin: string;
  size: number;
  root: string;
  border: [string, number][];
}

export const stateToJson = (s: AuditState): AuditStateJson => ({
  origin: s.origin,
  size: s.size,
  root: b64encodePadded(s.root),
  border: s.border.map(([h, n]) => [b64encodePadded(h), n]),
});

export const stateFromJson = (o: AuditStateJson): AuditState => ({
  origin: String(o.origin),
  size: Number(o.size),
  root: b64decodePadded(o.root),
  border: o.border.map(([h, n]) => [b64decodePadded(h), Number(n)]),
});

/** Where the last verified state of each custodian is kept (IndexedDB in the page). */
export interface StateStore {
  load(): Promise<AuditState | null>;
  save(state: AuditState): Promise<void>;
}

export function appendLeaf(border: [Uint8Array, number][], leaf: Uint8Array): void {
  let node = leaf;
  let size = 1;
  while (border.length > 0 && border[border.length - 1]![1] === size) {
    const [left] = border.pop()!;
    node = nodeHash(left, node);
    size *= 2;
  }
  border.push([node, size]);
}

export function borderRoot(border: readonly [Uint8Array, number][]): Uint8Array {
  if (border.length === 0) return EMPTY_ROOT;
  let root = border[border.length - 1]![0];
  for (let i = border.length - 2; i >= 0; i--) root = nodeHash(border[i]![0], root);
  return root;
}

export interface SiteEntry {
  index: number;
  text: string;
  entry: Json;
}

export interface AuditReport {
  checkpoint: Checkpoint | null;
  findings: Finding[];
  siteEntries: SiteEntry[];
  /** True when no state was saved before: the first checkpoint is trusted on first use. */
  firstUse: boolean;
  /** The size this audit started from (the last verified one). */
  fromSize: number;
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function parseEntry(text: string): Json | null {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

/** Checks 1-4 of clients/audit/log.py; advances the saved state only when all pass. */
export async function auditLog(
  log: LogReader,
  verifier: NoteVerifier,
  store: StateStore,
  siteId: string,
  expected: Expected,
  witnesses: WitnessPolicy | null = null,
  nowS: number = Math.floor(Date.now() / 1000),
): Promise<AuditReport> {
  const origin = verifier.name;
  const saved = await store.load();
  const state: AuditState = saved ?? { origin, size: 0, root: EMPTY_ROOT, border: [] };
  const report: AuditReport = {
    checkpoint: null,
    findings: [],
    siteEntries: [],
    firstUse: saved === null,
    fromSize: state.size,
  };
  let cp: Checkpoint;
  try {
    if (witnesses === null) cp = openCheckpoint(await log.checkpoint(), [verifier], origin);
    else {
      // With witnesses (docs/WITNESS.md): the cosigned checkpoint, a quorum, and fresh enough.
      if (log.cosignedCheckpoint === undefined) throw new ReadError("this reader cannot fetch cosigned checkpoints");
      const note = await log.cosignedCheckpoint();
      const w = witnesses;
      const opened = openCosignedCheckpoint(note, [verifier], origin, w.witnesses, w.quorum, nowS);
      cp = opened.checkpoint;
      const age = nowS - freshAsOf(w, opened.cosigners);
      if (age > w.maxAgeS)
        report.findings.push(
          finding(
            "stale_checkpoint",
            Number(cp.size),
            `the newest checkpoint served (size ${cp.size}) was last cosigned by ${w.quorum} witnesses ${age} s ago, ` +
              `more than the ${w.maxAgeS} s allowed: a frozen view, or its witnesses are down`,
          ),
        );
    }
  } catch (e) {
    report.findings.push(finding(e instanceof QuorumError ? "unwitnessed_checkpoint" : "bad_checkpoint", null, msg(e)));
    return report;
  }
  report.checkpoint = cp;
  const size = Number(cp.size);
  if (!Number.isSafeInteger(size)) {
    report.findings.push(finding("bad_checkpoint", null, `tree size ${cp.size} is beyond what this page can read`));
    return report;
  }
  if (size < state.size) {
    report.findings.push(
      finding("log_truncated", size, `log shrank from ${state.size} to ${size} entries since the last audit`),
    );
    return report;
  }
  try {
    const proof = await log.consistency(state.size, size);
    verifyConsistency(state.size, size, state.root, cp.rootHash, proof);
  } catch (e) {
    report.findings.push(
      finding(
        "log_inconsistent",
        state.size,
        `checkpoint of size ${size} does not extend the one of size ${state.size} seen before: ` +
          `history was rewritten (${msg(e)})`,
      ),
    );
    return report;
  }
  const border = state.border.map(([h, n]) => [h, n] as [Uint8Array, number]);
  if (!equalBytes(borderRoot(border), state.root)) {
    report.findings.push(finding("entries_mismatch", null, "saved state is corrupt"));
    return report;
  }
  const rows = await log.entries(state.size, size);
  let next = state.size;
  for (const [index, text] of rows) {
    if (index !== next) break;
    appendLeaf(border, entryLeafHash(utf8(text)));
    next++;
    const entry = parseEntry(text);
    if (entry === null) {
      report.findings.push(finding("entries_mismatch", index, "entry is not a JSON object"));
      continue;
    }
    const kind = entry["type"];
    if ((kind === "release" || kind === "refusal") && (entry["site_id"] ?? null) === null) {
      if (kind === "release" || !releasesNothing(entry))
        report.findings.push(
          finding("unattributed_release", index, `${kind} entry that names no site but records released recordings`),
        );
      continue;
    }
    if (entry["site_id"] === siteId) {
      report.siteEntries.push({ index, text, entry });
      const problem = expected.problem(index, entry);
      if (problem !== null)
        report.findings.push(
          finding(
            kind === "release" || kind === "refusal" ? "unexpected_release" : "unexpected_change",
            index,
            problem,
          ),
        );
    }
  }
  if (next !== size || !equalBytes(borderRoot(border), cp.rootHash))
    report.findings.push(finding("entries_mismatch", null, "the entries served do not hash to the checkpoint's root"));
  if (report.findings.length === 0) await store.save({ origin, size, root: cp.rootHash, border });
  return report;
}

/** Check 6 for one parsed notice: its entry is in the log under `cp` and says the same. */
export async function verifyParsedNotice(log: LogReader, notice: Notice, cp: Checkpoint): Promise<Finding[]> {
  const index = notice.logIndex;
  if (BigInt(index) >= cp.size) return [finding("notice_not_in_log", index, "notice points beyond the checkpoint")];
  let text: string;
  try {
    const rows = await log.entries(index, index + 1);
    if (rows.length === 0 || rows[0]![0] !== index) return [finding("notice_not_in_log", index, "entry missing")];
    text = rows[0]![1];
    const proof = await log.inclusion(index, Number(cp.size));
    verifyInclusion(entryLeafHash(utf8(text)), index, cp.size, proof, cp.rootHash);
  } catch (e) {
    return [finding("notice_not_in_log", index, msg(e))];
  }
  const entry = parseEntry(text);
  if (entry === null) return [finding("notice_mismatch", index, "the logged entry is not a JSON object")];
  return noticeProblems(notice, entry).map((p) => finding("notice_mismatch", index, p));
}

/** Compare a checkpoint of this custodian that someone else obtained (an operator's release
 *  receipt) with the one this audit verified: both signed by its log key and on one history,
 *  else `split_view` (clients/audit/log.py cross_check_checkpoint). */
export async function crossCheckCheckpoint(
  log: LogReader,
  verifier: NoteVerifier,
  note: Uint8Array | string,
  cp: Checkpoint,
): Promise<Finding[]> {
  let other: Checkpoint;
  try {
    other = openCheckpoint(typeof note === "string" ? utf8(note) : note, [verifier], verifier.name);
  } catch (e) {
    return [finding("bad_checkpoint", null, `checkpoint given to check: ${msg(e)}`)];
  }
  const [small, big] = other.size <= cp.size ? [other, cp] : [cp, other];
  if (small.size === big.size) {
    if (!equalBytes(small.rootHash, big.rootHash))
      return [finding("split_view", Number(other.size), "two signed roots for the same tree size")];
    return [];
  }
  try {
    const proof = await log.consistency(Number(small.size), Number(big.size));
    verifyConsistency(small.size, big.size, small.rootHash, big.rootHash, proof);
  } catch (e) {
    return [
      finding(
        "split_view",
        Number(other.size),
        `checkpoints of size ${small.size} and ${big.size} are not on one history (${msg(e)})`,
      ),
    ];
  }
  return [];
}

/** Does `text` (the entry's exact bytes) sit at `index` of the tree of `cp`? */
export async function entryIncluded(log: LogReader, index: number, text: string, cp: Checkpoint): Promise<boolean> {
  if (BigInt(index) >= cp.size) return false;
  try {
    const proof = await log.inclusion(index, Number(cp.size));
    verifyInclusion(entryLeafHash(utf8(text)), index, cp.size, proof, cp.rootHash);
    return true;
  } catch {
    return false;
  }
}

/** The whole audit of one custodian's log: log checks plus every notice received. */
export async function auditCustodianLog(
  log: LogReader,
  verifier: NoteVerifier,
  store: StateStore,
  siteId: string,
  notices: Iterable<string>,
  statementHashes: Iterable<string>,
  witnesses: WitnessPolicy | null = null,
): Promise<AuditReport> {
  const [parsed, noticeFindings] = parseNotices(notices, siteId);
  const expected = new Expected(parsed, new Set(statementHashes));
  const report = await auditLog(log, verifier, store, siteId, expected, witnesses);
  report.findings.push(...noticeFindings);
  const broken = report.findings.some((f) => ["log_truncated", "log_inconsistent", "bad_checkpoint"].includes(f.kind));
  if (report.checkpoint !== null && !broken)
    for (const notice of parsed.values())
      report.findings.push(...(await verifyParsedNotice(log, notice, report.checkpoint)));
  return report;
}

export const rootHex = (cp: Checkpoint): string => toHex(cp.rootHash);
