// The age v1 header, parsed strictly (C2SP age spec, "Header"; docs/FORMAT.md part 1 section
// 2 and part 2 section 5). Decryption itself is the age-encryption library (age.ts); this
// module exists for what that library does not expose: splitting a file into header and
// payload (manifests hash them apart), listing stanzas (escrow stanzas for the custodians),
// and checking the header MAC under a file key rebuilt from escrow shares.
//
//   header = "age-encryption.org/v1" LF *stanza "---" SP base64(MAC) LF
//   stanza = "-> " type *(SP arg) LF body-lines   (64-column lines, the last one shorter)
//   MAC    = HMAC-SHA-256(HKDF-SHA-256(ikm = file key, salt = "", info = "header"),
//                         header up to and including "---")

import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { b64decode } from "./base64";
import { equalBytes, utf8 } from "./bytes";
import { AgeError } from "./errors";

export class HeaderError extends AgeError {
  override name = "HeaderError";
}

export interface Stanza {
  type: string;
  args: string[];
  body: Uint8Array;
}

export interface ParsedHeader {
  stanzas: Stanza[];
  mac: Uint8Array;
  /** The header bytes, through the MAC line's LF. */
  header: Uint8Array;
  /** The bytes the MAC covers: through "---" (no space). */
  macInput: Uint8Array;
}

const VERSION_LINE = "age-encryption.org/v1";
const ARG_RE = /^[\x21-\x7e]+$/; // VCHAR, at least one
const BODY_LINE_RE = /^[A-Za-z0-9+/]{0,64}$/;
const MAX_HEADER = 1 << 20;
/** At most 64 customer recipients + 16 escrow stanzas + room for a hybrid migration, rounded
 * up (docs/FORMAT.md part 1 §2, crypto/age/format.py): more is refused before stanza 129 is
 * read, so a header of 100,000 tiny stanzas costs nothing. */
export const MAX_STANZAS = 128;

/** Parse the header at the start of `file` (binary, not armored). */
export function parseHeader(file: Uint8Array): ParsedHeader {
  let pos = 0;
  const line = (): string => {
    const end = file.indexOf(0x0a, pos);
    if (end < 0 || end - pos > MAX_HEADER) throw new HeaderError("header line is not terminated by LF");
    let s = "";
    for (let i = pos; i < end; i++) {
      const b = file[i]!;
      if (b < 0x20 || b > 0x7e) throw new HeaderError("header contains a non-printable byte");
      s += String.fromCharCode(b);
    }
    pos = end + 1;
    return s;
  };
  if (line() !== VERSION_LINE) throw new HeaderError("not an age v1 file (bad version line)");
  const stanzas: Stanza[] = [];
  for (;;) {
    const start = pos;
    const l = line();
    if (l.startsWith("--- ")) {
      let mac: Uint8Array;
      try {
        mac = b64decode(l.slice(4));
      } catch {
        throw new HeaderError("header MAC is not canonical base64");
      }
      if (mac.length !== 32) throw new HeaderError("header MAC must be 32 bytes");
      return { stanzas, mac, header: file.slice(0, pos), macInput: file.slice(0, start + 3) };
    }
    if (!l.startsWith("-> ")) throw new HeaderError("expected a stanza or the MAC line");
    if (stanzas.length === MAX_STANZAS)
      throw new HeaderError(`more than ${MAX_STANZAS} stanzas (header_too_many_stanzas)`);
    const [type, ...args] = l.slice(3).split(" ");
    if (type === undefined || ![type, ...args].every((a) => ARG_RE.test(a)))
      throw new HeaderError("malformed stanza line");
    let bodyText = "";
    for (;;) {
      const b = line();
      if (!BODY_LINE_RE.test(b)) throw new HeaderError("malformed stanza body line");
      bodyText += b;
      if (b.length < 64) break; // the final line is short (possibly empty)
    }
    let body: Uint8Array;
    try {
      body = b64decode(bodyText);
    } catch {
      throw new HeaderError("stanza body is not canonical base64");
    }
    stanzas.push({ type, args, body });
  }
}

/** Header and payload of an age file (payload = nonce || STREAM chunks). */
export function splitFile(file: Uint8Array): { header: Uint8Array; payload: Uint8Array } {
  const h = parseHeader(file);
  return { header: h.header, payload: file.subarray(h.header.length) };
}

/** True if the header MAC verifies under `fileKey` (C2SP age, "Header MAC"). */
export function headerMacMatches(parsed: ParsedHeader, fileKey: Uint8Array): boolean {
  const macKey = hkdf(sha256, fileKey, new Uint8Array(0), utf8("header"), 32);
  return equalBytes(hmac(sha256, macKey, parsed.macInput), parsed.mac);
}
