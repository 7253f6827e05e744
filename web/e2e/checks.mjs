// What every browser test checks the same way: Debian's Chromium through playwright-core (never
// a browser download), the requests a page sends (searched for secrets), axe-core's
// accessibility rules, console errors, and a screenshot of every page for docs/USAGE.md.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const WEB = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DIST = join(WEB, "dist");
export const SHOTS = join(WEB, "e2e", "screenshots");
export const CHROMIUM = process.env.CAMVAULT_CHROMIUM ?? "/usr/bin/chromium";
export const WAIT = 60_000; // generous: a loaded 2-core machine
export const PASSPHRASE = "correct horse battery staple";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Headless Debian Chromium (`--no-sandbox` only when the tests run as root). */
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    timeout: WAIT,
  });
}

/**
 * A fresh context (empty IndexedDB, downloads accepted) whose page collects console errors and
 * every request it sends. `requests` holds promises of {url, method, headers, body: Buffer}:
 * await them with `Promise.all` before checking.
 */
export async function openPage(browser, { viewport } = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...(viewport ? { viewport } : {}) });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const errors = [];
  const requests = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  // allHeaders() rejects for a request still in flight when the browser closes (e.g. a
  // report the console posts in the background): its provisional headers are checked then,
  // so the secrets check still sees every request and no rejection is left unhandled.
  const record = (r, headers) => ({
    url: r.url(),
    method: r.method(),
    headers,
    body: r.postDataBuffer() ?? Buffer.alloc(0),
  });
  context.on("request", (r) =>
    requests.push(
      r.allHeaders().then(
        (headers) => record(r, headers),
        () => record(r, r.headers()),
      ),
    ),
  );
  return { context, page, errors, requests };
}

function forms(secret) {
  const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
  const out = [bytes];
  for (const enc of ["base64", "base64url", "hex"]) out.push(Buffer.from(bytes.toString(enc), "latin1"));
  if (typeof secret === "string") out.push(Buffer.from(encodeURIComponent(secret), "latin1"));
  return out.filter((b) => b.length >= 8);
}

/**
 * Fails if any request (URL, any header, body) contains any secret: a string, or bytes (as
 * such, base64, base64url or hex). Returns how many requests were checked.
 */
export async function assertNoSecrets(requestPromises, secrets) {
  const requests = await Promise.all(requestPromises);
  assert.ok(requests.length > 0, "no request recorded: the recorder is not attached");
  const needles = secrets.flatMap((s) =>
    forms(s).map((b) => ({ b, what: typeof s === "string" ? s.slice(0, 16) : `${s.length} bytes` })),
  );
  for (const r of requests) {
    const hay = Buffer.concat([Buffer.from(r.url, "latin1"), Buffer.from(JSON.stringify(r.headers), "latin1"), r.body]);
    for (const { b, what } of needles) {
      assert.ok(!hay.includes(b), `a request carries a secret (${what}…): ${r.method} ${r.url}`);
    }
  }
  return requests.length;
}

/** `count` windows of `size` bytes spread over `plain`: needles for "no decrypted byte left". */
export function plaintextWindows(plain, count = 8, size = 64) {
  const buf = Buffer.from(plain);
  if (buf.length <= size) return [buf];
  const out = [];
  for (let i = 0; i < count; i++) {
    const at = Math.floor(((buf.length - size) * i) / Math.max(1, count - 1));
    out.push(buf.subarray(at, at + size));
  }
  return out;
}

/**
 * axe-core's WCAG 2.1 A/AA rules on the page as it is now. The script is evaluated through the
 * DevTools protocol (not a <script> element, which the page's CSP rightly refuses). Fails on
 * any serious or critical violation; returns all violations (id, impact, nodes) for reports.
 */
export async function axe(page, what) {
  const already = await page.evaluate(() => typeof window.axe !== "undefined");
  if (!already) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      resultTypes: ["violations"],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `axe: serious violations on ${what ?? page.url()}`);
  return violations;
}

/** A full-page screenshot into web/e2e/screenshots/<name>.png (docs/USAGE.md shows them). */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** No console error or uncaught exception so far (optionally ignoring expected ones). */
export function assertNoConsoleErrors(errors, allowed = []) {
  const left = errors.filter((e) => !allowed.some((re) => re.test(e)));
  assert.deepEqual(left, [], "console errors");
}

/**
 * The customer's import, as a person does it: pick identity.txt, site.key and config.json
 * (paths), type the passphrase twice, submit; resolves once the portal's shell is shown.
 */
export async function importCustomerKeys(page, appUrl, files, passphrase = PASSPHRASE, hash = "#/") {
  await page.goto(`${appUrl}${hash}`);
  await page.locator("#import-form").waitFor();
  await page.locator("#key-files").setInputFiles(files);
  await page.waitForFunction(() => document.querySelector("#key-text").value.includes("ed25519-secret:"));
  await page.getByLabel("Passphrase", { exact: true }).fill(passphrase);
  await page.getByLabel("Confirm passphrase").fill(passphrase);
  await page.getByRole("button", { name: "Import and encrypt" }).click();
  await page.locator("nav[aria-label=portal]").waitFor();
}

/** Open a portal page through its nav link (pages/types.ts: `#nav-<id>`, `#page-<id>`). */
export async function openPortalPage(page, id) {
  await page.locator(`#nav-${id}`).click();
  await page.locator(`#page-${id}`).waitFor();
}

/** Resolves with the next CSP violation the page reports (checked inside the page), or null
 *  when none comes within `ms` (a policy that lets everything through). */
export function nextViolation(page, ms) {
  return page.evaluate(
    (wait) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), wait);
        document.addEventListener(
          "securitypolicyviolation",
          (e) => {
            clearTimeout(timer);
            resolve({ directive: e.effectiveDirective, blocked: e.blockedURI });
          },
          { once: true },
        );
      }),
    ms,
  );
}
