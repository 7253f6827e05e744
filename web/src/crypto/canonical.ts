// Canonical JSON (RFC 8785, JSON Canonicalization Scheme) for camvault's data model, byte for
// byte what crypto/canonical.py produces.
//
// camvault only signs and binds a small JSON subset: objects with string keys, arrays,
// strings, booleans, null and integers with |n| <= 2^53 - 1. Floats are refused, so the
// number rules of RFC 8785 section 3.2.2.3 reduce to the decimal form of an integer.
// Members are sorted by UTF-16 code units (section 3.2.3: JavaScript's default string order),
// strings are escaped as JSON.stringify does (section 3.2.2.2), lone surrogates are refused.
// parseCanonicalJson accepts input only if it already is the canonical encoding of its value.

import { fromUtf8, utf8, equalBytes } from "./bytes";
import { StatementError } from "./errors";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER; // 2^53 - 1
const MAX_DEPTH = 512;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function serializeString(s: string, what: string): string {
  if (LONE_SURROGATE.test(s)) throw new StatementError(`canonical JSON: ${what} contains a lone surrogate`);
  return JSON.stringify(s);
}

function serialize(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new StatementError("canonical JSON: nesting too deep");
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new StatementError("canonical JSON: floating-point numbers are not allowed");
    if (Math.abs(value) > MAX_SAFE_INTEGER)
      throw new StatementError("canonical JSON: integer outside the exact IEEE-754 range");
    return Object.is(value, -0) ? "0" : String(value);
  }
  if (typeof value === "string") return serializeString(value, "string");
  if (Array.isArray(value)) return "[" + value.map((v) => serialize(v, depth + 1)).join(",") + "]";
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).sort(); // UTF-16 code unit order, as RFC 8785 section 3.2.3
    const parts = keys.map((k) => serializeString(k, "member name") + ":" + serialize(obj[k], depth + 1));
    return "{" + parts.join(",") + "}";
  }
  throw new StatementError(`canonical JSON: cannot encode a ${typeof value}`);
}

/** The RFC 8785 canonical UTF-8 encoding of `value` (camvault's JSON subset). */
export function canonicalJson(value: unknown): Uint8Array {
  return utf8(serialize(value, 0));
}

// RFC 8259 section 7 string and section 6 number, matched at a position (sticky "y" flag).
const STRING_RE = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/** A strict JSON reader (RFC 8259 grammar) that refuses what camvault never signs. */
class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  fail(msg: string): never {
    throw new StatementError(`canonical JSON: ${msg} at offset ${this.pos}`);
  }

  /** Match a sticky regex at the current position (no copy of the rest of the text). */
  match(re: RegExp): RegExpExecArray | null {
    re.lastIndex = this.pos;
    return re.exec(this.text);
  }

  ws(): void {
    while (/[ \t\n\r]/.test(this.text[this.pos] ?? "")) this.pos++;
  }

  value(depth: number): Json {
    if (depth > MAX_DEPTH) throw new StatementError("canonical JSON: nesting too deep");
    this.ws();
    const ch = this.text[this.pos];
    if (ch === "{") return this.object(depth);
    if (ch === "[") return this.array(depth);
    if (ch === '"') return this.string();
    if (ch === "-" || (ch !== undefined && ch >= "0" && ch <= "9")) return this.number();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    if (/^(NaN|Infinity|-Infinity)/.test(this.text.slice(this.pos)))
      throw new StatementError("canonical JSON: NaN and Infinity are not allowed");
    return this.fail("expecting value");
  }

  object(depth: number): Json {
    this.pos++;
    const out: { [key: string]: Json } = Object.create(null) as { [key: string]: Json };
    const seen = new Set<string>();
    this.ws();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail("expecting property name");
      const key = this.string();
      if (seen.has(key)) throw new StatementError(`canonical JSON: duplicate member '${key}'`);
      seen.add(key);
      this.ws();
      if (this.text[this.pos] !== ":") this.fail("expecting ':'");
      this.pos++;
      out[key] = this.value(depth + 1);
      this.ws();
      const c = this.text[this.pos++];
      if (c === "}") return out;
      if (c !== ",") this.fail("expecting ',' or '}'");
    }
  }

  array(depth: number): Json {
    this.pos++;
    const out: Json[] = [];
    this.ws();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.text[this.pos++];
      if (c === "]") return out;
      if (c !== ",") this.fail("expecting ',' or ']'");
    }
  }

  string(): string {
    const m = this.match(STRING_RE);
    if (!m) return this.fail("invalid string");
    this.pos += m[0].length;
    return JSON.parse(m[0]) as string;
  }

  number(): number {
    const m = this.match(NUMBER_RE);
    if (!m) return this.fail("invalid number");
    if (m[1] !== undefined || m[2] !== undefined)
      throw new StatementError("canonical JSON: floating-point numbers are not allowed");
    if (m[0].replace("-", "").length > 16)
      throw new StatementError("canonical JSON: integer outside the exact IEEE-754 range");
    this.pos += m[0].length;
    return Number(m[0]);
  }
}

/**
 * Parse `data` and require it to be exactly the canonical encoding of its value: refuses
 * invalid UTF-8, duplicate members, floats, NaN/Infinity, too deep nesting and any
 * non-canonical spelling (whitespace, member order, escapes), so that a signature over bytes
 * and a signature over the parsed value can never disagree.
 */
export function parseCanonicalJson(data: Uint8Array): Json {
  let text: string;
  try {
    text = fromUtf8(data);
  } catch {
    throw new StatementError("canonical JSON: not valid UTF-8");
  }
  const reader = new Reader(text);
  const value = reader.value(0);
  reader.ws();
  if (reader.pos !== text.length) reader.fail("extra data");
  if (!equalBytes(canonicalJson(value), data))
    throw new StatementError("canonical JSON: encoding is not canonical (RFC 8785)");
  return value;
}
