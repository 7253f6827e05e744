// The customer's key material as `camvault customer init` and `site create` leave it in the
// state directory (clients/customer/state.py): identity.txt (the age X25519 identity,
// AGE-SECRET-KEY-1...), site.key (the Ed25519 site key, ed25519-secret:..., which signs the
// customer's requests as keyid customer:<site id>) and config.json (its "site_id"). The
// portal accepts those files picked together, or their text pasted in one piece.

import { identityToRecipient } from "../crypto/age";
import { Ed25519SigningKey } from "../crypto/ed25519";
import { witnessPolicyFromJson } from "../crypto/cosignature";

/** A custodian as config.json lists it (clients/api/escrow.py CustodianEndpoint.to_json). */
export interface CustodianEndpoint {
  custodian_id: string;
  url: string;
  escrow_key: string;
  log_key: string;
  /** camvault-custodian-pq1...: its hybrid (ML-KEM-768 + X25519) escrow key, if it publishes one */
  hybrid_escrow_key?: string;
}

/** What the portal keeps of config.json besides the site id: where the custodians are, the
 *  threshold, the enrolled devices (their keys as the customer signed them), the hashes of
 *  the statements this customer signed (the audit's "was it me?"). */
export interface CustomerConfig {
  custodians: CustodianEndpoint[];
  threshold: number | null;
  devices: Record<string, Record<string, unknown>>;
  signed: string[];
  site_keys: Record<string, unknown> | null;
}

export interface KeyMaterial {
  /** AGE-SECRET-KEY-1... (decrypts recordings; later sessions) */
  identity: string;
  /** ed25519-secret:... (signs requests) */
  siteKey: string;
  siteId: string;
  /** From config.json when it was imported; empty lists otherwise. */
  config: CustomerConfig;
  /** From witnesses.json (`camvault customer witnesses add`) when it was imported: the audit
   * then requires every custodian's checkpoint cosigned by the quorum (docs/WITNESS.md). */
  witnesses?: Record<string, unknown> | null;
}

export class KeyFileError extends Error {
  override name = "KeyFileError";
}

const IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]+$/m;
const SITE_KEY = /^ed25519-secret:[A-Za-z0-9_\-+/=]+$/m;
const SITE_ID_JSON = /"site_id"\s*:\s*"([^"\\]+)"/;

/** The first JSON object in the text that has a "site_id" (config.json), or null. */
function findConfig(text: string, key = "site_id"): Record<string, unknown> | null {
  for (let start = text.indexOf("{"); start !== -1; start = text.indexOf("{", start + 1)) {
    for (let end = text.lastIndexOf("}"); end > start; end = text.lastIndexOf("}", end - 1)) {
      try {
        const obj: unknown = JSON.parse(text.slice(start, end + 1));
        if (obj !== null && typeof obj === "object" && !Array.isArray(obj) && key in obj) {
          return obj as Record<string, unknown>;
        }
      } catch {
        // not this span
      }
    }
  }
  return null;
}

function isCustodian(c: unknown): c is CustodianEndpoint {
  if (c === null || typeof c !== "object") return false;
  const o = c as Record<string, unknown>;
  return ["custodian_id", "url", "escrow_key", "log_key"].every((k) => typeof o[k] === "string");
}

/** config.json's parts the portal uses, checked for shape; missing parts are empty. */
export function customerConfig(obj: Record<string, unknown> | null): CustomerConfig {
  const custodians = Array.isArray(obj?.["custodians"]) ? (obj["custodians"] as unknown[]) : [];
  if (!custodians.every(isCustodian)) throw new KeyFileError("config.json: a custodian entry is malformed");
  const threshold = obj?.["threshold"];
  const devices = obj?.["devices"];
  const signed = obj?.["signed"];
  const siteKeys = obj?.["site_keys"];
  return {
    custodians,
    threshold: typeof threshold === "number" && Number.isInteger(threshold) ? threshold : null,
    devices:
      devices !== null && typeof devices === "object" && !Array.isArray(devices)
        ? (devices as Record<string, Record<string, unknown>>)
        : {},
    signed: Array.isArray(signed) ? signed.filter((x): x is string => typeof x === "string") : [],
    site_keys:
      siteKeys !== null && typeof siteKeys === "object" && !Array.isArray(siteKeys)
        ? (siteKeys as Record<string, unknown>)
        : null,
  };
}
const SITE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Parse and check the pasted text; `siteId` (if not empty) wins over config.json's. */
export async function parseKeyMaterial(text: string, siteId: string): Promise<KeyMaterial> {
  const identity = IDENTITY.exec(text)?.[0];
  if (identity === undefined) throw new KeyFileError("no age identity (AGE-SECRET-KEY-1…) found: add identity.txt");
  const siteKey = SITE_KEY.exec(text)?.[0];
  if (siteKey === undefined) throw new KeyFileError("no site key (ed25519-secret:…) found: add site.key");
  const sid = siteId.trim() || SITE_ID_JSON.exec(text)?.[1] || "";
  if (sid === "") throw new KeyFileError("no site id: add config.json or type the site id");
  if (!SITE_ID.test(sid)) throw new KeyFileError("the site id has characters a site id cannot have");
  try {
    Ed25519SigningKey.fromText(siteKey);
  } catch {
    throw new KeyFileError("the site key is not a valid Ed25519 key");
  }
  try {
    await identityToRecipient(identity);
  } catch {
    throw new KeyFileError("the age identity is not valid");
  }
  const w = findConfig(text, "witnesses");
  let witnesses: Record<string, unknown> | null = null;
  if (w !== null && !("site_id" in w))
    try {
      witnessPolicyFromJson(w); // checked at import: a bad list is refused in one line
      witnesses = w;
    } catch (e) {
      throw new KeyFileError(`witnesses.json: ${(e as Error).message}`);
    }
  return { identity, siteKey, siteId: sid, config: customerConfig(findConfig(text)), witnesses };
}
