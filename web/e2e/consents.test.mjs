// Inbox, Consents and Devices in a real headless Chromium on the stage (web/e2e/stage.mjs:
// storage, three custodians, the camera agent filming a person with the opencv detector):
// the customer's key files imported; the Inbox shows the smart alerts the camera posted (the
// same alerts, labels and camera as `camvault customer inbox --json`, decrypted in the page,
// with the event record's thumbnail); a technician's consent request (CLI) approved in the
// browser for a shorter time than asked (a longer one refused by the page), after which the
// technician's CLI release succeeds; revoked in the browser (storage and every custodian), after
// which the technician is refused; a second request refused in the browser (the technician
// sees the reason); a third, decided elsewhere meanwhile, refused by the service with its
// reason code; the access notices of the release in the Inbox, linked to the Audit page; the
// camera's recent telemetry on Devices, and the same camera flagged stale under a short
// interval. Every page and state: screenshot, axe; no console error; every request the page
// sent is free of the identity, the site key, the passphrase and the decrypted thumbnail.
//
// Run after `npm run build`:  node --test e2e/consents.test.mjs
// CAMVAULT_E2E_CAMERA=testsrc uses the test pattern (no smart alerts: those checks are skipped).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  assertNoConsoleErrors,
  assertNoSecrets,
  axe,
  DIST,
  importCustomerKeys,
  launch,
  openPage,
  openPortalPage,
  PASSPHRASE,
  plaintextWindows,
  shot,
  WEB,
} from "./checks.mjs";
import { startStage } from "./stage.mjs";

const PYTHON = process.env.CAMVAULT_PYTHON ?? join(WEB, "..", ".venv", "bin", "python");
const CAMERA = "cam-1";
const ASKED_S = 600;
const GRANTED_S = 300;

let browser;
let stage;
let cameraKind = process.env.CAMVAULT_E2E_CAMERA ?? "person";
let keyDir;
const cleanups = [];
const timings = {};

before(async () => {
  const t0 = Date.now();
  browser = await launch();
  cleanups.push(() => browser.close());
  try {
    stage = await startStage({ camera: cameraKind, webDir: DIST });
  } catch (e) {
    if (cameraKind !== "person") throw e;
    console.log(`# the "person" camera did not start (${e.message.split("\n")[0]}): falling back to testsrc`);
    cameraKind = "testsrc";
    stage = await startStage({ camera: cameraKind, webDir: DIST });
  }
  cleanups.push(() => stage.stop());
  keyDir = mkdtempSync(join(tmpdir(), "camvault-consents-keys-"));
  cleanups.push(() => rmSync(keyDir, { recursive: true, force: true }));
  writeFileSync(join(keyDir, "identity.txt"), stage.customer.identityTxt);
  writeFileSync(join(keyDir, "site.key"), stage.customer.siteKeyTxt);
  writeFileSync(join(keyDir, "config.json"), stage.customer.configJson);
  timings.stage_ms = Date.now() - t0;
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  console.log(`# timings ${JSON.stringify(timings)}`);
});

/** `camvault <args>` as `who`; asserts the exit status. */
async function cli(who, args, code = 0) {
  const r = await stage.send({ cmd: "cli", who, args });
  assert.ok(!r.error, `stage: ${r.error}`);
  assert.equal(r.code, code, `camvault ${args.join(" ")} as ${who} exited ${r.code}:\n${r.out}`);
  return r.out;
}

