// Recording metadata bound into escrow stanzas and released shares (mirrors
// crypto/metadata.py; docs/FORMAT.md "Recording metadata"):
//   associated data = "camvault/v1/recording-metadata" LF || JCS(the six members)

import { canonicalJson } from "./canonical";
import { concat, utf8 } from "./bytes";
import { StatementError } from "./errors";

export const RECORDING_KINDS = ["segment", "clip", "live", "still", "event"] as const;
export type RecordingKind = (typeof RECORDING_KINDS)[number];

export interface RecordingMetadata {
  site_id: string;
  camera_id: string;
  recording_id: string;
  kind: RecordingKind;
  start_ms: number;
  end_ms: number;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const METADATA_DOMAIN = utf8("camvault/v1/recording-metadata\n");

export function checkMetadata(m: RecordingMetadata): void {
  for (const k of ["site_id", "camera_id", "recording_id"] as const)
    if (typeof m[k] !== "string" || !ID_RE.test(m[k]))
      throw new StatementError(`${k}: must be 1-128 characters of [A-Za-z0-9._:-], starting alphanumeric`);
  if (!RECORDING_KINDS.includes(m.kind)) throw new StatementError("kind: must be a RecordingKind");
  for (const k of ["start_ms", "end_ms"] as const)
    if (!Number.isSafeInteger(m[k]) || m[k] < 0)
      throw new StatementError(`${k}: must be an integer number of milliseconds >= 0`);
  if (m.end_ms < m.start_ms) throw new StatementError("end_ms: must not be before start_ms");
}

export function associatedData(m: RecordingMetadata): Uint8Array {
  checkMetadata(m);
  const { site_id, camera_id, recording_id, kind, start_ms, end_ms } = m;
  return concat(METADATA_DOMAIN, canonicalJson({ site_id, camera_id, recording_id, kind, start_ms, end_ms }));
}
