// Error classes of src/crypto/, mirroring crypto/errors.py: every failure derives from
// CryptoError so the UI can catch one type at a boundary. Messages name the failure class,
// never the secret involved.

export class CryptoError extends Error {
  override name = "CryptoError";
}

/** An age file could not be decrypted (wraps the age-encryption library's errors). */
export class AgeError extends CryptoError {
  override name = "AgeError";
}

/** A key string (Ed25519, custodian key, note key) is malformed. */
export class KeyFormatError extends CryptoError {
  override name = "KeyFormatError";
}

/** Shamir shares are malformed, duplicated, too few, or inconsistent. */
export class ShareError extends CryptoError {
  override name = "ShareError";
}

/** An escrow stanza or released share could not be opened, or shares do not fit a header. */
export class EscrowError extends CryptoError {
  override name = "EscrowError";
}

/** A signed statement is malformed (unknown field, wrong type, wrong domain, length). */
export class StatementError extends CryptoError {
  override name = "StatementError";
}

/** A signature does not verify under the expected key. */
export class SignatureError extends StatementError {
  override name = "SignatureError";
}

/** An inclusion or consistency proof, a note or a checkpoint does not verify. */
export class LogProofError extends CryptoError {
  override name = "LogProofError";
}

/**
 * A request signature or content digest was refused; `reason` is the stable code of
 * crypto/httpsig.py (signature_malformed, signature_invalid, content_digest_mismatch, ...).
 */
export class HttpSignatureError extends SignatureError {
  override name = "HttpSignatureError";
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