async function cliJson(who, args) {
  const out = await cli(who, [...args]);
  return JSON.parse(out.slice(out.search(/[[{]/)));
}

/** Click `button` of a page until `check()` holds (the pages refresh on demand). */
async function refreshUntil(page, button, check, what, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    assert.ok(Date.now() < deadline, `still not ${what} after ${timeoutMs} ms`);
    await page.waitForTimeout(1000);
    await page.locator(button).click();
    await page.waitForFunction(
      (b) => !["loading", undefined].includes(document.querySelector(b)?.dataset.state),
      button === "#inbox-refresh"
        ? "#inbox-state"
        : button === "#devices-refresh"
          ? "#devices-state"
          : "#request-state",
    );
  }
}

/** The consent request the technician makes (CLI, as demo/story.py step 8); its id. */
async function askConsent(reason, fromMs, toMs) {
  const out = await cli(stage.technician.id, [
    ...["operator", "consent", "request", "--site", stage.siteId, "--camera", CAMERA],
    ...["--from", String(fromMs), "--to", String(toMs), "--duration", String(ASKED_S), "--reason", reason],
  ]);
  const m = /consent request ([0-9a-f]{32}): pending/.exec(out);
  assert.ok(m, `no pending request in: ${out}`);
  return m[1];
}

/** The statement hash (hex) of a signed statement as the API returns it (its envelope JSON). */
function statementHash(envelope) {
  return execFileSync(
    PYTHON,
    [
      "-c",
      "import json,sys\nfrom crypto.canonical import canonical_json\nfrom crypto.statements import parse_signed\n" +
        "print(parse_signed(canonical_json(json.load(sys.stdin))).statement_hash().hex())",
    ],
    { cwd: join(WEB, ".."), env: { ...process.env, PYTHONPATH: join(WEB, "..") }, input: JSON.stringify(envelope) },
  )
    .toString()
    .trim();
}

/** The JPEG thumbnail of an alert's event record, fetched and decrypted by the customer's
 *  own Python code (clients/customer/state.py, crypto/age): what the page must show. */
function eventThumbnail(alert) {
  const code = [
    "import base64, io, json, sys",
    "from pathlib import Path",
    "from clients.customer.state import CustomerState",
    "from crypto.age import decrypt",
    "a = json.load(sys.stdin)",
    "st = CustomerState(Path(a['dir']))",
    "enc, plain = io.BytesIO(), io.BytesIO()",
    "with st.storage() as s: s.export(a['site'], a['camera_id'], a['event_recording_id'], enc)",
    "decrypt(st.identities(), io.BytesIO(enc.getvalue()), plain)",
    "print(json.loads(plain.getvalue())['thumbnail_jpeg'])",
  ].join("\n");
  const out = execFileSync(PYTHON, ["-c", code], {
    cwd: join(WEB, ".."),
    env: { ...process.env, PYTHONPATH: join(WEB, "..") },
    input: JSON.stringify({ ...alert, dir: stage.customer.dir, site: stage.siteId }),
  });
  const jpeg = Buffer.from(out.toString().trim(), "base64");
  assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff], "the event record's thumbnail is a JPEG");
  return jpeg;
}

/** [width, height] from a JPEG's SOF marker. */
function jpegSize(jpeg) {
  for (let i = 2; i + 9 < jpeg.length;) {
    const marker = jpeg[i + 1];
    const len = jpeg.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker))
      return [jpeg.readUInt16BE(i + 7), jpeg.readUInt16BE(i + 5)];
    i += 2 + len;
  }
  throw new Error("no SOF marker in the JPEG");
}

/** What the page's own store keeps (site/store.ts), read from IndexedDB. */
function storedSignedHashes(page) {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const r = indexedDB.open("camvault-site");
        r.onerror = () => reject(r.error);
        r.onsuccess = () => {
          const q = r.result.transaction("signed").objectStore("signed").getAll();
          q.onsuccess = () => {
            resolve(q.result.map((x) => x.hash));
            r.result.close();
          };
          q.onerror = () => reject(q.error);
        };
      }),
  );
}

function actionState(page) {
  return page.locator("#consent-action").evaluate((el) => ({ state: el.dataset.state, text: el.textContent }));
}

async function waitAction(page) {
  await page.waitForFunction(() =>
    ["done", "error"].includes(document.querySelector("#consent-action")?.dataset.state),
  );
  return actionState(page);
}

