// Member checks of statement bodies (mirrors crypto/statements/fields.py): each check takes
// the JSON value and `what` (e.g. "consent.site_id") and throws a StatementError naming it.

import { parseAgeRecipient, parseCustodianPublicKey } from "../bech32";
import { Ed25519PublicKey } from "../ed25519";
import { KeyFormatError, StatementError } from "../errors";
import type { Json } from "../canonical";

export type JsonObject = { [key: string]: Json };
export type Check = (value: Json | undefined, what: string) => void;

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const HEX256_RE = /^[0-9a-f]{64}$/;
const URL_RE = /^https?:\/\/[\x21-\x7e]+$/;
// Python's str.isprintable(): no Unicode "Other" (C*) or separator (Z*) except the ASCII space.
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A JSON object with exactly the member names `names` (unknown reported before missing). */
export function requireMembers(obj: Json | undefined, what: string, names: readonly string[]): JsonObject {
  if (!isObject(obj)) throw new StatementError(`${what}: must be a JSON object`);
  const unknown = Object.keys(obj)
    .filter((k) => !names.includes(k))
    .sort();
  if (unknown.length > 0) throw new StatementError(`${what}: unknown field '${unknown[0]}'`);
  const missing = names.filter((k) => !(k in obj));
  if (missing.length > 0) throw new StatementError(`${what}: missing field '${missing[0]}'`);
  return obj;
}

export const integer =
  (lo: number, hi: number): Check =>
  (v, what) => {
    if (typeof v !== "number" || !Number.isInteger(v)) throw new StatementError(`${what}: must be an integer`);
    if (v < lo || v > hi) throw new StatementError(`${what}: must be between ${lo} and ${hi}`);
  };

export const ID: Check = (v, what) => {
  if (typeof v !== "string" || !ID_RE.test(v))
    throw new StatementError(`${what}: must be an identifier (1-128 of [A-Za-z0-9._:-], alphanumeric first)`);
};

export const TIME: Check = (v, what) => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_SAFE)
    throw new StatementError(`${what}: must be an integer number of milliseconds >= 0`);
};

export const COUNTER = integer(0, MAX_SAFE);

export const BOOL: Check = (v, what) => {
  if (typeof v !== "boolean") throw new StatementError(`${what}: must be true or false`);
};

export const TEXT: Check = (v, what) => {
  if (typeof v !== "string" || v.length < 1 || [...v].length > 128)
    throw new StatementError(`${what}: must be a string of 1-128 characters`);
  if (NON_PRINTABLE.test(v.replaceAll(" ", "")) || v !== v.trim())
    throw new StatementError(`${what}: control characters or surrounding spaces are not allowed`);
};

export const URL: Check = (v, what) => {
  if (v === null) return;
  if (typeof v !== "string" || v.length > 2048 || !URL_RE.test(v))
    throw new StatementError(`${what}: must be null or an http(s) URL of printable ASCII`);
};

export const SHA256: Check = (v, what) => {
  if (typeof v !== "string" || !HEX256_RE.test(v))
    throw new StatementError(`${what}: must be 64 lowercase hex digits (SHA-256)`);
};

export const PUBKEY: Check = (v, what) => {
  try {
    Ed25519PublicKey.fromText(v, what);
  } catch (e) {
    throw new StatementError((e as Error).message);
  }
};

function keyText(parse: (t: string) => unknown, expected: string): Check {
  return (v, what) => {
    if (typeof v !== "string") throw new StatementError(`${what}: must be ${expected}`);
    try {
      parse(v);
    } catch (e) {
      if (e instanceof KeyFormatError) throw new StatementError(`${what}: ${e.message}`);
      throw e;
    }
  };
}

export const RECIPIENT = keyText(parseAgeRecipient, "an age X25519 recipient string (age1...)");
export const ESCROW_KEY = keyText(parseCustodianPublicKey, "a string");

export const oneOf =
  (...allowed: string[]): Check =>
  (v, what) => {
    if (typeof v !== "string" || !allowed.includes(v))
      throw new StatementError(`${what}: must be one of ${JSON.stringify(allowed)}`);
  };

export const optional =
  (check: Check): Check =>
  (v, what) => {
    if (v !== null) check(v, what);
  };

export const array =
  (item: Check, lo: number, hi: number, unique = false): Check =>
  (v, what) => {
    if (!Array.isArray(v)) throw new StatementError(`${what}: must be an array`);
    if (v.length < lo || v.length > hi) throw new StatementError(`${what}: must have ${lo}-${hi} elements`);
    v.forEach((x, i) => item(x, `${what}[${i}]`));
    if (unique) {
      const seen = new Set<string>();
      for (const x of v) {
        const k = JSON.stringify(x);
        if (seen.has(k)) throw new StatementError(`${what}: duplicate element ${String(x)}`);
        seen.add(k);
      }
    }
  };

export type Schema = { readonly [member: string]: Check };

/** Check `obj` against `schema`: exact member set, then each member's check. */
export function checkRecord(obj: Json | undefined, what: string, schema: Schema): JsonObject {
  const o = requireMembers(obj, what, Object.keys(schema));
  for (const [name, check] of Object.entries(schema)) check(o[name], `${what}.${name}`);
  return o;
}

export const nested =
  (schema: Schema, rule?: (o: JsonObject, what: string) => void): Check =>
  (v, what) => {
    const o = checkRecord(v, what, schema);
    rule?.(o, what);
  };
