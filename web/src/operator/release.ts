// The operator's side of a release, in the browser (mirrors clients/operator/release.py): ask
// every custodian at once, with the justification (the panel-signed AlarmEvent or the
// customer-signed Consent), a fresh X25519 session public key and, per recording, the escrow
// stanza addressed to that custodian. Each answer is used only if its log receipt verifies
// (signed checkpoint under the pinned log key, the entry included in it) and the logged entry
// describes exactly this request and the shares received. Shares are opened with the session
// key (whose secret never leaves this page) and combined through the header MAC.

import { b64decodePadded, b64encode, b64urlEncode } from "../crypto/base64";
import { parseCustodianPublicKey } from "../crypto/bech32";
import { fromUtf8, toHex, utf8 } from "../crypto/bytes";
import { canonicalJson, type Json } from "../crypto/canonical";
import { Ed25519PublicKey, type Ed25519SigningKey } from "../crypto/ed25519";
import { parseHeader } from "../crypto/ageheader";
import {
  combineFileKey,
  custodianKeyId,
  ESCROW_STANZA_TYPE,
  openReleasedShare,
  parseEscrowStanza,
  SessionKey,
} from "../crypto/escrow/index";
import type { Share } from "../crypto/escrow/index";
import { HYBRID_STANZA_TYPE, hybridCustodianKeyId, parseHybridCustodianPublicKey } from "../crypto/escrow/pqkeys";
import { associatedData, type RecordingMetadata } from "../crypto/metadata";
import { parseSigned, statementHash } from "../crypto/statements/index";
import { entryLeafHash, leafHash, rootFromLeafHashes, verifyInclusion } from "../crypto/tlog/merkle";
import { NoteVerifier, openCheckpoint } from "../crypto/tlog/note";
import { openCosignedCheckpoint, QuorumError, type WitnessPolicy } from "../crypto/cosignature";
import { SignedFetch } from "../portal/api";
import type { CustodianEndpoint } from "../portal/keyfile";

export type Purpose = "alarm-verification" | "maintenance";

export interface ReleaseRecording {
  header: Uint8Array;
  metadata: RecordingMetadata;
}

/** What one custodian did with the request: released (some) shares, refused, or could not be used. */
export type CustodianOutcome =
  | {
      custodian: string;
      kind: "released";
      releaseId: string;
      sealed: Map<string, Uint8Array>;
      refused: Map<string, string>;
      /** The receipt: the entry's log index and the checkpoint as received (for the customer). */
      logIndex?: number;
      checkpoint?: string;
    }
  | {
      custodian: string;
      kind: "refused";
      status: number;
      reason: string;
      message: string;
      /** The refusal's own log receipt, when it carried one (its checkpoint is evidence too). */
      log?: { index: number | null; checkpoint: string } | null;
    }
  | { custodian: string; kind: "unavailable"; message: string }
  /** The receipt's checkpoint lacks the witness quorum: its shares are not used
   *  (clients/operator/release.py Unwitnessed); `checkpoint` is the refused note. */
  | { custodian: string; kind: "unwitnessed"; message: string; checkpoint: string };

export class ThresholdNotMet extends Error {
  override name = "ThresholdNotMet";
  constructor(readonly outcomes: CustodianOutcome[]) {
    super(
      "custodians refused: " +
        outcomes
          .filter((o) => o.kind !== "released" || o.sealed.size === 0)
          .map((o) => `${o.custodian}: ${reasonOf(o)}`)
          .join("; "),
    );
  }
}

/** The reason code of an outcome (what the page shows per custodian). */
export function reasonOf(o: CustodianOutcome): string {
  if (o.kind === "refused") return o.reason;
  if (o.kind === "unavailable") return `unavailable (${o.message})`;
  if (o.kind === "unwitnessed") return "unwitnessed";
  if (o.sealed.size > 0) return "released";
  return [...new Set(o.refused.values())].sort().join(", ") || "nothing_released";
}

export function logOrigin(c: CustodianEndpoint): string {
  return `camvault.io/custodian/${c.custodian_id}`;
}

/** The Merkle root a log entry gives for released recordings (docs/ESCROW.md). */
export function releasedRoot(metadatas: readonly RecordingMetadata[]): string {
  return toHex(rootFromLeafHashes(metadatas.map((m) => leafHash(associatedData(m)))));
}