describe("Inbox, Consents and Devices on the stage", () => {
  it("alerts, consent approved / revoked / refused in the browser, notices, device health", async () => {
    const started = Date.now();
    const { page, errors, requests } = await openPage(browser);
    const stageStart = Date.now() - timings.stage_ms;
    await stage.send({ cmd: "wait-recordings", n: 2, timeout_s: 120 });

    await importCustomerKeys(
      page,
      stage.appUrl,
      ["identity.txt", "site.key", "config.json"].map((f) => join(keyDir, f)),
    );
    timings.import_ms = Date.now() - started;

    // --- Consents: empty before anyone asks ----------------------------------------------
    await openPortalPage(page, "consents");
    await page.waitForFunction(() => document.querySelector("#consent-state")?.dataset.state === "empty");
    assert.equal(await page.locator("#request-state").getAttribute("data-state"), "empty");
    await axe(page, "consents (empty)");
    await shot(page, "consents-empty");

    // --- Inbox: the camera's smart alerts, as the CLI reads them ---------------------------
    let thumbnail = null;
    if (cameraKind === "person") {
      await openPortalPage(page, "inbox");
      let cliAlerts = [];
      await refreshUntil(
        page,
        "#inbox-refresh",
        async () => {
          cliAlerts = (await cliJson("customer", ["customer", "inbox", "--json", "--kind", "smart_alert"])).map(
            (i) => i.data,
          );
          if (cliAlerts.length === 0) return false;
          const shown = await page
            .locator("#inbox li[data-kind=smart_alert][data-alert-id]")
            .evaluateAll((els) => els.map((e) => e.dataset.alertId));
          return cliAlerts.every((a) => shown.includes(a.alert_id));
        },
        "showing the camera's smart alerts",
        120_000,
      );
      for (const a of cliAlerts) {
        const li = page.locator(`#inbox li[data-alert-id="${a.alert_id}"]`);
        assert.equal(await li.getAttribute("data-camera-id"), a.camera_id);
        assert.equal(await li.getAttribute("data-labels"), a.labels.map((l) => l.label).join(","));
        assert.deepEqual(
          await li.locator("ul.labels li").allTextContents(),
          a.labels.map((l) => `${l.label} (confidence ${Math.round(l.confidence * 100)} %)`),
        );
      }
      assert.ok(
        cliAlerts.some((a) => a.labels.some((l) => l.label === "person")),
        "the camera saw a person",
      );
      // newest first
      const ids = await page.locator("#inbox > li").evaluateAll((els) => els.map((e) => Number(e.dataset.itemId)));
      assert.deepEqual(
        ids,
        [...ids].sort((x, y) => y - x),
      );
      // the newest alert's thumbnail: decrypted in the page, shown from a blob: URL
      const img = page.locator("#inbox li[data-kind=smart_alert] img.thumbnail").first();
      await img.waitFor();
      await page.waitForFunction(() => {
        const i = document.querySelector("#inbox img.thumbnail");
        return i && i.complete && i.naturalWidth > 0;
      });
      assert.match(await img.getAttribute("src"), /^blob:/);
      // the same picture as the camera's event record holds (decrypted by the CLI's code)
      const alertId = await page
        .locator("#inbox li[data-kind=smart_alert]", { has: page.locator("img.thumbnail") })
        .first()
        .getAttribute("data-alert-id");
      const alert = cliAlerts.find((a) => a.alert_id === alertId);
      thumbnail = eventThumbnail(alert);
      const size = jpegSize(thumbnail);
      assert.deepEqual(
        await img.evaluate((i) => [i.naturalWidth, i.naturalHeight]),
        size,
        "the page shows the event record's JPEG",
      );
      assert.ok((await page.locator("#inbox li[data-unread=true]").count()) > 0, "new items are marked");
      await axe(page, "inbox (smart alerts)");
      await shot(page, "inbox-smart-alerts");
      // mark all as read: what was listed is read after the reload (newer alerts may be new)
      const listed = await page.locator("#inbox > li").evaluateAll((els) => els.map((e) => e.dataset.itemId));
      await page.locator("#inbox-mark-read").click();
      await page.waitForFunction(
        (ids) =>
          document.querySelector("#inbox-state")?.dataset.state === "done" &&
          ids.every((id) => {
            const li = document.querySelector(`#inbox li[data-item-id="${id}"]`);
            return li && li.dataset.unread === undefined;
          }),
        listed,
      );
    }
    timings.inbox_ms = Date.now() - started;

    // --- a technician asks; the customer approves in the browser, shorter than asked -------
    const fromMs = stageStart - 60_000;
    const toMs = Date.now();
    const req1 = await askConsent("camera 1 loses focus at night", fromMs, toMs);
    let out = await cli(stage.technician.id, ["operator", "release", "--site", stage.siteId, "--out", "nope"], 1);
    assert.match(out, /no_justification/);

    await openPortalPage(page, "consents");
    const card1 = page.locator(`#consent-requests li[data-request-id="${req1}"]`);
    await card1.waitFor();
    assert.equal(await card1.getAttribute("data-state"), "pending");
    const text1 = await card1.textContent();
    for (const s of [stage.technician.id, "camera 1 loses focus at night", CAMERA, "recordings", "10 min"])
      assert.ok(text1.includes(s), `the request card says ${s}: ${text1}`);
    await axe(page, "consents (pending)");
    await shot(page, "consents-pending");

    // longer than asked: refused by the page, nothing signed or posted
    const posted = () => requests.length;
    const before1 = posted();
    await card1.getByLabel(/Valid for/).fill(String(ASKED_S + 1));
    await card1.getByRole("button", { name: /^Approve/ }).click();
    let act = await waitAction(page);
    assert.equal(act.state, "error");
    assert.match(act.text, /at most 600 s/);
    const sentSince = (await Promise.all(requests.slice(before1))).filter((r) => r.method === "POST");
    assert.deepEqual(sentSince, [], "nothing posted for a refused validity");
    await shot(page, "consents-too-long");

    await card1.getByLabel(/Valid for/).fill(String(GRANTED_S));
    await card1.getByRole("button", { name: /^Approve/ }).click();
    act = await waitAction(page);
    assert.equal(act.state, "done", act.text);
    const consentId = /Consent (consent-[0-9a-f]{16}) signed/.exec(act.text)?.[1];
    assert.ok(consentId, act.text);
    await page.locator(`#consents li[data-consent-id="${consentId}"][data-state=approved]`).waitFor();
    assert.match(
      await page.locator(`#consents li[data-consent-id="${consentId}"] .consent-state`).textContent(),
      /^approved until /,
    );
    // what the storage service holds: the customer's consent, exactly the window granted
    const consents = await cliJson("customer", ["customer", "consent", "list", "--json"]);
    const stored = consents.find((c) => c.consent_id === consentId);
    assert.ok(stored, "the CLI lists the consent signed in the browser");
    assert.equal(stored.not_after_ms - stored.not_before_ms, GRANTED_S * 1000 + 5000);
    assert.equal(stored.grantee_id, stage.technician.id);
    assert.deepEqual(stored.consent.body.cameras, [CAMERA]);
    // the browser remembers what it signed (the audit's "was it me?")
    const consentHash = statementHash(stored.consent);
    assert.deepEqual(await storedSignedHashes(page), [consentHash]);
    await axe(page, "consents (approved)");
    await shot(page, "consents-approved");

    // the technician's release now succeeds
    const t1 = Date.now();
    out = await cli(stage.technician.id, ["operator", "release", "--consent", consentId, "--out", "maint"]);
    const m = /(\d+) of (\d+) recording\(s\) decrypted/.exec(out);
    assert.ok(m && Number(m[1]) > 0 && m[1] === m[2], `release with the consent: ${out}`);
    timings.release_ms = Date.now() - t1;
    timings.released = Number(m[1]);

    // --- Revoke in the browser: storage and every custodian; the technician is refused -----
    await page
      .locator(`#consents li[data-consent-id="${consentId}"]`)
      .getByRole("button", { name: /^Revoke/ })
      .click();
    act = await waitAction(page);
    assert.equal(act.state, "done", act.text);
    for (const c of stage.custodians) assert.match(act.text, new RegExp(`custodian ${c.id}: `));
    await page.locator(`#consents li[data-consent-id="${consentId}"][data-state=revoked]`).waitFor();
    assert.equal(await card1.getAttribute("data-state"), "revoked");
    const revoked = (await cliJson("customer", ["customer", "consent", "list", "--json"])).find(
      (c) => c.consent_id === consentId,
    );
    assert.equal(revoked.revoked, true);
    assert.deepEqual((await storedSignedHashes(page)).sort(), [consentHash, statementHash(revoked.revocation)].sort());
    out = await cli(stage.technician.id, ["operator", "release", "--consent", consentId, "--out", "revoked"], 1);
    assert.match(out, /no_justification|consent_revoked/, out);
    await axe(page, "consents (revoked)");
    await shot(page, "consents-revoked");

    // --- a second request, refused in the browser with a reason ----------------------------
    const req2 = await askConsent("firmware check", fromMs, Date.now());
    await page.locator("#consents-refresh").click();
    const card2 = page.locator(`#consent-requests li[data-request-id="${req2}"]`);
    await card2.waitFor();
    await card2.getByLabel(/Reason for refusing/).fill("not this week");
    await card2.getByRole("button", { name: /^Refuse/ }).click();
    act = await waitAction(page);
    assert.equal(act.state, "done", act.text);
    await page.locator(`#consent-requests li[data-request-id="${req2}"][data-state=refused]`).waitFor();
    assert.equal(
      await page.locator(`#consent-requests li[data-request-id="${req2}"] .request-state`).textContent(),
      "refused: not this week",
    );
    const mine = await cliJson(stage.technician.id, ["operator", "consent", "list", "--json"]);
    const seen = mine.requests.find((r) => r.request_id === req2);
    assert.equal(seen.state, "refused");
    assert.equal(seen.refusal_reason, "not this week");
    await shot(page, "consents-refused");

    // --- a third, decided elsewhere while the page shows it: the service's reason code -----
    const req3 = await askConsent("lens cleaning", fromMs, Date.now());
    await page.locator("#consents-refresh").click();
    const card3 = page.locator(`#consent-requests li[data-request-id="${req3}"]`);
    await card3.waitFor();
    await cli("customer", ["customer", "consent", "refuse", req3, "--reason", "answered by phone"]);
    await card3.getByRole("button", { name: /^Approve/ }).click();
    act = await waitAction(page);
    assert.equal(act.state, "error");
    assert.match(act.text, /refused by the storage service: consent_request_decided/);
    // the page reloads: the request shows as refused, with the reason given elsewhere
    await page.locator(`#consent-requests li[data-request-id="${req3}"][data-state=refused]`).waitFor();
    assert.equal(await actionState(page).then((a) => a.state), "error", "the reason code stays on screen");
    assert.equal((await storedSignedHashes(page)).length, 2, "a refused consent is not remembered as signed");
    await axe(page, "consents (refusal code)");
    await shot(page, "consents-refusal-code");
    timings.consents_ms = Date.now() - started;

    // --- Inbox: the access notices of the release, one per custodian that released ----------
    await openPortalPage(page, "inbox");
    let cliNotices = [];
    await refreshUntil(
      page,
      "#inbox-refresh",
      async () => {
        cliNotices = (await cliJson("customer", ["customer", "inbox", "--json", "--kind", "access_notice"])).map(
          (i) => i.data,
        );
        const shown = await page.locator("#inbox li[data-kind=access_notice]").count();
        return cliNotices.length >= 2 && shown === cliNotices.length;
      },
      "showing the access notices",
    );
    const notices = page.locator("#inbox li[data-kind=access_notice]");
    for (let i = 0; i < (await notices.count()); i++) {
      const t = await notices.nth(i).textContent();
      assert.equal(await notices.nth(i).getAttribute("data-operator-id"), stage.technician.id);
      assert.ok(t.includes(`consent ${consentId}`) && t.includes("maintenance") && t.includes(CAMERA), t);
    }
    assert.deepEqual(
      (await notices.evaluateAll((els) => els.map((e) => e.dataset.custodianId))).sort(),
      cliNotices.map((n) => n.custodian_id).sort(),
    );
    await axe(page, "inbox (access notices)");
    await shot(page, "inbox-access-notices");
    await notices.first().getByRole("button", { name: /audit/ }).click();
    await page.locator("#page-audit").waitFor();
    assert.equal(await page.locator("#nav-audit").getAttribute("aria-current"), "page");

    // --- Devices: the camera's recent telemetry; the panel; stale under a short interval ----
    await openPortalPage(page, "devices");
    await page.waitForFunction(() => document.querySelector("#devices-state")?.dataset.state === "done");
    const camRow = page.locator(`#device-table tr[data-device-id="${CAMERA}"]`);
    assert.equal(await camRow.getAttribute("data-health"), "ok");
    const received = Number(await camRow.locator("td[data-received-ms]").getAttribute("data-received-ms"));
    assert.ok(Date.now() - received < 120_000, "the camera reported within its interval plus margin");
    assert.ok(received >= stageStart - 5_000, "a report from this stage's camera");
    assert.equal(await page.locator(`#device-table tr[data-device-id="${stage.panel}"]`).count(), 1);
    await axe(page, "devices");
    await shot(page, "devices");
    await page.evaluate(() => history.replaceState(null, "", "#/devices?interval=1&margin=1"));
    // (a report may land meanwhile: the camera posts every 60 s; a few tries)
    let health = "";
    for (let i = 0; i < 4 && health !== "stale"; i++) {
      await page.waitForTimeout(2_500);
      await openPortalPage(page, "devices");
      await page.waitForFunction(() => document.querySelector("#devices-state")?.dataset.state === "done");
      health = await camRow.getAttribute("data-health");
    }
    assert.equal(health, "stale", "silent for longer than 1 s + 1 s");
    await shot(page, "devices-stale");

    // --- nothing secret left the page -------------------------------------------------------
    const identity = /AGE-SECRET-KEY-1[0-9A-Z]+/.exec(stage.customer.identityTxt)[0];
    const siteKey = /ed25519-secret:[A-Za-z0-9_\-+/=]+/.exec(stage.customer.siteKeyTxt)[0];
    const secrets = [identity, siteKey, siteKey.slice("ed25519-secret:".length), PASSPHRASE];
    if (thumbnail) secrets.push(...plaintextWindows(thumbnail, 8, 48));
    timings.requests = await assertNoSecrets(requests, secrets);
    // the one error the browser logs by itself: the 409 of the request decided elsewhere
    const conflicts = errors.filter((e) => /status of 409 \(Conflict\)/.test(e));
    assert.equal(conflicts.length, 1, `one expected 409, got: ${JSON.stringify(errors)}`);
    assertNoConsoleErrors(errors, [/status of 409 \(Conflict\)/]);
    timings.total_ms = Date.now() - started;
  });
});
