// Statement bodies of docs/FORMAT.md part 3.5, one schema per domain (mirrors
// crypto/statements/bodies.py): exact member set, exact JSON types, ranges, then the
// cross-field rules of each type.

import { KeyFormatError, StatementError } from "../errors";
import { parseAgeRecipient, parseCustodianPublicKey } from "../bech32";
import { hybridX25519Half, normalizedX25519, parseHybridCustodianPublicKey } from "../escrow/pqkeys";
import {
  array,
  BOOL,
  checkRecord,
  isObject,
  COUNTER,
  ESCROW_KEY,
  ID,
  integer,
  MAX_SAFE,
  nested,
  oneOf,
  optional,
  PUBKEY,
  RECIPIENT,
  SHA256,
  TEXT,
  TIME,
  URL,
  type Check,
  type JsonObject,
  type Schema,
} from "./fields";
import type { Json } from "../canonical";

export const DOMAIN_PREFIX = "camvault/v1/";
export const MAX_CONSENT_VALIDITY_MS = 7 * 24 * 3600 * 1000;
/** Longest interval a camera may promise between two chain heads (a day). */
export const MAX_HEAD_INTERVAL_S = 86400;
const MIN_THRESHOLD = 2;
const MAX_CUSTODIANS = 16;

function unique(values: Json[], what: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    const k = String(v);
    if (seen.has(k)) throw new StatementError(`${what}: duplicate element ${k}`);
    seen.add(k);
  }
}

const num = (o: JsonObject, k: string): number => o[k] as number;

const CUSTODIAN: Schema = { custodian_id: ID, escrow_key: ESCROW_KEY, log_key: PUBKEY, url: URL };
// A custodian's hybrid (ML-KEM-768 + X25519) escrow key, if it publishes one: left out of the
// JSON otherwise, never null (one encoding; SiteKeys from before it keep their bytes).
const HYBRID_ESCROW_KEY: Check = (v, what) => {
  if (v === null) throw new StatementError(`${what}: leave it out instead of null`);
  if (typeof v !== "string") throw new StatementError(`${what}: must be a camvault-custodian-pq1... string`);
  try {
    parseHybridCustodianPublicKey(v);
  } catch (e) {
    if (e instanceof KeyFormatError) throw new StatementError(`${what}: ${e.message}`);
    throw e;
  }
};
const CUSTODIAN_CHECK: Check = (v, what) =>
  nested(isObject(v) && "hybrid_escrow_key" in v ? { ...CUSTODIAN, hybrid_escrow_key: HYBRID_ESCROW_KEY } : CUSTODIAN)(
    v,
    what,
  );
const CAMERA_PROFILE: Schema = {
  pre_alarm_s: integer(0, 3600),
  post_alarm_s: integer(0, 3600),
  live_allowed: BOOL,
  stills_only: BOOL,
};

// leftOutAt: members written only when they differ from this value (the parsed body has none)
type BodyType = { schema: Schema; leftOutAt?: JsonObject; rule?: (o: JsonObject) => void };

