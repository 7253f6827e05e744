// The production bundle: built by vite into a temporary directory, then checked for what a
// strict Content-Security-Policy (script-src 'self', no 'unsafe-eval', no inline script)
// needs, and for relative asset URLs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const WEB = join(fileURLToPath(import.meta.url), "..", "..");

describe("vite build", () => {
  const out = mkdtempSync(join(tmpdir(), "camvault-web-dist-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("has no eval, no inline script, and relative asset URLs", () => {
    execFileSync(
      join(WEB, "node_modules", ".bin", "vite"),
      ["build", "--outDir", out, "--emptyOutDir", "--logLevel", "error"],
      {
        cwd: WEB,
      },
    );
    const html = readFileSync(join(out, "index.html"), "utf8");
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [tag, body] of scripts) {
      expect(body!.trim(), "inline script").toBe("");
      expect(tag).toMatch(/src="\.\/assets\/[^"]+\.js"/);
    }
    const js = readdirSync(join(out, "assets")).filter((f) => f.endsWith(".js"));
    expect(js.length).toBeGreaterThan(0);
    for (const f of js) {
      const code = readFileSync(join(out, "assets", f), "utf8");
      expect(code).not.toMatch(/\bnew Function\s*\(|\beval\s*\(/);
      expect(code).toContain("age-encryption.org/v1"); // the whole crypto core is in the bundle
    }
  });
});
