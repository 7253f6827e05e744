// Witnessed custodian logs in the browser, on the stage with three real witnesses
// (`camvault serve witness`, quorum 2; custodians collecting cosignatures, op-7 set up with
// `operator init --witness ... --witness-quorum 2`, the customer with `customer witnesses add`):
//   - the operator console imports op-7's config.json with its witnesses, decrypts the
//     pre-alarm recordings from witnessed receipts and posts the release-receipt report to the
//     site's inbox; custodian c3 restarted without witnesses: its receipt is refused
//     (`unwitnessed`, shares not used) while c1 and c2 release, and the page warns for c3;
//   - the Audit page, requiring 2 of the 3 witnesses with a 20 s freshness bound, verifies
//     the three logs and cross-checks the operators' receipts: no finding (control);
//   - attack: every witness stopped: a new alarm's release is refused by the console
//     (`unwitnessed` for each custodian), and the audit reports `stale_checkpoint` (a frozen
//     view) once the last cosignatures are older than the bound.
// Screenshots, axe, no console error, no request carries a key or the passphrase.
//
// Run after a build:  CAMVAULT_E2E_WEB_DIR=<build> node --test e2e/witness.test.mjs
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStage } from "./stage.mjs";
import {
  assertNoConsoleErrors,
  assertNoSecrets,
  axe,
  importCustomerKeys,
  launch,
  openPage,
  openPortalPage,
  PASSPHRASE,
  shot,
  WAIT,
} from "./checks.mjs";

const MAX_AGE_S = 20; // the customer's freshness bound (witnesses.json max_age_s)

let stage;
let browser;
let keyDir;
let op; // op-7's page
let portal; // the customer's page

before(async () => {
  const webDir = process.env.CAMVAULT_E2E_WEB_DIR;
  [stage, browser] = await Promise.all([
    startStage({ camera: "testsrc", witnesses: 3, witnessQuorum: 2, accessPeriodS: 50, ...(webDir ? { webDir } : {}) }),
    launch(),
  ]);
  keyDir = mkdtempSync(join(tmpdir(), "camvault-witness-keys-"));
  writeFileSync(join(keyDir, "identity.txt"), stage.customer.identityTxt);
  writeFileSync(join(keyDir, "site.key"), stage.customer.siteKeyTxt);
  writeFileSync(join(keyDir, "config.json"), stage.customer.configJson);
  // the CLI's witnesses.json, with a short freshness bound for the frozen-view attack
  const w = JSON.parse(stage.customer.witnessesJson);
  assert.equal(w.witnesses.length, 3);
  writeFileSync(join(keyDir, "witnesses.json"), JSON.stringify({ ...w, max_age_s: MAX_AGE_S }));
});

after(async () => {
  await browser?.close();
  await stage?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

async function send(cmd) {
  const out = await stage.send(cmd);
  assert.equal(out.error, undefined, `stage ${cmd.cmd}: ${out.error}`);
  return out;
}

async function openAlarm(page, alarmId) {
  const row = page.locator(`#alarm-queue tr[data-alarm="${alarmId}"]`);
  await row.waitFor({ timeout: 20_000 });
  await row.getByRole("button", { name: `Open alarm ${alarmId}` }).click();
  await page.locator(`#alarm-view-title`, { hasText: alarmId }).waitFor();
}

/** The Audit page's verdicts after (re)verifying. */
async function audited(page, click = true) {
  if (click) await page.locator("#audit-verify:not([disabled])").click();
  await page.waitForFunction(() => {
    const s = document.querySelector("#audit-state")?.dataset.state;
    return s === "done" || s === "error";
  });
  return page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll("section.custodian")].map((s) => [
        s.dataset.custodian,
        { verdict: s.dataset.verdict, findings: [...s.querySelectorAll(".findings li")].map((li) => li.dataset.kind) },
      ]),
    ),
  );
}

