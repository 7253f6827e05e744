// One camera's manifest chain (mirrors crypto/statements/chain.py; docs/FORMAT.md part 3.5
// "Chain rule"): every problem is reported with its kind, position and sequence number, so
// the timeline can show deletions, insertions, reordering and forks instead of hiding them.

import { equalBytes, fromHex } from "../bytes";
import type { Ed25519PublicKey } from "../ed25519";
import { DeviceKeys } from "./devices";
import { SignatureError, StatementError } from "../errors";
import { statementHash, verifyStatement, type SignedStatement } from "./envelope";
import type { JsonObject } from "./fields";

export const MANIFEST_TYPE = "camvault/v1/manifest";

export type ChainProblemKind =
  | "bad-signature" // not signed by this camera's key (foreign / forged)
  | "not-a-manifest" // another statement type in the list
  | "device-revoked" // signed by a camera key at/after its revocation (DeviceRevocation)
  | "wrong-camera" // validly signed but for another site or camera
  | "out-of-order" // sequence goes backwards: reordering
  | "duplicate-sequence" // a sequence number appears more than once
  | "missing" // a gap in the sequence numbers: deletion
  | "prev-hash-mismatch" // link broken: insertion or substitution
  | "truncated"; // fewer manifests than the camera is known to have made

export interface ChainProblem {
  kind: ChainProblemKind;
  index: number | null;
  sequence: number | null;
  detail: string;
}

/** The last manifest of this camera already verified (for incremental checks). */
export interface ChainAnchor {
  sequence: number;
  manifestHash: Uint8Array;
}

type Entry = { i: number; m: JsonObject; h: Uint8Array };

export function verifyChain(
  manifests: readonly SignedStatement[],
  cameraKey: Ed25519PublicKey | DeviceKeys,
  opts: { siteId: string; cameraId: string; anchor?: ChainAnchor; expectedLastSequence?: number },
): ChainProblem[] {
  const problems: ChainProblem[] = [];
  const report = (kind: ChainProblemKind, index: number | null, sequence: number | null, detail: string): void => {
    problems.push({ kind, index, sequence, detail });
  };
  const entries: Entry[] = [];
  const keys = DeviceKeys.of(cameraKey);
  manifests.forEach((signed, i) => {
    let m: JsonObject;
    try {
      m = verifyStatement(signed, keys.keyFor(signed), MANIFEST_TYPE);
    } catch (e) {
      if (e instanceof SignatureError) return report("bad-signature", i, null, e.message);
      if (e instanceof StatementError) return report("not-a-manifest", i, null, e.message);
      throw e;
    }
    const from = keys.revokedAt(signed.signer, m.issued_at_ms as number);
    if (from !== null)
      return report(
        "device-revoked",
        i,
        m.sequence as number,
        `manifest signed at ${m.issued_at_ms} by a key of camera ${opts.cameraId} revoked from ${from}`,
      );
    if (m.site_id !== opts.siteId || m.camera_id !== opts.cameraId)
      return report(
        "wrong-camera",
        i,
        m.sequence as number,
        `manifest of ${m.site_id}/${m.camera_id}, expected ${opts.siteId}/${opts.cameraId}`,
      );
    entries.push({ i, m, h: statementHash(signed) });
  });

  const start = opts.anchor === undefined ? 0 : opts.anchor.sequence + 1;
  let last: number | null = null;
  const bySeq = new Map<number, Entry[]>();
  for (const e of entries) {
    const seq = e.m.sequence as number;
    if (seq < start) {
      report("out-of-order", e.i, seq, `sequence ${seq} is at or before the anchor (next expected ${start})`);
      continue;
    }
    if (last !== null && seq < last) report("out-of-order", e.i, seq, `sequence ${seq} after ${last}`);
    last = seq;
    bySeq.set(seq, [...(bySeq.get(seq) ?? []), e]);
  }
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);

  for (const seq of seqs) {
    const group = bySeq.get(seq)!;
    if (group.length > 1) {
      const distinct = new Set(group.map((g) => g.h.join())).size;
      const how =
        distinct === 1 ? "the same manifest listed again" : `${distinct} different manifests (fork or substitution)`;
      report("duplicate-sequence", group[1]!.i, seq, `sequence ${seq} appears ${group.length} times: ${how}`);
    }
  }

  const top = seqs.length > 0 ? seqs[seqs.length - 1]! : start - 1;
  let expected = start;
  for (const seq of seqs) {
    if (seq > expected) report("missing", null, expected, `sequence ${expected}..${seq - 1} missing (deleted)`);
    expected = seq + 1;
  }
  if (opts.expectedLastSequence !== undefined && opts.expectedLastSequence > top)
    report(
      "truncated",
      null,
      top + 1,
      `sequence ${top + 1}..${opts.expectedLastSequence} missing at the end (deleted)`,
    );

  for (const seq of seqs) {
    if (seq === 0) continue; // parsing guarantees prev_manifest_sha256 is null for sequence 0
    let allowed: Uint8Array[];
    if (opts.anchor !== undefined && seq - 1 === opts.anchor.sequence) allowed = [opts.anchor.manifestHash];
    else if (bySeq.has(seq - 1)) allowed = bySeq.get(seq - 1)!.map((g) => g.h);
    else continue; // predecessor missing: already reported
    for (const g of bySeq.get(seq)!) {
      const prev = fromHex(g.m.prev_manifest_sha256 as string);
      if (!allowed.some((a) => equalBytes(a, prev)))
        report(
          "prev-hash-mismatch",
          g.i,
          seq,
          `sequence ${seq} does not link to the manifest with sequence ${seq - 1}`,
        );
    }
  }
  return problems;
}