/** An escrow stanza as a release request carries it; `type` only when not "camvault-escrow"
 *  (escrow_service/schemas/requests.py StanzaIn). */
export interface StanzaOut {
  args: string[];
  body: string;
  type?: string;
}

/** Escrow stanza type -> the key id its stanzas for `c` carry: X25519, and hybrid if the
 *  custodian publishes a hybrid key (clients/api/escrow.py escrow_key_ids). */
function escrowKeyIds(c: CustodianEndpoint): Map<string, string> {
  const ids = new Map([[ESCROW_STANZA_TYPE, custodianKeyId(parseCustodianPublicKey(c.escrow_key))]]);
  if (c.hybrid_escrow_key !== undefined)
    ids.set(HYBRID_STANZA_TYPE, hybridCustodianKeyId(parseHybridCustodianPublicKey(c.hybrid_escrow_key)));
  return ids;
}

/** The stanza of `rec` addressed to `c` (X25519 or hybrid), as clients/operator/release.py
 *  _stanza_for sends it. */
export function stanzaFor(rec: ReleaseRecording, c: CustodianEndpoint): StanzaOut {
  const keyIds = escrowKeyIds(c);
  for (const st of parseHeader(rec.header).stanzas)
    if (st.args.length > 0 && keyIds.get(st.type) === st.args[0]) {
      const out: StanzaOut = { args: [...st.args], body: b64encode(st.body) };
      if (st.type !== ESCROW_STANZA_TYPE) out.type = st.type;
      return out;
    }
  throw new Error(`recording ${rec.metadata.recording_id} has no stanza for ${c.custodian_id}`);
}

/** The escrow threshold of a recording (from its first escrow stanza, X25519 or hybrid). */
export function thresholdOf(header: Uint8Array): number {
  for (const st of parseHeader(header).stanzas)
    if (st.type === ESCROW_STANZA_TYPE || st.type === HYBRID_STANZA_TYPE) return parseEscrowStanza(st).threshold;
  throw new Error("recording has no escrow stanza: the ARC cannot read it");
}

interface LogReceipt {
  index: number;
  entry: string;
  checkpoint: string;
  inclusion_proof: string[];
}

/** A receipt whose checkpoint is not cosigned by the witness quorum (release.py Unwitnessed). */
export class Unwitnessed extends Error {
  override name = "Unwitnessed";
  constructor(
    message: string,
    readonly checkpoint: string,
  ) {
    super(message);
  }
}

/** Check a custodian's log receipt: signed checkpoint, cosigned by a quorum of `witnesses`
 *  when given (else Unwitnessed), and the entry's inclusion in it. */
export function verifyReceipt(
  c: CustodianEndpoint,
  log: LogReceipt,
  witnesses: WitnessPolicy | null = null,
): Record<string, unknown> {
  const verifier = new NoteVerifier(logOrigin(c), Ed25519PublicKey.fromText(c.log_key).raw);
  const note = utf8(String(log.checkpoint));
  let cp;
  if (witnesses === null) cp = openCheckpoint(note, [verifier], logOrigin(c));
  else
    try {
      cp = openCosignedCheckpoint(note, [verifier], logOrigin(c), witnesses.witnesses, witnesses.quorum).checkpoint;
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
      throw new Unwitnessed(`receipt refused, its checkpoint is not witnessed: ${e.message}`, String(log.checkpoint));
    }
  const entry = utf8(String(log.entry));
  const proof = log.inclusion_proof.map((p) => b64decodePadded(p));
  verifyInclusion(entryLeafHash(entry), BigInt(log.index), cp.size, proof, cp.rootHash);
  const obj = JSON.parse(fromUtf8(entry)) as unknown;
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new Error("log entry is not a JSON object");
  return obj as Record<string, unknown>;
}

export interface Binding {
  releaseId: string;
  siteId: string | null;
  operatorId: string;
  purpose: Purpose;
  justificationSha256: string | null;
  sessionPublicKey: Uint8Array;
  released: readonly RecordingMetadata[];
}

