// The operator's state files as `camvault operator init` leaves them (clients/operator/state.py):
// operator.key (the personal Ed25519 signing key, ed25519-secret:..., which signs requests as
// keyid operator:<id>) and config.json (operator_id, role, storage_url, custodians with their
// pinned escrow and log keys, and the site's witnesses when `operator init --witness` named
// them: {"witnesses": [<verifier key>...], "quorum": q, "urls": [...]}). Picked together or
// pasted in one piece.

import { parseCustodianPublicKey } from "../crypto/bech32";
import { parseHybridCustodianPublicKey } from "../crypto/escrow/pqkeys";
import { witnessPolicyFromJson, type WitnessPolicy } from "../crypto/cosignature";
import { Ed25519PublicKey, Ed25519SigningKey } from "../crypto/ed25519";
import type { CustodianEndpoint } from "../portal/keyfile";

export type OperatorRole = "operator" | "technician";

export interface OperatorKeys {
  /** ed25519-secret:... (signs requests; never sent) */
  key: string;
  operatorId: string;
  role: OperatorRole;
  storageUrl: string;
  custodians: CustodianEndpoint[];
  /** config.json's `witnesses` as the CLI keeps it (checked), or null: receipts are then
   *  checked against each custodian's log key only (clients/operator/state.py). */
  witnesses: OperatorWitnesses | null;
}

/** The witnesses entry of the CLI's config.json (WitnessPolicy.to_json plus the urls). */
export interface OperatorWitnesses {
  witnesses: string[];
  quorum: number;
  max_age_s?: number;
  /** for people; never contacted */
  urls: string[];
}

/** Check config.json's `witnesses` (WitnessPolicy.from_json): every key a witness verifier
 *  key, the quorum 1..n, no key twice. */
export function operatorWitnesses(w: unknown): OperatorWitnesses | null {
  if (w === undefined || w === null) return null;
  let policy: WitnessPolicy;
  try {
    policy = witnessPolicyFromJson(w);
  } catch (e) {
    throw new OperatorKeyError(`config.json: ${(e as Error).message}`);
  }
  const keys = policy.witnesses.map((v) => v.toText());
  if (new Set(keys).size !== keys.length) throw new OperatorKeyError("config.json: a witness key is given twice");
  const o = w as Record<string, unknown>;
  const urls = o["urls"] ?? [];
  if (!Array.isArray(urls) || !urls.every((u) => typeof u === "string"))
    throw new OperatorKeyError("config.json: witnesses.urls must be a list of strings");
  const out: OperatorWitnesses = { witnesses: keys, quorum: policy.quorum, urls: urls as string[] };
  if (o["max_age_s"] !== undefined) out.max_age_s = policy.maxAgeS;
  return out;
}

/** The policy a release checks receipts against (null: no witnesses configured). */
export function witnessPolicy(w: OperatorWitnesses | null): WitnessPolicy | null {
  return w === null ? null : witnessPolicyFromJson(w);
}

export class OperatorKeyError extends Error {
  override name = "OperatorKeyError";
}

const KEY = /^ed25519-secret:[A-Za-z0-9_\-+/=]+$/m;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The first JSON object in the text that has an "operator_id" (config.json), or null. */
function findConfig(text: string): Record<string, unknown> | null {
  for (let start = text.indexOf("{"); start !== -1; start = text.indexOf("{", start + 1)) {
    for (let end = text.lastIndexOf("}"); end > start; end = text.lastIndexOf("}", end - 1)) {
      try {
        const obj: unknown = JSON.parse(text.slice(start, end + 1));
        if (obj !== null && typeof obj === "object" && !Array.isArray(obj) && "operator_id" in obj)
          return obj as Record<string, unknown>;
      } catch {
        // not this span
      }
    }
  }
  return null;
}

function custodian(c: unknown, i: number): CustodianEndpoint {
  const o = (c ?? {}) as Record<string, unknown>;
  const what = `config.json: custodian ${i + 1}`;
  for (const k of ["custodian_id", "url", "escrow_key", "log_key"])
    if (typeof o[k] !== "string") throw new OperatorKeyError(`${what}: ${k} missing`);
  const ep = o as unknown as CustodianEndpoint;
  const hybrid = o["hybrid_escrow_key"] ?? null; // absent or null: none (CustodianEndpoint.from_json)
  if (hybrid !== null && typeof hybrid !== "string") throw new OperatorKeyError(`${what}: hybrid_escrow_key malformed`);
  try {
    parseCustodianPublicKey(ep.escrow_key);
    if (hybrid !== null) parseHybridCustodianPublicKey(hybrid);
    Ed25519PublicKey.fromText(ep.log_key);
    new URL(ep.url);
  } catch (e) {
    throw new OperatorKeyError(`${what}: ${(e as Error).message}`);
  }
  return {
    custodian_id: ep.custodian_id,
    url: ep.url.replace(/\/+$/, ""),
    escrow_key: ep.escrow_key,
    log_key: ep.log_key,
    ...(hybrid !== null ? { hybrid_escrow_key: hybrid } : {}),
  };
}

/** Check config.json's shape (as OperatorConfig.from_json reads it). */
export function operatorConfig(obj: Record<string, unknown>): Omit<OperatorKeys, "key"> {
  const id = obj["operator_id"];
  if (typeof id !== "string" || !ID_RE.test(id)) throw new OperatorKeyError("config.json: operator_id is malformed");
  const role = obj["role"];
  if (role !== "operator" && role !== "technician")
    throw new OperatorKeyError("config.json: role must be 'operator' or 'technician'");
  const url = obj["storage_url"];
  if (typeof url !== "string") throw new OperatorKeyError("config.json: storage_url missing");
  const list = obj["custodians"];
  if (!Array.isArray(list) || list.length === 0) throw new OperatorKeyError("config.json: no custodians");
  return {
    operatorId: id,
    role,
    storageUrl: url.replace(/\/+$/, ""),
    custodians: list.map(custodian),
    witnesses: operatorWitnesses(obj["witnesses"]),
  };
}

/** operator.key and config.json, from the text of the files picked or pasted. */
export function parseOperatorFiles(text: string): OperatorKeys {
  const key = KEY.exec(text)?.[0];
  if (!key) throw new OperatorKeyError("no operator key found (operator.key: ed25519-secret:...)");
  try {
    Ed25519SigningKey.fromText(key);
  } catch (e) {
    throw new OperatorKeyError(`operator.key: ${(e as Error).message}`);
  }
  const config = findConfig(text);
  if (config === null) throw new OperatorKeyError("no config.json found (it names operator_id, role, custodians)");
  return { key, ...operatorConfig(config) };
}
