// Self-certifying site ids and the site-keys pinning rule (mirrors crypto/siteid.py and
// verify_site_keys in crypto/statements/envelope.py; docs/FORMAT.md part 3.5 site-keys):
//   site id = label || "-" || lowercase(base32(SHA-256("camvault/v1/site-id" LF || key)[0..16]))

import { sha256 } from "@noble/hashes/sha2.js";
import { base32 } from "@scure/base";
import { concat, utf8 } from "../bytes";
import { Ed25519PublicKey } from "../ed25519";
import { StatementError } from "../errors";
import { verifyStatement, type SignedStatement } from "./envelope";
import type { JsonObject } from "./fields";

const DOMAIN = utf8("camvault/v1/site-id\n");
const TAG_BYTES = 16;
export const SITE_KEYS_TYPE = "camvault/v1/site-keys";

/** A site id that is not bound to the customer key it is enrolled with. */
export class SiteIdError extends StatementError {
  override name = "SiteIdError";
}

export function siteTag(customerKey: Ed25519PublicKey): string {
  const digest = sha256(concat(DOMAIN, customerKey.raw)).subarray(0, TAG_BYTES);
  return base32.encode(digest).replace(/=+$/, "").toLowerCase();
}

export function isBound(siteId: string, customerKey: Ed25519PublicKey): boolean {
  const suffix = "-" + siteTag(customerKey);
  return siteId.length > suffix.length && siteId.endsWith(suffix);
}

export function checkSiteId(siteId: string, customerKey: Ed25519PublicKey): string {
  if (!isBound(siteId, customerKey))
    throw new SiteIdError(
      `site id '${siteId}' is not bound to customer key ${customerKey.toText()} (a site id ends with '-${siteTag(customerKey)}' for this key)`,
    );
  return siteId;
}

/**
 * Trust on first use for site keys: with nothing pinned, the statement must be signed by its
 * own customer_key and its site id bound to that key; with a pinned body, it must name the
 * same site, have a greater version and be signed by the pinned customer_key (a rotation is
 * signed by the old key). Returns the verified body, to pin.
 */
export function verifySiteKeys(signed: SignedStatement, pinned: JsonObject | null): JsonObject {
  if (signed.type !== SITE_KEYS_TYPE)
    throw new StatementError(`statement type is ${signed.type}, expected ${SITE_KEYS_TYPE}`);
  if (pinned === null) {
    const claimed = Ed25519PublicKey.fromText(signed.unverifiedBody.customer_key);
    const site = verifyStatement(signed, claimed, SITE_KEYS_TYPE);
    checkSiteId(site.site_id as string, claimed);
    return site;
  }
  const site = verifyStatement(signed, Ed25519PublicKey.fromText(pinned.customer_key), SITE_KEYS_TYPE);
  if (site.site_id !== pinned.site_id)
    throw new StatementError(`site-keys: for site '${site.site_id}', pinned '${pinned.site_id}'`);
  if ((site.version as number) <= (pinned.version as number))
    throw new StatementError(`site-keys: version ${site.version} is not newer than pinned version ${pinned.version}`);
  return site;
}