describe("witnessed logs in the web app", { timeout: 300_000 }, () => {
  it("op-7 decrypts an alarm with witnessed receipts; c3 without witnesses is refused and warned", async () => {
    const config = JSON.parse(readFileSync(join(stage.operator.dir, "config.json"), "utf8"));
    assert.equal(config.witnesses.quorum, 2, "the CLI kept the witnesses in config.json");
    op = await openPage(browser);
    await op.page.goto(`${stage.appUrl}#/operator`);
    await op.page.locator("#import-form").waitFor();
    await op.page
      .locator("#key-files")
      .setInputFiles([join(stage.operator.dir, "operator.key"), join(stage.operator.dir, "config.json")]);
    await op.page.waitForFunction(() => document.querySelector("#key-text").value.includes("operator_id"));
    await op.page.getByLabel("Passphrase", { exact: true }).fill(PASSPHRASE);
    await op.page.getByLabel("Confirm passphrase").fill(PASSPHRASE);
    await op.page.getByRole("button", { name: "Import and encrypt" }).click();
    await op.page.locator("#witness-policy[data-quorum='2']", { hasText: "2 of 3" }).waitFor();

    await send({ cmd: "wait-recordings", n: 2 });
    const alarm = await send({ cmd: "alarm" });
    await openAlarm(op.page, alarm.alarm_id);
    await op.page.locator("#pre-state[data-state=done]").waitFor({ timeout: WAIT });
    assert.ok((await op.page.locator("#pre-list li[data-state=decrypted]").count()) >= 1, "pre-alarm decrypted");
    // every custodian answered with a witnessed receipt; the report reached the inbox
    await op.page.locator("#pre-outcomes-box[data-receipts=posted]").waitFor({ timeout: 20_000 });
    assert.equal(await op.page.locator("#pre-outcomes li[data-reason=released]").count(), 3);
    assert.equal(await op.page.locator("#pre-outcomes-warnings li").count(), 0, "no warning");
    await shot(op.page, "witness-operator-pre");
    await axe(op.page, "witnessed release");

    // c3 no longer collects cosignatures: its receipt is refused, c1 and c2 suffice
    await send({ cmd: "custodian-witnesses", custodian: "c3", on: false });
    await op.page.locator("#release-again").click();
    const box = op.page.locator("#again-outcomes-box[data-receipts=posted]");
    await box.waitFor({ timeout: WAIT });
    assert.ok((await op.page.locator("#again-list li[data-state=decrypted]").count()) >= 1, "released again");
    const warn = op.page.locator("#again-outcomes-warnings li[data-custodian=c3][data-reason=unwitnessed]");
    await warn.waitFor();
    assert.match(await warn.textContent(), /^warning: custodian c3: unwitnessed \(receipt refused/);
    assert.equal(await op.page.locator("#again-outcomes li[data-custodian=c3][data-reason=unwitnessed]").count(), 1);
    assert.equal(await op.page.locator("#again-outcomes li[data-reason=released]").count(), 2);
    await shot(op.page, "witness-operator-c3-unwitnessed");
    await axe(op.page, "one custodian unwitnessed");
    await send({ cmd: "custodian-witnesses", custodian: "c3", on: true });
    // the console locked: its alarm view (and the live feed's releases) stop, so the audit
    // below sees every release with its access notice delivered
    await op.page.locator("#lock").click();
    await op.page.locator("#unlock-form").waitFor();
    await op.page.waitForTimeout(2000);
    // the reports are in the customer's inbox (the CLI reads them)
    const { out } = await send({
      cmd: "cli",
      who: "customer",
      args: ["customer", "inbox", "--kind", "release_receipts"],
    });
    assert.ok((out.match(/release_receipts/g) ?? []).length >= 2, out);
  });

  it("the Audit page verifies the witnessed logs and cross-checks the receipts: no finding", async () => {
    portal = await openPage(browser);
    await importCustomerKeys(
      portal.page,
      stage.appUrl,
      ["identity.txt", "site.key", "config.json", "witnesses.json"].map((f) => join(keyDir, f)),
    );
    await openPortalPage(portal.page, "audit");
    const first = await audited(portal.page, false);
    assert.deepEqual(
      first,
      Object.fromEntries(["c1", "c2", "c3"].map((c) => [c, { verdict: "ok", findings: [] }])),
      JSON.stringify(first),
    );
    await shot(portal.page, "witness-audit-ok");
    await axe(portal.page, "witnessed audit");
  });

  it("attack: the witnesses stop: the console refuses every receipt, the audit finds a frozen view", async () => {
    const stoppedAt = Date.now();
    assert.equal((await send({ cmd: "stop-witnesses" })).stopped, 3);
    const alarm = await send({ cmd: "alarm" });
    await op.page.getByLabel("Passphrase").fill(PASSPHRASE);
    await op.page.getByRole("button", { name: "Unlock" }).click();
    await openAlarm(op.page, alarm.alarm_id);
    const refusal = op.page.locator("#pre-refusal[data-source=custodians]");
    await refusal.waitFor({ timeout: WAIT });
    assert.equal(await refusal.getAttribute("data-reason"), "unwitnessed");
    assert.equal(await op.page.locator("#pre-refusal-custodians li[data-reason=unwitnessed]").count(), 3);
    await shot(op.page, "witness-operator-refused");
    await axe(op.page, "unwitnessed refusal");
    // the audit: fresh cosignatures can no longer be had; past the bound, a frozen view
    const wait = stoppedAt + (MAX_AGE_S + 6) * 1000 - Date.now();
    if (wait > 0) await portal.page.waitForTimeout(wait);
    const got = await audited(portal.page);
    for (const c of ["c1", "c2", "c3"]) {
      assert.equal(got[c].verdict, "findings", JSON.stringify(got));
      assert.ok(got[c].findings.includes("stale_checkpoint"), JSON.stringify(got));
      assert.ok(!got[c].findings.includes("split_view"), JSON.stringify(got));
    }
    await shot(portal.page, "witness-audit-stale");
    await axe(portal.page, "stale audit");
  });

  it("no console error; no request carries a key or the passphrase", async () => {
    // the console kept asking c3 while the stage restarted it (twice): refused connections only
    assertNoConsoleErrors(op.errors, [/^Failed to load resource: net::ERR_CONNECTION_REFUSED$/]);
    assertNoConsoleErrors(portal.errors);
    const files = readFileSync(join(stage.operator.dir, "operator.key"), "utf8").trim();
    const secrets = [
      files,
      PASSPHRASE,
      stage.customer.siteKeyTxt.trim(),
      stage.customer.identityTxt.trim().split("\n").pop(),
    ];
    await assertNoSecrets(op.requests, secrets);
    await assertNoSecrets(portal.requests, secrets);
  });
});
