// Reads the shared known-answer vectors of the Python implementation (../tests/vectors) at
// test time, so the two implementations are checked against the same bytes.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const VECTORS_DIR = join(REPO_ROOT, "tests", "vectors");

export function loadVectors<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(VECTORS_DIR, name), "utf8")) as T;
}

export function flip(data: Uint8Array, index: number, bit = 1): Uint8Array {
  const out = Uint8Array.from(data);
  out[index] = out[index]! ^ bit;
  return out;
}

/** `[name, vector]` rows for it.each / describe.each. */
export function named(list: any[], name: (v: any) => string = (v) => v.name): [string, any][] {
  return list.map((v) => [name(v), v]);
}