/** The problems of a log entry that does not record exactly this request and the shares received. */
export function entryProblems(c: CustodianEndpoint, entry: Record<string, unknown>, b: Binding): string[] {
  const want: Record<string, unknown> = {
    type: b.released.length > 0 ? "release" : "refusal",
    custodian_id: c.custodian_id,
    release_id: b.releaseId,
    site_id: b.siteId,
    operator_id: b.operatorId,
    operator_verified: true,
    purpose: b.purpose,
    session_key: b64urlEncode(b.sessionPublicKey),
  };
  const problems = Object.entries(want)
    .filter(([k, v]) => entry[k] !== v)
    .map(([k, v]) => `${k}: entry has ${JSON.stringify(entry[k])}, expected ${JSON.stringify(v)}`);
  if (b.justificationSha256 !== null) {
    const j = entry["justification"] as Record<string, unknown> | null | undefined;
    if (j?.["sha256"] !== b.justificationSha256) problems.push("justification: entry names another statement");
  }
  const got = entry["released"] as Record<string, unknown> | null | undefined;
  if (got === null || typeof got !== "object") problems.push("released: missing");
  else {
    if (got["count"] !== b.released.length) problems.push(`released.count: entry has ${String(got["count"])}`);
    if (got["root"] !== releasedRoot(b.released))
      problems.push("released.root: not the root of the recordings received");
  }
  return problems;
}

export interface ReleaseRequest {
  operatorId: string;
  key: Ed25519SigningKey;
  purpose: Purpose;
  /** The signed statement as JSON ({body, sig, signer, type}), or null (refused: no_justification). */
  justification: Json | null;
  session: SessionKey;
  recordings: readonly ReleaseRecording[];
  /** Receives the exact request body (tests check what leaves the page). */
  onBody?: (custodian: string, body: string) => void;
  /** The site's witnesses (config.json `witnesses`): a receipt without their quorum is refused. */
  witnesses?: WitnessPolicy | null;
}

function justificationInfo(j: Json | null): { siteId: string | null; sha256: string | null } {
  if (j === null) return { siteId: null, sha256: null };
  const signed = parseSigned(canonicalJson(j));
  const site = signed.unverifiedBody["site_id"];
  return { siteId: typeof site === "string" ? site : null, sha256: toHex(statementHash(signed)) };
}

/** One custodian's answer to the request, checked. */
export async function requestRelease(c: CustodianEndpoint, req: ReleaseRequest): Promise<CustodianOutcome> {
  const custodian = c.custodian_id;
  const info = justificationInfo(req.justification);
  let siteId = info.siteId;
  if (siteId === null) {
    const sites = new Set(req.recordings.map((r) => r.metadata.site_id));
    siteId = sites.size === 1 ? ([...sites][0] as string) : null;
  }
  let items: { metadata: RecordingMetadata; stanza: StanzaOut }[];
  try {
    items = req.recordings.map((r) => ({ metadata: r.metadata, stanza: stanzaFor(r, c) }));
  } catch (e) {
    return { custodian, kind: "unavailable", message: (e as Error).message };
  }
  const body = JSON.stringify({
    purpose: req.purpose,
    justification: req.justification,
    session_key: b64encode(req.session.publicKey),
    items,
  });
  req.onBody?.(custodian, body);
  let resp: Response;
  try {
    resp = await new SignedFetch(c.url, `operator:${req.operatorId}`, req.key).raw("POST", "/v1/releases", { body });
  } catch (e) {
    return { custodian, kind: "unavailable", message: (e as Error).message };
  }
  let data: Record<string, unknown>;
  try {
    data = (await resp.json()) as Record<string, unknown>;
  } catch {
    return { custodian, kind: "unavailable", message: `HTTP ${resp.status}` };
  }
  if (resp.status !== 200) {
    const err = (data["error"] ?? {}) as Record<string, unknown>;
    const log = (data["log"] ?? null) as Record<string, unknown> | null;
    return {
      custodian,
      kind: "refused",
      status: resp.status,
      reason: String(err["code"] ?? "unknown"),
      message: String(err["message"] ?? ""),
      log:
        log !== null && typeof log === "object" && typeof log["checkpoint"] === "string"
          ? {
              index: Number.isSafeInteger(log["index"]) ? (log["index"] as number) : null,
              checkpoint: log["checkpoint"],
            }
          : null,
    };
  }
  try {
    const receipt = data["log"] as LogReceipt;
    const entry = verifyReceipt(c, receipt, req.witnesses ?? null);
    const releaseId = String(data["release_id"]);
    const results = data["items"];
    if (!Array.isArray(results) || results.length !== req.recordings.length)
      throw new Error("not one result per recording asked for");
    const sealed = new Map<string, Uint8Array>();
    const refused = new Map<string, string>();
    const received: RecordingMetadata[] = [];
    req.recordings.forEach((rec, i) => {
      const item = results[i] as Record<string, unknown>;
      const rid = rec.metadata.recording_id;
      if (item["recording_id"] !== rid) throw new Error("results are not in the order of the request");
      if (item["status"] === "released") {
        sealed.set(rid, b64decodePadded(String(item["sealed_share"])));
        received.push(rec.metadata);
      } else refused.set(rid, String(item["reason"]));
    });
    const problems = entryProblems(c, entry, {
      releaseId,
      siteId,
      operatorId: req.operatorId,
      purpose: req.purpose,
      justificationSha256: info.sha256,
      sessionPublicKey: req.session.publicKey,
      released: received,
    });
    if (problems.length > 0) throw new Error(`log entry does not match the request: ${problems.join("; ")}`);
    const logIndex = Number(receipt.index);
    return {
      custodian,
      kind: "released",
      releaseId,
      sealed,
      refused,
      logIndex,
      checkpoint: String(receipt.checkpoint),
    };
  } catch (e) {
    if (e instanceof Unwitnessed)
      return { custodian, kind: "unwitnessed", message: e.message, checkpoint: e.checkpoint };
    return { custodian, kind: "unavailable", message: `${custodian}: ${(e as Error).message}` };
  }
}

