// The operator console (#/operator) in a real headless Chromium on the stage (e2e/stage.mjs):
// storage service, three custodians (threshold 2), the camera agent filming a test pattern,
// the alarm panel, the ARC's op-7 and tech-3. As a person would:
//   - op-7 imports operator.key + config.json under a passphrase; lock by button, by inactivity;
//   - before any alarm, opening the site is refused (no_justification, shown);
//   - the panel posts an alarm; it appears in the queue; opened: the pre-alarm recordings are
//     released by the custodians, decrypted and play in a <video> (decoded frames, advancing
//     currentTime); the live feed follows with more decoded frames, and the latency shown;
//   - after the access period: a new release is refused by the storage service, and, after
//     the custodians' own period, by each custodian asked directly with the headers held;
//   - tech-3 asks the customer's consent; the customer approves with the CLI; the page shows
//     it approved and plays a recording of the window.
// Every state is screenshotted and checked by axe; no console error; every request the pages
// sent is free of the operator keys and of any decrypted byte.
//
// Run after `npm run build`:  node --test e2e/operator.test.mjs
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startStage } from "./stage.mjs";
import {
  assertNoConsoleErrors,
  assertNoSecrets,
  axe,
  launch,
  openPage,
  PASSPHRASE,
  plaintextWindows,
  shot,
  WAIT,
} from "./checks.mjs";

const ACCESS_PERIOD_S = 25; // the storage's alarm access period on this stage
const CUSTODIAN_PERIOD_S = 60; // the custodians' own (demo/stage.py)

let stage;
let browser;
let op; // op-7's page
let tech; // tech-3's page
let alarm; // {alarm_id, trigger_ms}
const started = Date.now();
const report = {};

before(async () => {
  // CAMVAULT_E2E_WEB_DIR: another build than dist/ (e.g. while dist/ is being rebuilt)
  const webDir = process.env.CAMVAULT_E2E_WEB_DIR;
  stage = await startStage({ camera: "testsrc", accessPeriodS: ACCESS_PERIOD_S, ...(webDir ? { webDir } : {}) });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stage?.stop();
  report.e2e_s = Math.round((Date.now() - started) / 1000);
  console.log("operator e2e report:", JSON.stringify(report));
});

async function importKeys(page, who, hash = "#/operator") {
  await page.goto(`${stage.appUrl}${hash}`);
  await page.locator("#import-form").waitFor();
  await shot(page, `operator-${who.role}-import`);
  await axe(page, `${who.role} import`);
  await page.locator("#key-files").setInputFiles([join(who.dir, "operator.key"), join(who.dir, "config.json")]);
  await page.waitForFunction(() => document.querySelector("#key-text").value.includes("operator_id"));
  await page.getByLabel("Passphrase", { exact: true }).fill(PASSPHRASE);
  await page.getByLabel("Confirm passphrase").fill(PASSPHRASE);
  await page.getByRole("button", { name: "Import and encrypt" }).click();
  await page.locator("#signed-in").waitFor();
}

async function unlock(page) {
  await page.locator("#unlock-form").waitFor();
  await page.getByLabel("Passphrase").fill(PASSPHRASE);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.locator("#signed-in").waitFor();
}

/** {frames, time} of a <video>. */
function playback(page, selector) {
  return page.evaluate((sel) => {
    const v = document.querySelector(sel);
    if (!v) return { frames: 0, time: 0 };
    return { frames: v.getVideoPlaybackQuality().totalVideoFrames, time: v.currentTime };
  }, selector);
}

async function waitFrames(page, selector, min) {
  await page.waitForFunction(
    ([sel, n]) => {
      const v = document.querySelector(sel);
      return v !== null && v.getVideoPlaybackQuality().totalVideoFrames >= n;
    },
    [selector, min],
    { timeout: WAIT },
  );
  return playback(page, selector);
}

