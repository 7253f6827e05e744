// The customer portal in a real headless Chromium against a real `camvault serve storage`
// seeded by scripts/seed_portal.py (a site, a camera, recordings uploaded as a camera does):
// import the key files under a passphrase, list the recordings through signed requests,
// reload and unlock (a wrong passphrase refused), lock by button and by inactivity, an API
// refusal shown with its reason code. What leaves the page and what IndexedDB holds are read
// back and searched for the secrets.
//
// Run after `npm run build`:  npm run e2e
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startStorage } from "./support.mjs";
import { axe } from "./checks.mjs";
import { chromium } from "playwright-core";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(WEB, "dist");
const SHOTS = join(WEB, "e2e", "screenshots");
const PYTHON = process.env.CAMVAULT_PYTHON ?? join(WEB, "..", ".venv", "bin", "python");
const CHROMIUM = process.env.CAMVAULT_CHROMIUM ?? "/usr/bin/chromium";
const WAIT = 60_000; // generous: a loaded 2-core machine
const PASSPHRASE = "correct horse battery staple";
const AGE_SCRYPT = "age-encryption.org/v1\n-> scrypt ";

let browser;
let storage;
let seed;
let keyDir;
const cleanups = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    timeout: WAIT,
  });
  storage = await startStorage({ webDir: DIST });
  cleanups.push(() => storage.stop());
  seed = JSON.parse(execFileSync(PYTHON, [join(WEB, "scripts", "seed_portal.py"), storage.url], { encoding: "utf8" }));
  // the customer's state directory as the CLI leaves it
  keyDir = mkdtempSync(join(tmpdir(), "camvault-portal-keys-"));
  cleanups.push(() => rmSync(keyDir, { recursive: true, force: true }));
  writeFileSync(join(keyDir, "identity.txt"), seed.identity_txt);
  writeFileSync(join(keyDir, "site.key"), seed.site_key);
  writeFileSync(join(keyDir, "config.json"), seed.config_json);
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  for (const c of cleanups.reverse()) await c();
});

/** A fresh context (empty IndexedDB) whose page records console errors and every request. */
async function openPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const errors = [];
  const requests = [];
  // A 404 of the camera's chain head is expected here: the seeded camera never posted one
  // (the page notes `no_chain_head`); Chromium logs every 4xx answer as a console error.
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (m.text().includes("status of 404") && /\/chain-head$/.test(m.location().url)) return;
    errors.push(`${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  context.on("request", (r) =>
    requests.push(
      r.allHeaders().then((headers) => ({ url: r.url(), method: r.method(), headers, body: r.postData() ?? "" })),
    ),
  );
  return { context, page, errors, requests };
}

/** The recording ids of the table, in order, after choosing the camera. */
async function listed(page, cameraId) {
  await page.locator(`#cameras button[data-camera-id="${cameraId}"]`).click();
  await page.locator("#recording-table tbody tr").first().waitFor();
  return page
    .locator("#recording-table tbody tr")
    .evaluateAll((rows) =>
      rows.map((r) => ({ id: r.dataset.recordingId, bytes: Number(r.querySelector("[data-bytes]").dataset.bytes) })),
    );
}

/** Every IndexedDB record of the page's origin, as latin-1 text (bytes) or JSON. */
function indexedDbDump(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const info of await indexedDB.databases()) {
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open(info.name);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      for (const store of db.objectStoreNames) {
        const values = await new Promise((res, rej) => {
          const r = db.transaction(store).objectStore(store).getAll();
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
        for (const v of values) {
          out.push(v instanceof Uint8Array ? new TextDecoder("latin1").decode(v) : JSON.stringify(v));
        }
      }
      db.close();
    }
    return out;
  });
}

