// The portal's pure helpers: the idle limit a URL may only shorten, and key material refused
// with one clear message.
import { describe, expect, it } from "vitest";
import { IDLE_LOCK_MS, idleLimitMs } from "../src/portal/session";
import { KeyFileError, parseKeyMaterial } from "../src/portal/keyfile";

describe("idleLimitMs", () => {
  it("is 10 minutes unless the hash shortens it, and never longer", () => {
    expect(IDLE_LOCK_MS).toBe(600_000);
    expect(idleLimitMs("")).toBe(IDLE_LOCK_MS);
    expect(idleLimitMs("#/?idle=3")).toBe(3000);
    expect(idleLimitMs("#/?idle=99999")).toBe(IDLE_LOCK_MS);
    expect(idleLimitMs("#/?idle=-5")).toBe(IDLE_LOCK_MS);
    expect(idleLimitMs("#/?idle=abc")).toBe(IDLE_LOCK_MS);
  });
});

describe("parseKeyMaterial", () => {
  it("refuses text with no key in it, naming what is missing", async () => {
    await expect(parseKeyMaterial("hello", "")).rejects.toThrow(KeyFileError);
    await expect(parseKeyMaterial("AGE-SECRET-KEY-1QQQQ", "site-1")).rejects.toThrow(KeyFileError);
  });
});