describe("operator console", { timeout: 300_000 }, () => {
  it("op-7 imports its keys; Lock and the inactivity lock work; a wrong passphrase is refused", async () => {
    op = await openPage(browser);
    await importKeys(op.page, { role: "operator", dir: stage.operator.dir });
    assert.match(await op.page.locator("#signed-in").textContent(), /operator op-7/);
    await op.page.locator("#queue-state[data-state=empty], #queue-state[data-state=done]").waitFor();
    await shot(op.page, "operator-queue-empty");
    await axe(op.page, "queue empty");
    // Lock from the keyboard
    await op.page.locator("#lock").focus();
    await op.page.keyboard.press("Enter");
    await op.page.locator("#unlock-form").waitFor();
    assert.equal(await op.page.locator("#signed-in").count(), 0, "locked: nothing of the console left");
    await op.page.getByLabel("Passphrase").fill("not the passphrase");
    await op.page.getByRole("button", { name: "Unlock" }).click();
    await op.page.locator("#unlock-error", { hasText: "wrong passphrase" }).waitFor();
    await shot(op.page, "operator-unlock-refused");
    await axe(op.page, "unlock refused");
    // inactivity: a 2 s limit (the URL may only shorten it)
    await op.page.goto(`${stage.appUrl}#/operator?idle=2`);
    await op.page.reload();
    await unlock(op.page);
    await op.page.locator("#unlock-form").waitFor({ timeout: 10_000 });
    await op.page.goto(`${stage.appUrl}#/operator`);
    await op.page.reload();
    await unlock(op.page);
    // IndexedDB holds the operator key only as an age scrypt file
    const stored = await op.page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const req = indexedDB.open("camvault-operator");
          req.onsuccess = () => {
            const g = req.result.transaction("vault").objectStore("vault").get("operator");
            g.onsuccess = () => resolve(new TextDecoder().decode(g.result.slice(0, 40)));
            g.onerror = () => reject(g.error);
          };
          req.onerror = () => reject(req.error);
        }),
    );
    assert.ok(stored.startsWith("age-encryption.org/v1\n-> scrypt "), stored);
  });

  it("before an alarm, opening the site is refused: no_justification", async () => {
    await stage.send({ cmd: "wait-recordings", n: 4, timeout_s: 60 });
    await op.page.getByLabel("Site id").fill(stage.siteId);
    await op.page.getByRole("button", { name: "Open site recordings" }).click();
    const box = op.page.locator("#site-refusal");
    await box.waitFor();
    assert.equal(await box.getAttribute("data-reason"), "no_justification");
    assert.match(await box.textContent(), /no_justification/);
    await shot(op.page, "operator-site-refused");
    await axe(op.page, "site refused");
  });

  it("an alarm appears in the queue; opened, the pre-alarm video plays and the live feed follows", async () => {
    alarm = await stage.send({ cmd: "alarm" });
    assert.ok(alarm.alarm_id, JSON.stringify(alarm));
    const row = op.page.locator(`#alarm-queue tr[data-alarm="${alarm.alarm_id}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.match(await row.textContent(), new RegExp(stage.siteId));
    assert.equal(await row.getAttribute("data-state"), "open");
    await row.locator("td.alarm-cameras", { hasText: stage.camera }).waitFor();
    await shot(op.page, "operator-queue-alarm");
    await axe(op.page, "queue with an alarm");
    await row.getByRole("button", { name: `Open alarm ${alarm.alarm_id}` }).click();
    // the panel-signed trigger time (what both access periods count from)
    alarm.triggered_at_ms = Number(await op.page.locator("#alarm-trigger[data-ms]").getAttribute("data-ms"));
    await op.page.locator("#pre-state[data-state=done]").waitFor();
    // 2 of 3 custodians suffice: the page shows each answer it has
    const released = await op.page.locator("#pre-outcomes li[data-reason=released]").count();
    assert.ok(released >= 2, `${released} custodians released`);
    const pre = await waitFrames(op.page, "#pre-videos video", 5);
    await op.page.waitForTimeout(1500);
    const pre2 = await playback(op.page, "#pre-videos video");
    assert.ok(pre2.time > pre.time, `pre-alarm currentTime advances (${pre.time} -> ${pre2.time})`);
    report.pre_alarm_frames = pre2.frames;
    await shot(op.page, "operator-alarm-pre");
    // Ack from the alarm view
    await op.page.getByRole("button", { name: "Acknowledge" }).click();
    await op.page.locator("#alarm-state", { hasText: "acknowledged" }).waitFor();
    // live
    const first = op.page.locator("#latency-first[data-ms]");
    await first.waitFor({ timeout: 30_000 });
    report.trigger_to_first_live_frame_ms = Number(await first.getAttribute("data-ms"));
    const live1 = await waitFrames(op.page, "#live-videos video", 1);
    // a segment committed after this moment is released, decrypted and shown: more frames
    const shown = await op.page.locator("#live-table tr[data-latency-ms]").count();
    await op.page.locator("#live-table tr[data-latency-ms]").nth(shown).waitFor({ timeout: 20_000 });
    const live2 = await waitFrames(op.page, "#live-videos video", live1.frames + 1);
    assert.ok(live2.frames > live1.frames, `more live frames decoded later (${live1.frames} -> ${live2.frames})`);
    assert.ok(live2.time > live1.time, "live currentTime advances");
    await shot(op.page, "operator-alarm-live");
    await axe(op.page, "alarm live");
  });

  it("after the access period, a new release is refused by the storage service", async () => {
    await op.page.locator("#feed-state[data-feed=ended]").waitFor({ timeout: (ACCESS_PERIOD_S + 20) * 1000 });
    const lat = await op.page
      .locator("#live-table tr[data-latency-ms]")
      .evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-latency-ms"))));
    assert.ok(lat.length >= 2, `latency of ${lat.length} live segments`);
    report.live_segments = lat.length;
    report.committed_to_playing_ms = lat;
    report.feed_ended = await op.page.locator("#feed-state").getAttribute("data-reason");
    const live = await playback(op.page, "#live-videos video");
    report.live_frames = live.frames;
    await shot(op.page, "operator-alarm-feed-ended");
    const wait = alarm.triggered_at_ms + ACCESS_PERIOD_S * 1000 + 500 - Date.now();
    if (wait > 0) await op.page.waitForTimeout(wait);
    await op.page.locator("#release-again").click();
    const box = op.page.locator("#again-refusal");
    await box.waitFor();
    assert.equal(await box.getAttribute("data-source"), "storage");
    assert.equal(await box.getAttribute("data-reason"), "no_justification");
    await shot(op.page, "operator-alarm-refused-storage");
    await axe(op.page, "release refused");
  });

  it("tech-3 asks for consent; the customer approves with the CLI; the page plays the window", async () => {
    tech = await openPage(browser);
    await importKeys(tech.page, { role: "technician", dir: stage.technician.dir });
    await tech.page.locator("#requests-state[data-state=empty]").waitFor();
    await tech.page.getByLabel("Site id").fill(stage.siteId);
    await tech.page.getByLabel("Cameras").fill(stage.camera);
    await tech.page.getByLabel("Recordings from").fill(String(alarm.trigger_ms - 120_000));
    await tech.page.getByLabel("Recordings to").fill(String(alarm.trigger_ms - 1));
    await tech.page.getByLabel("Access asked (seconds)").fill("60");
    await tech.page.getByLabel("Reason (shown to the customer)").fill("camera 1 loses focus at night");
    await shot(tech.page, "operator-technician-form");
    await axe(tech.page, "technician form");
    await tech.page.getByRole("button", { name: "Ask for consent" }).click();
    const made = tech.page.locator("#request-made");
    await made.waitFor();
    const requestId = await made.getAttribute("data-request");
    const row = tech.page.locator(`#consent-requests tr[data-request="${requestId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute("data-state"), "pending");
    await shot(tech.page, "operator-technician-pending");
    const out = await stage.send({
      cmd: "cli",
      who: "customer",
      args: ["customer", "consent", "approve", requestId, "--valid-for", "60"],
    });
    assert.equal(out.code, 0, out.out);
    await tech.page.locator(`#consent-requests tr[data-request="${requestId}"][data-state=approved]`).waitFor();
    await shot(tech.page, "operator-technician-approved");
    await axe(tech.page, "technician approved");
    await tech.page.locator(`#consent-requests tr[data-request="${requestId}"] button.open-consent`).click();
    await tech.page.locator("#consent-state[data-state=done]").waitFor();
    const v = await waitFrames(tech.page, "#consent-videos video", 5);
    await tech.page.waitForTimeout(1000);
    const v2 = await playback(tech.page, "#consent-videos video");
    assert.ok(v2.time > v.time, `the consented recording plays (${v.time} -> ${v2.time})`);
    report.consent_frames = v2.frames;
    await shot(tech.page, "operator-technician-playing");
    await axe(tech.page, "technician playing");
  });

  it("after the custodians' own period, each custodian refuses the headers held: access_period_closed", async () => {
    const wait = alarm.triggered_at_ms + CUSTODIAN_PERIOD_S * 1000 + 1000 - Date.now();
    if (wait > 0) await op.page.waitForTimeout(wait);
    await op.page.locator("#ask-custodians").click();
    const box = op.page.locator("#ask-result");
    await box.waitFor();
    const reasons = await op.page
      .locator("#ask-outcomes li")
      .evaluateAll((lis) => lis.map((li) => [li.getAttribute("data-custodian"), li.getAttribute("data-reason")]));
    assert.ok(reasons.length >= 2, JSON.stringify(reasons));
    for (const [, r] of reasons) assert.equal(r, "access_period_closed", JSON.stringify(reasons));
    report.custodians_after_period = Object.fromEntries(reasons);
    await shot(op.page, "operator-alarm-refused-custodians");
    await axe(op.page, "custodians refused");
  });

  it("Close: the storage service closes the alarm and every custodian takes the signed close", async () => {
    await op.page.getByRole("button", { name: "Close the alarm" }).click();
    await op.page.locator("#close-custodians").waitFor();
    const acks = await op.page
      .locator("#close-custodians li")
      .evaluateAll((lis) => lis.map((li) => [li.getAttribute("data-custodian"), li.getAttribute("data-status")]));
    assert.equal(acks.length, 3, JSON.stringify(acks));
    for (const [, st] of acks) assert.doesNotMatch(st, /refused/, JSON.stringify(acks));
    await op.page.locator("#alarm-state", { hasText: "closed" }).waitFor();
    // closed is checked before the access period: each custodian now says so
    await op.page.locator("#ask-custodians").click();
    await op.page.locator("#ask-result[data-reason=alarm_closed]").waitFor();
    await shot(op.page, "operator-alarm-closed");
    await axe(op.page, "alarm closed");
  });

  it("no console error; no request carries the operator keys or a decrypted byte", async () => {
    // Chromium logs every 4xx answer to fetch as a console error: the refusals this test
    // provokes (403 no_justification, 403 access_period_closed) are the only ones allowed
    const refusals = [/Failed to load resource: the server responded with a status of 403/];
    assertNoConsoleErrors(op.errors, refusals);
    assertNoConsoleErrors(tech.errors, refusals);
    const secrets = [];
    for (const who of [stage.operator, stage.technician]) {
      const text = who.files["operator.key"].trim();
      secrets.push(text, text.slice(text.indexOf(":") + 1));
      secrets.push(Buffer.from(text.slice(text.indexOf(":") + 1), "base64url"));
    }
    secrets.push(PASSPHRASE);
    // the plaintext of the same recordings, decrypted by the customer with the CLI
    const dl = await stage.send({ cmd: "cli", who: "customer", args: ["customer", "download", "--out", "plain"] });
    assert.equal(dl.code, 0, dl.out);
    const dir = join(stage.workdir, "plain", stage.camera);
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    assert.ok(files.length > 0);
    for (const f of files) secrets.push(...plaintextWindows(readFileSync(join(dir, f)), 4));
    const n = (await assertNoSecrets(op.requests, secrets)) + (await assertNoSecrets(tech.requests, secrets));
    report.requests_checked = n;
  });
});
