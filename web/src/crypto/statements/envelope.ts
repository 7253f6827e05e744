// The signed-statement envelope of docs/FORMAT.md part 3.3 (mirrors
// crypto/statements/envelope.py):
//
//   wire form      = JCS({"body", "sig", "signer", "type"})
//   signed-message = domain || 0x0A || JCS({"body": body, "signer": signer, "type": domain})
//   statement-hash = SHA-256(wire form)                         (part 3.4)

import { sha256 } from "@noble/hashes/sha2.js";
import { canonicalJson, parseCanonicalJson, type Json } from "../canonical";
import { b64urlEncode } from "../base64";
import { concat, utf8 } from "../bytes";
import { decodeKeyText, Ed25519PublicKey, Ed25519SigningKey, SIGNATURE_SIZE } from "../ed25519";
import { KeyFormatError, SignatureError, StatementError } from "../errors";
import { checkBody, STATEMENT_TYPES } from "./bodies";
import { requireMembers, type JsonObject } from "./fields";

export const MAX_STATEMENT_SIZE = 64 * 1024;
const ENVELOPE_FIELDS = ["body", "sig", "signer", "type"] as const;

/** A strictly parsed statement whose signature has NOT been checked yet: use verifyStatement. */
export interface SignedStatement {
  readonly type: string;
  readonly unverifiedBody: JsonObject;
  readonly signer: Ed25519PublicKey;
  readonly signature: Uint8Array;
  /** The exact wire bytes (canonical, so equal to the re-encoding). */
  readonly encoded: Uint8Array;
}

/** The bytes the Ed25519 signature covers. */
export function signedMessage(domain: string, signer: Ed25519PublicKey, body: Json): Uint8Array {
  const unsigned = { body, signer: signer.toText(), type: domain };
  return concat(utf8(domain + "\n"), canonicalJson(unsigned));
}

/** Steps 1-4 of the verifier (part 3.3): size, canonical JSON, envelope, body schema. */
export function parseSigned(data: Uint8Array): SignedStatement {
  if (data.length > MAX_STATEMENT_SIZE)
    throw new StatementError(`signed statement: larger than ${MAX_STATEMENT_SIZE} bytes`);
  const env = requireMembers(parseCanonicalJson(data), "signed statement", ENVELOPE_FIELDS);
  const domain = env.type;
  if (typeof domain !== "string" || !STATEMENT_TYPES.includes(domain))
    throw new StatementError(`signed statement: unknown type ${JSON.stringify(domain)}`);
  let signer: Ed25519PublicKey;
  let sig: Uint8Array;
  try {
    signer = Ed25519PublicKey.fromText(env.signer, "signed statement: signer");
    if (typeof env.sig !== "string") throw new StatementError("signed statement: sig must be a base64url string");
    sig = decodeKeyText(env.sig, "signed statement: sig");
  } catch (e) {
    if (e instanceof KeyFormatError) throw new StatementError(e.message);
    throw e;
  }
  if (sig.length !== SIGNATURE_SIZE)
    throw new StatementError(`signed statement: sig must encode ${SIGNATURE_SIZE} bytes, got ${sig.length}`);
  const body = checkBody(domain, env.body);
  return { type: domain, unverifiedBody: body, signer, signature: sig, encoded: Uint8Array.from(data) };
}

/**
 * Steps 5-6: the type the caller expects, the key its trust rules require (null accepts the
 * envelope's signer: only for self-signed first enrollment), and the signature. Returns the
 * body, now verified.
 */
export function verifyStatement(
  signed: SignedStatement,
  expectedKey: Ed25519PublicKey | null,
  expectedType: string,
): JsonObject {
  if (signed.type !== expectedType)
    throw new StatementError(`statement type is ${signed.type}, expected ${expectedType}`);
  const key = expectedKey ?? signed.signer;
  if (!signed.signer.equals(key))
    throw new SignatureError(`statement signed by ${signed.signer.toText()}, expected ${key.toText()}`);
  key.verify(signedMessage(signed.type, signed.signer, signed.unverifiedBody), signed.signature);
  return signed.unverifiedBody;
}

/** SHA-256 of the wire form (part 3.4); a manifest's hash chains the next manifest. */
export function statementHash(signed: SignedStatement): Uint8Array {
  return sha256(signed.encoded);
}

/** Sign `body` as a statement of `domain` (consents and revocations signed in the browser). */
export function signStatement(domain: string, body: JsonObject, key: Ed25519SigningKey): SignedStatement {
  checkBody(domain, body);
  const signer = key.publicKey;
  const signature = key.sign(signedMessage(domain, signer, body));
  const encoded = canonicalJson({ body, sig: b64urlEncode(signature), signer: signer.toText(), type: domain });
  return parseSigned(encoded);
}