export const BODY_TYPES: { readonly [name: string]: BodyType } = {
  "site-keys": {
    schema: {
      site_id: ID,
      version: integer(1, MAX_SAFE),
      customer_key: PUBKEY,
      recipients: array(RECIPIENT, 1, 64, true),
      custodians: array(CUSTODIAN_CHECK, MIN_THRESHOLD, MAX_CUSTODIANS),
      threshold: integer(MIN_THRESHOLD, MAX_CUSTODIANS),
      issued_at_ms: TIME,
    },
    rule: (o) => {
      const w = "site-keys";
      const custodians = o.custodians as JsonObject[];
      unique(
        custodians.map((c) => c.custodian_id as Json),
        `${w}.custodians custodian_id`,
      );
      unique(
        custodians.map((c) => c.escrow_key as Json),
        `${w}.custodians escrow_key`,
      );
      unique(
        custodians.map((c) => c.log_key as Json),
        `${w}.custodians log_key`,
      );
      // An escrow key listed as a plain recipient would hand that custodian the file key
      // (compared as X25519 uses them: another spelling of a key is the same key).
      const recipients = new Set((o.recipients as string[]).map((r) => normalizedX25519(parseAgeRecipient(r))));
      if (custodians.some((c) => recipients.has(normalizedX25519(parseCustodianPublicKey(c.escrow_key as string)))))
        throw new StatementError(`${w}: a custodian escrow_key is also listed in recipients`);
      const hybrid = custodians.filter((c) => "hybrid_escrow_key" in c).map((c) => c.hybrid_escrow_key as string);
      unique(hybrid, `${w}.custodians hybrid_escrow_key`);
      // Its owner holds that X25519 secret: it would open the customer's stanza.
      if (hybrid.some((h) => recipients.has(normalizedX25519(hybridX25519Half(parseHybridCustodianPublicKey(h))))))
        throw new StatementError(`${w}: a custodian hybrid_escrow_key's X25519 half is a recipient`);
      integer(MIN_THRESHOLD, custodians.length)(o.threshold, `${w}.threshold`);
    },
  },
  "device-enrollment": {
    schema: {
      site_id: ID,
      device_id: ID,
      kind: oneOf("camera", "panel"),
      model: TEXT,
      device_key: PUBKEY,
      camera_profile: optional(
        nested(CAMERA_PROFILE, (p) => {
          if (p.stills_only === true && p.live_allowed === true)
            throw new StatementError("camera_profile: stills_only excludes live_allowed");
        }),
      ),
      issued_at_ms: TIME,
      version: integer(1, MAX_SAFE),
    },
    // version 1 (an enrollment from before key rotation) is written without the member
    leftOutAt: { version: 1 },
    rule: (o) => {
      if (o.kind === "camera" && o.camera_profile === null)
        throw new StatementError("device-enrollment.camera_profile: required for a camera");
      if (o.kind === "panel" && o.camera_profile !== null)
        throw new StatementError("device-enrollment.camera_profile: must be null for a panel");
    },
  },
  "device-revocation": {
    schema: {
      site_id: ID,
      device_id: ID,
      kind: oneOf("camera", "panel"),
      device_key: PUBKEY,
      revoked_from_ms: TIME,
      reason: TEXT,
      issued_at_ms: TIME,
    },
  },
  manifest: {
    schema: {
      site_id: ID,
      camera_id: ID,
      recording_id: ID,
      kind: oneOf("segment", "clip", "live", "still", "event"),
      start_ms: TIME,
      end_ms: TIME,
      payload_sha256: SHA256,
      payload_size: COUNTER,
      header_sha256: SHA256,
      sequence: COUNTER,
      prev_manifest_sha256: optional(SHA256),
      issued_at_ms: TIME,
    },
    rule: (o) => {
      if (num(o, "end_ms") < num(o, "start_ms"))
        throw new StatementError("manifest.end_ms: must not be before start_ms");
      const what = "manifest.prev_manifest_sha256";
      if (o.sequence === 0 && o.prev_manifest_sha256 !== null)
        throw new StatementError(`${what}: must be null for sequence 0`);
      if (o.sequence !== 0 && o.prev_manifest_sha256 === null)
        throw new StatementError(`${what}: required for sequence > 0`);
    },
  },
  "chain-head": {
    schema: {
      site_id: ID,
      camera_id: ID,
      sequence: optional(COUNTER),
      manifest_sha256: optional(SHA256),
      issued_at_ms: TIME,
      interval_s: integer(1, MAX_HEAD_INTERVAL_S),
    },
    rule: (o) => {
      if ((o.sequence === null) !== (o.manifest_sha256 === null))
        throw new StatementError("chain-head.manifest_sha256: null exactly when sequence is null (no manifest yet)");
    },
  },
  "recording-deletion": {
    schema: { site_id: ID, camera_id: ID, recording_ids: array(ID, 1, 1000, true), issued_at_ms: TIME },
  },
  "retention-policy": {
    schema: { site_id: ID, retention_days: optional(integer(1, 36500)), issued_at_ms: TIME },
  },
  "alarm-event": {
    schema: {
      site_id: ID,
      panel_id: ID,
      event_id: ID,
      alarm_type: oneOf("intrusion", "fire", "panic", "tamper", "medical", "other"),
      triggered_at_ms: TIME,
      counter: COUNTER,
    },
  },
  "alarm-cancel": { schema: { site_id: ID, panel_id: ID, event_id: ID, issued_at_ms: TIME } },
  "alarm-close": { schema: { site_id: ID, panel_id: ID, event_id: ID, operator_id: ID, closed_at_ms: TIME } },
  consent: {
    schema: {
      consent_id: ID,
      site_id: ID,
      grantee_id: ID,
      grantee_key: optional(PUBKEY),
      cameras: array(ID, 1, 256, true),
      scope: array(oneOf("live", "recordings", "stills"), 1, 3, true),
      recordings_from_ms: TIME,
      recordings_to_ms: TIME,
      not_before_ms: TIME,
      not_after_ms: TIME,
      purpose: oneOf("maintenance"),
      issued_at_ms: TIME,
    },
    rule: (o) => {
      if (num(o, "recordings_to_ms") < num(o, "recordings_from_ms"))
        throw new StatementError("consent.recordings_to_ms: must not be before recordings_from_ms");
      if (num(o, "not_after_ms") <= num(o, "not_before_ms"))
        throw new StatementError("consent.not_after_ms: must be after not_before_ms");
      if (num(o, "not_after_ms") - num(o, "not_before_ms") > MAX_CONSENT_VALIDITY_MS)
        throw new StatementError(`consent: validity period longer than the maximum of ${MAX_CONSENT_VALIDITY_MS} ms`);
    },
  },
  revocation: { schema: { site_id: ID, consent_id: ID, issued_at_ms: TIME } },
  "operator-registration": {
    schema: { operator_id: ID, operator_key: PUBKEY, role: oneOf("operator", "technician"), issued_at_ms: TIME },
  },
};

/** The domains a v1 parser knows ("camvault/v1/" || type-name, FORMAT.md part 3.2). */
export const STATEMENT_TYPES: readonly string[] = Object.keys(BODY_TYPES).map((n) => DOMAIN_PREFIX + n);

/** Check `body` strictly against the schema of `domain` (a known domain). */
export function checkBody(domain: string, body: Json | undefined): JsonObject {
  const name = domain.slice(DOMAIN_PREFIX.length);
  const type = BODY_TYPES[name];
  if (!domain.startsWith(DOMAIN_PREFIX) || type === undefined)
    throw new StatementError(`signed statement: unknown type '${domain}'`);
  let schema = type.schema;
  for (const [member, value] of Object.entries(type.leftOutAt ?? {})) {
    if (isObject(body) && body[member] === value)
      throw new StatementError(`${name}.${member}: ${String(value)} is written by leaving it out`);
    if (isObject(body) && !(member in body))
      schema = Object.fromEntries(Object.entries(schema).filter(([k]) => k !== member));
  }
  const obj = checkRecord(body, name, schema);
  type.rule?.(obj);
  return obj;
}
