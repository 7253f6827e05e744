// The camvault-escrow stanza (mirrors crypto/escrow/stanza.py; FORMAT.md part 2 section 3):
//   -> camvault-escrow <key_id> <i> <t> <n> <base64(e_pk)>
//   <base64(body)>                      body = ChaCha20-Poly1305 of the 19-byte share (35 bytes)
//   AD = metadata AD || LF || "-> camvault-escrow" || (" " || arg)*
//   key_id = base64(SHA-256("camvault.io/v1/escrow-key-id" || LF || custodian_pk)[0..4])
// The browser parses these to route stanzas to custodians; opening one is the custodian's job
// (openEscrowStanza is here so the vectors check the whole construction from TypeScript).

import { sha256 } from "@noble/hashes/sha2.js";
import { b64decode, b64encode } from "../base64";
import { concat, utf8 } from "../bytes";
import { EscrowError, ShareError } from "../errors";
import type { Stanza } from "../ageheader";
import { associatedData, type RecordingMetadata } from "../metadata";
import { decodeShare, type Share } from "./shamir";
import { KEY_SIZE, unseal, x25519PublicKey } from "./seal";
import { HYBRID_STANZA_TYPE } from "./pqkeys";

export const ESCROW_STANZA_TYPE = "camvault-escrow";
export const ESCROW_LABEL = utf8("camvault.io/v1/escrow");
const KEY_ID_LABEL = utf8("camvault.io/v1/escrow-key-id\n");
const KEY_ID_SIZE = 4;
const FILE_KEY_SIZE = 16;
export const SHARE_SIZE = 3 + FILE_KEY_SIZE;
export const BODY_SIZE = SHARE_SIZE + 16;
const MIN_THRESHOLD = 2;
const MAX_CUSTODIANS = 16;
const SMALL_INT_RE = /^[1-9][0-9]?$/;

/** The stanza is not an escrow stanza for this custodian key: try the next stanza. */
export class NotThisCustodianError extends EscrowError {
  override name = "NotThisCustodianError";
}

export interface EscrowStanzaInfo {
  keyId: string;
  index: number;
  threshold: number;
  count: number;
  /** for a hybrid stanza, the HPKE enc (ML-KEM-768 ciphertext || X25519 share, 1120 bytes) */
  ephemeralPublicKey: Uint8Array;
  stanzaType: string;
}

// The last argument's size per escrow stanza type (camvault-escrow-mlkem768x25519: FORMAT.md
// part 2 section 3.5, parsed here to route it; only its custodian opens it).
const EPHEMERAL_SIZE: { readonly [type: string]: number } = {
  [ESCROW_STANZA_TYPE]: KEY_SIZE,
  [HYBRID_STANZA_TYPE]: 1120,
};

export function custodianKeyId(custodianPk: Uint8Array): string {
  return b64encode(sha256(concat(KEY_ID_LABEL, custodianPk)).subarray(0, KEY_ID_SIZE));
}

function argument(text: string, size: number, what: string): Uint8Array {
  let data: Uint8Array;
  try {
    data = b64decode(text);
  } catch (e) {
    throw new EscrowError(`malformed escrow stanza: ${what}: not canonical unpadded base64 (${(e as Error).message})`);
  }
  if (data.length !== size) throw new EscrowError(`malformed escrow stanza: ${what}: must encode ${size} bytes`);
  return data;
}

function smallInt(text: string, what: string): number {
  if (!SMALL_INT_RE.test(text)) throw new EscrowError(`malformed escrow stanza: ${what} must be a decimal 1..99`);
  return Number(text);
}

/** Parse and check the arguments of an escrow stanza, X25519 or hybrid (no secret needed). */
export function parseEscrowStanza(stanza: Stanza): EscrowStanzaInfo {
  const ephemeralSize = Object.hasOwn(EPHEMERAL_SIZE, stanza.type) ? EPHEMERAL_SIZE[stanza.type] : undefined;
  if (ephemeralSize === undefined) throw new NotThisCustodianError(`not a ${ESCROW_STANZA_TYPE} stanza`);
  if (stanza.args.length !== 5)
    throw new EscrowError(`malformed escrow stanza: expected 5 arguments, got ${stanza.args.length}`);
  const [keyId, indexS, thresholdS, countS, ephemeralS] = stanza.args as [string, string, string, string, string];
  argument(keyId, KEY_ID_SIZE, "key id");
  const index = smallInt(indexS, "index");
  const threshold = smallInt(thresholdS, "threshold");
  const count = smallInt(countS, "count");
  if (!(MIN_THRESHOLD <= threshold && threshold <= count && count <= MAX_CUSTODIANS))
    throw new EscrowError(
      `escrow needs ${MIN_THRESHOLD} <= threshold <= number of custodians <= ${MAX_CUSTODIANS} (got threshold ${threshold} of ${count})`,
    );
  if (index < 1 || index > count) throw new EscrowError("malformed escrow stanza: index must be between 1 and count");
  const hybrid = stanza.type === HYBRID_STANZA_TYPE;
  const ephemeralPublicKey = argument(ephemeralS, ephemeralSize, hybrid ? "enc" : "ephemeral key");
  if (stanza.body.length !== BODY_SIZE)
    throw new EscrowError(`malformed escrow stanza: body must be ${BODY_SIZE} bytes`);
  return { keyId, index, threshold, count, ephemeralPublicKey, stanzaType: stanza.type };
}

/** AD of an escrow stanza: metadata AD || LF || the stanza line without its LF (section 3.3). */
export function stanzaAd(metadata: RecordingMetadata, args: readonly string[]): Uint8Array {
  return concat(associatedData(metadata), utf8("\n" + ["->", ESCROW_STANZA_TYPE, ...args].join(" ")));
}

/** Open an escrow stanza with a custodian secret key (section 3.4, custodian side). */
export function openEscrowStanza(stanza: Stanza, custodianSecret: Uint8Array, metadata: RecordingMetadata): Share {
  const info = parseEscrowStanza(stanza);
  if (info.stanzaType !== ESCROW_STANZA_TYPE)
    throw new NotThisCustodianError("hybrid escrow stanza: only its custodian's hybrid key opens it");
  const custodianPk = x25519PublicKey(custodianSecret);
  if (info.keyId !== custodianKeyId(custodianPk))
    throw new NotThisCustodianError("escrow stanza is for another custodian key");
  const plaintext = unseal(
    ESCROW_LABEL,
    custodianSecret,
    custodianPk,
    info.ephemeralPublicKey,
    stanza.body,
    stanzaAd(metadata, stanza.args),
    "escrow stanza",
  );
  let share: Share;
  try {
    share = decodeShare(plaintext);
  } catch (e) {
    if (e instanceof ShareError) throw new EscrowError(`escrow stanza share is malformed: ${e.message}`);
    throw e;
  }
  if (share.x !== info.index || share.threshold !== info.threshold || share.y.length !== FILE_KEY_SIZE)
    throw new EscrowError("escrow stanza share does not match its index, threshold or file-key size");
  return share;
}
