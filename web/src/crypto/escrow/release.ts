// Release to an operator and combining (mirrors crypto/escrow/release.py; FORMAT.md part 2
// sections 4 and 5). The operator's browser holds a per-request X25519 session key; each
// custodian re-seals its share to it, with one ephemeral key e for a whole release and 16
// random bytes n of each share's own:
//   released = e_pk || n || ChaCha20-Poly1305(HKDF(X25519(e, Q), e_pk || Q,
//                     "camvault.io/v2/escrow-release" || n), 12 zero bytes, share, AD)
//   AD       = metadata AD || LF || "camvault-escrow-release " || release_id
// Combining interpolates the shares and accepts the file key only if the recording's header
// MAC verifies under it (C2SP age, "Header MAC").

import { x25519 } from "@noble/curves/ed25519.js";
import { concat, utf8 } from "../bytes";
import { EscrowError, ShareError } from "../errors";
import { headerMacMatches, parseHeader } from "../ageheader";
import { associatedData, type RecordingMetadata } from "../metadata";
import { combine, decodeShare, type Share } from "./shamir";
import { KEY_SIZE, seal, unsealShared, x25519PublicKey, x25519Shared } from "./seal";
import { BODY_SIZE } from "./stanza";

export const RELEASE_LABEL = utf8("camvault.io/v2/escrow-release");
export const SHARE_NONCE_SIZE = 16;
export const RELEASE_SIZE = KEY_SIZE + SHARE_NONCE_SIZE + BODY_SIZE; // 83 bytes for a file-key share
const FILE_KEY_SIZE = 16;

/** The operator's per-request X25519 session key. The secret never leaves the browser. */
export class SessionKey {
  readonly #secret: Uint8Array;
  // X25519 with each custodian ephemeral key seen (one per custodian's release, or a few).
  readonly #shared = new Map<string, Uint8Array>();
  readonly publicKey: Uint8Array;

  constructor(secret: Uint8Array) {
    if (secret.length !== KEY_SIZE) throw new EscrowError(`session key must be ${KEY_SIZE} bytes`);
    this.#secret = Uint8Array.from(secret);
    this.publicKey = x25519PublicKey(this.#secret);
  }

  static generate(): SessionKey {
    return new SessionKey(x25519.utils.randomSecretKey());
  }

  /** X25519(this key, ephemeralPk), low-order refused; remembered per key. Used only by
   * openReleasedShare. */
  sharedWith(ephemeralPk: Uint8Array): Uint8Array {
    const id = Array.from(ephemeralPk, (b) => b.toString(16).padStart(2, "0")).join("");
    let shared = this.#shared.get(id);
    if (shared === undefined) {
      shared = x25519Shared(this.#secret, ephemeralPk);
      this.#shared.set(id, shared);
    }
    return shared;
  }

  toString(): string {
    return "SessionKey(<redacted>)";
  }
}

function releaseAd(metadata: RecordingMetadata, releaseId: string): Uint8Array {
  if (!/^[\x21-\x7e]{1,128}$/.test(releaseId))
    throw new EscrowError("release id must be 1-128 printable ASCII characters without spaces");
  return concat(associatedData(metadata), utf8("\ncamvault-escrow-release " + releaseId));
}

/** Open a share a custodian released to `sessionKey` (operator side). */
export function openReleasedShare(
  sealed: Uint8Array,
  sessionKey: SessionKey,
  metadata: RecordingMetadata,
  releaseId: string,
): Share {
  const ad = releaseAd(metadata, releaseId);
  if (sealed.length !== RELEASE_SIZE) throw new EscrowError(`released share must be ${RELEASE_SIZE} bytes`);
  const ephemeralPk = sealed.subarray(0, KEY_SIZE);
  const nonce = sealed.subarray(KEY_SIZE, KEY_SIZE + SHARE_NONCE_SIZE);
  const plaintext = unsealShared(
    concat(RELEASE_LABEL, nonce),
    sessionKey.sharedWith(ephemeralPk),
    sessionKey.publicKey,
    ephemeralPk,
    sealed.subarray(KEY_SIZE + SHARE_NONCE_SIZE),
    ad,
    "released share",
  );
  let share: Share;
  try {
    share = decodeShare(plaintext);
  } catch (e) {
    if (e instanceof ShareError) throw new EscrowError(`released share is malformed: ${e.message}`);
    throw e;
  }
  if (share.y.length !== FILE_KEY_SIZE) throw new EscrowError("released share is not a file-key share");
  return share;
}

/** Custodian side, for tests: seal `share` to a session public key with a given ephemeral
 * key and random bytes. */
export function sealShareToSession(
  share: Share,
  sessionPublicKey: Uint8Array,
  metadata: RecordingMetadata,
  releaseId: string,
  ephemeral: Uint8Array,
  nonce: Uint8Array,
): Uint8Array {
  if (nonce.length !== SHARE_NONCE_SIZE) throw new EscrowError(`nonce must be ${SHARE_NONCE_SIZE} bytes`);
  const body = seal(
    concat(RELEASE_LABEL, nonce),
    sessionPublicKey,
    ephemeral,
    concat(Uint8Array.of(1, share.threshold, share.x), share.y),
    releaseAd(metadata, releaseId),
  );
  return concat(x25519PublicKey(ephemeral), nonce, body);
}

/**
 * Rebuild a recording's file key from released shares (section 5): parse the header
 * (HeaderError if malformed), interpolate (ShareError), and accept the key only if the header
 * MAC verifies under it (EscrowError otherwise).
 */
export function combineFileKey(shares: readonly Share[], header: Uint8Array): Uint8Array {
  const parsed = parseHeader(header);
  const secret = combine(shares);
  if (secret.length !== FILE_KEY_SIZE) throw new EscrowError("shares are not shares of a 16-byte file key");
  if (!headerMacMatches(parsed, secret)) throw new EscrowError("shares do not reconstruct this recording's file key");
  return secret;
}
