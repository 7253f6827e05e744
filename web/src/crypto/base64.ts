// Base64 (RFC 4648) in the three spellings camvault's formats use, with strict decoders
// (mirrors crypto/encoding.py):
// - unpadded standard base64: age stanzas and the escrow stanza arguments;
// - unpadded base64url (section 5): Ed25519 keys and signatures of signed statements;
// - padded standard base64: C2SP signed notes and checkpoints, RFC 8941 byte sequences.
// A decoder accepts only the text that encoding its result produces (no whitespace, no
// missing or extra padding, zero unused trailing bits: RFC 4648 section 3.5), so every byte
// string has exactly one text form.

const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

export class Base64Error extends Error {
  override name = "Base64Error";
}

/** Well-formed base64 with non-zero unused trailing bits: another text of the same bytes. */
export class NonCanonicalBase64Error extends Base64Error {
  override name = "NonCanonicalBase64Error";
}

function encode(data: Uint8Array, alphabet: string, pad: boolean): string {
  let out = "";
  let i = 0;
  for (; i + 2 < data.length; i += 3) {
    const n = ((data[i] as number) << 16) | ((data[i + 1] as number) << 8) | (data[i + 2] as number);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = data.length - i;
  if (rest === 1) {
    const n = (data[i] as number) << 16;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + (pad ? "==" : "");
  } else if (rest === 2) {
    const n = ((data[i] as number) << 16) | ((data[i + 1] as number) << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (pad ? "=" : "");
  }
  return out;
}

function decode(text: string, alphabet: string, padded: boolean): Uint8Array {
  let body = text;
  if (padded) {
    if (text.length % 4 !== 0) throw new Base64Error("invalid base64 length");
    const m = /={0,2}$/.exec(text);
    body = text.slice(0, text.length - (m ? m[0].length : 0));
  }
  if (body.length % 4 === 1) throw new Base64Error("invalid base64 length");
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const ch of body) {
    const v = alphabet.indexOf(ch);
    if (v < 0 || ch.length !== 1) throw new Base64Error("invalid base64 character or padding");
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw new NonCanonicalBase64Error("non-canonical base64");
  // A padded text must carry exactly the padding its length implies.
  if (padded && encode(out, alphabet, true) !== text) throw new Base64Error("invalid base64 padding");
  return out;
}

/** Standard base64 without `=` padding (age headers). */
export const b64encode = (data: Uint8Array): string => encode(data, STD, false);
/** Base64url without padding (RFC 4648 section 5; statements). */
export const b64urlEncode = (data: Uint8Array): string => encode(data, URL, false);
/** Standard base64 with padding (signed notes, RFC 8941 byte sequences). */
export const b64encodePadded = (data: Uint8Array): string => encode(data, STD, true);

export const b64decode = (text: string): Uint8Array => decode(text, STD, false);
export const b64urlDecode = (text: string): Uint8Array => decode(text, URL, false);
export const b64decodePadded = (text: string): Uint8Array => decode(text, STD, true);