describe("the customer portal", () => {
  it("imports the key files, lists the seeded recordings, unlocks after a reload, locks", async () => {
    const started = Date.now();
    const { context, page, errors, requests } = await openPage();
    const expected = [...seed.recordings].reverse().map((r) => ({ id: r.recording_id, bytes: r.payload_size }));

    await page.goto(`${storage.url}/app/#/?idle=3`);
    await page.locator("#import-form").waitFor();
    await page
      .locator("#key-files")
      .setInputFiles(["identity.txt", "site.key", "config.json"].map((f) => join(keyDir, f)));
    await page.waitForFunction(() => document.querySelector("#key-text").value.includes("ed25519-secret:"));
    // a mismatched confirmation is refused before anything is stored
    await page.getByLabel("Passphrase", { exact: true }).fill(PASSPHRASE);
    await page.getByLabel("Confirm passphrase").fill(PASSPHRASE + "x");
    await page.getByRole("button", { name: "Import and encrypt" }).click();
    assert.equal(await page.locator("#import-error").textContent(), "the passphrases differ");
    await page.getByLabel("Confirm passphrase").fill(PASSPHRASE);
    await axe(page, "the import screen");
    await page.screenshot({ path: join(SHOTS, "portal-import.png"), fullPage: true });
    await page.getByRole("button", { name: "Import and encrypt" }).click();

    assert.deepEqual(await listed(page, seed.cameras[0]), expected);
    assert.equal(await page.locator(`#sites li[data-site-id="${seed.site_id}"]`).count(), 1);
    await axe(page, "the recordings page");
    await page.screenshot({ path: join(SHOTS, "portal-recordings.png"), fullPage: true });

    // at rest: one age file under the scrypt recipient, no secret in any IndexedDB record
    const stored = await indexedDbDump(page);
    assert.equal(stored.length, 1);
    assert.ok(stored[0].startsWith(AGE_SCRYPT), JSON.stringify(stored[0].slice(0, 40)));
    for (const secret of [seed.identity, seed.site_key_secret, PASSPHRASE]) {
      assert.ok(!stored[0].includes(secret), "a secret is stored in clear in IndexedDB");
    }

    // reload: the unlock screen; a wrong passphrase is refused, the right one lists again
    await page.reload();
    await page.locator("#unlock-form").waitFor();
    await page.getByLabel("Passphrase").fill("not the passphrase");
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.locator("#unlock-error", { hasText: "wrong passphrase" }).waitFor();
    await axe(page, "the unlock screen");
    await page.screenshot({ path: join(SHOTS, "portal-unlock-refused.png"), fullPage: true });
    await page.getByLabel("Passphrase").fill(PASSPHRASE);
    await page.getByRole("button", { name: "Unlock" }).click();
    assert.deepEqual(await listed(page, seed.cameras[0]), expected);

    // the Lock button, reachable from the keyboard
    await page.locator("#lock").focus();
    await page.keyboard.press("Enter");
    await page.locator("#unlock-form").waitFor();

    // inactivity (shortened to 3 s by the test's #/?idle=3) locks too
    await page.getByLabel("Passphrase").fill(PASSPHRASE);
    await page.getByLabel("Passphrase").press("Enter");
    await page.locator(`#cameras button[data-camera-id="${seed.cameras[0]}"]`).waitFor();
    const unlockedAt = Date.now();
    await page.locator("#unlock-form").waitFor({ timeout: 20_000 });
    const idleMs = Date.now() - unlockedAt;
    assert.ok(idleMs >= 2_000, `locked after ${idleMs} ms, before the idle limit`);
    await page.screenshot({ path: join(SHOTS, "portal-locked.png"), fullPage: true });

    // nothing the page sent holds a secret; the API calls were signed as the customer
    const sent = await Promise.all(requests);
    const api = sent.filter((r) => new URL(r.url).pathname.startsWith("/v1/"));
    assert.ok(api.length >= 6, `only ${api.length} API requests`);
    for (const r of api) {
      assert.match(r.headers["signature-input"] ?? "", new RegExp(`keyid="customer:${seed.site_id}"`));
      assert.equal(new URL(r.url).origin, storage.url);
    }
    for (const r of sent) {
      const text = `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`;
      for (const secret of [seed.identity, seed.site_key_secret, PASSPHRASE]) {
        assert.ok(!text.includes(secret), `a secret left the page in ${r.method} ${r.url}`);
      }
    }
    assert.deepEqual(errors, []);
    await context.close();
    console.log(`# portal flow: ${Date.now() - started} ms, ${sent.length} requests`);
  });

  it("shows the storage service's reason code when it refuses", async () => {
    const { context, page, errors } = await openPage();
    await page.goto(`${storage.url}/app/`);
    await page.locator("#import-form").waitFor();
    // the right keys under a site id they do not belong to
    await page.getByLabel("Or paste the key files").fill(`${seed.identity_txt}\n${seed.site_key}`);
    await page.getByLabel("Site id").fill("portal-e2e-nosuchsiteaaaaaaaaaaaa");
    await page.getByLabel("Passphrase", { exact: true }).fill(PASSPHRASE);
    await page.getByLabel("Confirm passphrase").fill(PASSPHRASE);
    await page.getByRole("button", { name: "Import and encrypt" }).click();
    const state = page.locator('#site-state[data-state="error"]');
    await state.waitFor();
    const text = await state.textContent();
    assert.match(text, /^refused by the storage service: unknown_key \(no key is registered for /);
    console.log(`# refusal shown: ${text}`);
    await page.screenshot({ path: join(SHOTS, "portal-refused.png"), fullPage: true });
    // "Forget" (two clicks) deletes the stored identity: back to the import screen, IndexedDB empty
    await page.reload();
    await page.locator("#unlock-form").waitFor();
    await page.locator("#forget").click();
    assert.equal(await indexedDbDump(page).then((v) => v.length), 1, "one click must not delete");
    await page.locator("#forget").click();
    await page.locator("#import-form").waitFor();
    assert.deepEqual(await indexedDbDump(page), []);
    // the only console errors are the browser's own notes of the refused request
    assert.ok(errors.length >= 1);
    for (const e of errors) assert.match(e, /Failed to load resource: the server responded with a status of 4\d\d/);
    await context.close();
  });

  it("fits a phone's screen: no sideways scrolling, every tab reachable", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    await page.goto(`${storage.url}/app/`);
    await page.locator("#import-form").waitFor();
    await page.getByLabel("Or paste the key files").fill(`${seed.identity_txt}\n${seed.site_key}\n${seed.config_json}`);
    await page.getByLabel("Passphrase", { exact: true }).fill(PASSPHRASE);
    await page.getByLabel("Confirm passphrase").fill(PASSPHRASE);
    await page.getByRole("button", { name: "Import and encrypt" }).click();
    await listed(page, seed.cameras[0]);
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      viewport: window.innerWidth,
      tabs: [...document.querySelectorAll("nav a")].map((a) => a.getBoundingClientRect().right),
    }));
    assert.ok(widths.page <= widths.viewport, `the page scrolls sideways: ${JSON.stringify(widths)}`);
    assert.equal(widths.tabs.length, 5);
    for (const right of widths.tabs)
      assert.ok(right <= widths.viewport, `a tab is off screen: ${JSON.stringify(widths)}`);
    await axe(page, "the recordings page on a phone");
    await page.screenshot({ path: join(SHOTS, "portal-phone.png"), fullPage: true });
    await context.close();
  });
});
