// The customer's key material as `camvault customer init` and `site create` leave it in the
// state directory (clients/customer/state.py): identity.txt (the age X25519 identity,
// AGE-SECRET-KEY-1...), site.key (the Ed25519 site key, ed25519-secret:..., which signs the
// customer's requests as keyid customer:<site id>) and config.json (its "site_id"). The
// portal accepts those files picked together, or their text pasted in one piece.

import { identityToRecipient } from "../crypto/age";
import { Ed25519SigningKey } from "../crypto/ed25519";

export interface KeyMaterial {
  /** AGE-SECRET-KEY-1... (decrypts recordings; later sessions) */
  identity: string;
  /** ed25519-secret:... (signs requests) */
  siteKey: string;
  siteId: string;
}

export class KeyFileError extends Error {
  override name = "KeyFileError";
}

const IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]+$/m;
const SITE_KEY = /^ed25519-secret:[A-Za-z0-9_\-+/=]+$/m;
const SITE_ID_JSON = /"site_id"\s*:\s*"([^"\\]+)"/;
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
  return { identity, siteKey, siteId: sid };
}
