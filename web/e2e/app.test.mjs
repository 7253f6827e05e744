// End-to-end tests of the web app in a real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; no browser is ever downloaded) against a real
// `camvault serve storage` serving web/dist at /app/ (embedded defaults, temporary data dir).
//
// Run after `npm run build`:  npm run e2e   (node --test e2e/)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nextViolation } from "./checks.mjs";
import { startStorage } from "./support.mjs";
import { chromium } from "playwright-core";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(WEB, "dist");
const SHOTS = join(WEB, "e2e", "screenshots");
const CHROMIUM = process.env.CAMVAULT_CHROMIUM ?? "/usr/bin/chromium";
const WAIT = 60_000; // generous: a loaded 2-core machine

let browser;
const cleanups = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium refuses to start its sandbox as root (containers, CI).
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    timeout: WAIT,
  });
});

after(async () => {
  await browser?.close();
  for (const c of cleanups.reverse()) await c();
});

/** A fresh page that records console errors, page errors and CSP violations. */
async function openPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  return { context, page, errors };
}

describe("the web app served by camvault serve storage", () => {
  let storage;
  before(async () => {
    storage = await startStorage({ webDir: DIST });
    cleanups.push(() => storage.stop());
  });

  it("runs the crypto self-test in the browser: ok, with no console error", async () => {
    const { context, page, errors } = await openPage();
    const resp = await page.goto(`${storage.url}/app/#/selftest`);
    assert.equal(resp.status(), 200);
    assert.match(resp.headers()["content-security-policy"], /script-src 'self';/);
    const status = page.locator('#status[data-state="ok"], #status[data-state="failed"]');
    await status.waitFor({ timeout: WAIT });
    assert.equal(await page.locator("#status").textContent(), "crypto self-test: ok");
    assert.equal(await page.locator("#checks li.ok").count(), 3);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, "selftest.png") });
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("the CSP blocks a fetch to a foreign origin", async () => {
    const { context, page } = await openPage();
    await page.goto(`${storage.url}/app/#/selftest`);
    await page.locator('#status[data-state="ok"]').waitFor();
    // Same server under another name: another origin. no-cors, so only the CSP can stop it.
    const foreign = storage.url.replace("127.0.0.1", "localhost") + "/healthz";
    const violation = nextViolation(page, WAIT / 2);
    const outcome = await page.evaluate(
      (url) =>
        fetch(url, { mode: "no-cors" }).then(
          () => "fetched",
          (e) => `refused: ${e.name}`,
        ),
      foreign,
    );
    assert.equal(outcome, "refused: TypeError");
    const v = await violation;
    assert.ok(v, "no CSP violation reported for a foreign fetch");
    assert.equal(v.directive, "connect-src");
    assert.ok(v.blocked.startsWith(foreign.split("/healthz")[0]), v.blocked);
    // and the page's own origin is allowed (the refusal is the policy, not the network)
    const own = await page.evaluate(() => fetch("/healthz").then((r) => r.status));
    assert.equal(own, 200);
    await context.close();
  });

  it("the CSP blocks an injected inline script", async () => {
    const { context, page, errors } = await openPage();
    await page.goto(`${storage.url}/app/#/selftest`);
    await page.locator('#status[data-state="ok"]').waitFor();
    const violation = nextViolation(page, WAIT / 2);
    await page.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.__injected = true;";
      document.head.append(s);
    });
    const v = await violation;
    assert.ok(v, "no CSP violation reported for an inline script");
    assert.equal(v.directive, "script-src-elem");
    assert.equal(v.blocked, "inline");
    assert.equal(await page.evaluate(() => window.__injected), undefined);
    assert.ok(
      errors.some((e) => e.includes("Content Security Policy")),
      errors.join("\n"),
    );
    await context.close();
  });
});

describe("a tampered build", () => {
  let storage;
  before(async () => {
    // A copy of dist/ whose JavaScript has one byte changed (inside a string, so that it still
    // parses: only the integrity check can stop it).
    const dir = mkdtempSync(join(tmpdir(), "camvault-tampered-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(DIST, dir, { recursive: true });
    const js = readdirSync(join(dir, "assets")).find((f) => f.endsWith(".js"));
    const path = join(dir, "assets", js);
    const code = readFileSync(path, "utf8");
    const at = code.indexOf("crypto self-test: ok");
    assert.ok(at > 0, "the bundle holds the self-test's text");
    writeFileSync(path, code.slice(0, at) + "C" + code.slice(at + 1));
    storage = await startStorage({ webDir: dir });
    cleanups.push(() => storage.stop());
  });

  it("is refused by Subresource Integrity: the self-test never runs", async () => {
    const { context, page, errors } = await openPage();
    const integrity = page.waitForEvent("console", {
      predicate: (m) => m.type() === "error" && /integrity/i.test(m.text()),
      timeout: WAIT,
    });
    await page.goto(`${storage.url}/app/#/selftest`, { waitUntil: "load" });
    const message = (await integrity).text();
    assert.match(message, /integrity.*index-[^/]*\.js.*SHA-384.*blocked/is);
    assert.equal(await page.locator("#status").textContent(), "loading…");
    assert.equal(await page.locator("#status").getAttribute("data-state"), null);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, "tampered.png") });
    assert.ok(errors.length >= 1);
    await context.close();
  });
});