export interface Gathered {
  outcomes: CustodianOutcome[];
  /** Releases that released something, in arrival order (only as many as each recording needs). */
  releases: Extract<CustodianOutcome, { kind: "released" }>[];
  /** Every custodian's outcome once all have answered (those still answering when the
   *  threshold was met included: their refusals are shown, their receipts go to the customer). */
  all: Promise<CustodianOutcome[]>;
}

/** Ask every custodian concurrently; return once each recording has `threshold` releases or
 *  can no longer get them. Throws ThresholdNotMet (with every outcome) when none can. */
export async function gatherReleases(
  custodians: readonly CustodianEndpoint[],
  threshold: number,
  req: ReleaseRequest,
): Promise<Gathered> {
  const wanted = req.recordings.map((r) => r.metadata.recording_id);
  const counts = new Map<string, number>();
  const outcomes: CustodianOutcome[] = [];
  const releases: Gathered["releases"] = [];
  let pending = custodians.length;
  const settled = (): boolean =>
    wanted.every((r) => (counts.get(r) ?? 0) >= threshold || (counts.get(r) ?? 0) + pending < threshold);
  const answers: Promise<CustodianOutcome>[] = [];
  await new Promise<void>((resolve) => {
    if (pending === 0) resolve();
    for (const c of custodians) {
      const answer = requestRelease(c, req);
      answers.push(answer);
      void answer.then((o) => {
        pending -= 1;
        outcomes.push(o);
        if (
          o.kind === "released" &&
          o.sealed.size > 0 &&
          [...o.sealed.keys()].some((r) => (counts.get(r) ?? 0) < threshold)
        ) {
          releases.push(o);
          for (const r of o.sealed.keys()) counts.set(r, (counts.get(r) ?? 0) + 1);
        }
        // a refusal waits for every answer (the page shows each custodian's reason)
        if (pending === 0 || (settled() && wanted.some((r) => (counts.get(r) ?? 0) >= threshold))) resolve();
      });
    }
  });
  if (!wanted.some((r) => (counts.get(r) ?? 0) >= threshold)) throw new ThresholdNotMet(outcomes);
  return { outcomes, releases, all: Promise.all(answers) };
}

/** Open each custodian's share of `rec` and combine them (header MAC checked): the file key. */
export function recoverFileKey(releases: Gathered["releases"], rec: ReleaseRecording, session: SessionKey): Uint8Array {
  const rid = rec.metadata.recording_id;
  const shares: Share[] = [];
  for (const rel of releases) {
    const sealed = rel.sealed.get(rid);
    if (sealed !== undefined) shares.push(openReleasedShare(sealed, session, rec.metadata, rel.releaseId));
  }
  if (shares.length === 0) throw new Error(`no custodian released a share of ${rid}`);
  return combineFileKey(shares, rec.header);
}

export { SessionKey };
