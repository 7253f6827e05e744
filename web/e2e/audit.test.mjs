// The Audit page in a real headless Chromium on the stage (real storage service, three real
// custodians with CORS, the camera agent on a test pattern, the ARC operator's CLI): the
// customer's keys imported; before any access all three logs verify with no access; after an
// alarm and op-7's release by the CLI, "Verify again" lists each access with the same
// (custodian, log index, operator, released count) as `camvault customer audit` prints; after
// c2 rewrites the release entry in its own log (KEY-03), c2 is flagged log_inconsistent while
// c1 and c3 stay ok, and the CLI agrees. Screenshots, axe, no console error, and no request
// carries the identity or the site key.
//
// Run after `npm run build`:  node --test e2e/audit.test.mjs
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  assertNoConsoleErrors,
  assertNoSecrets,
  axe,
  importCustomerKeys,
  launch,
  openPage,
  openPortalPage,
  shot,
} from "./checks.mjs";
import { startStage } from "./stage.mjs";

let stage;
let browser;
let keyDir;

before(async () => {
  [stage, browser] = await Promise.all([startStage({ camera: "testsrc" }), launch()]);
  keyDir = mkdtempSync(join(tmpdir(), "camvault-audit-keys-"));
  writeFileSync(join(keyDir, "identity.txt"), stage.customer.identityTxt);
  writeFileSync(join(keyDir, "site.key"), stage.customer.siteKeyTxt);
  writeFileSync(join(keyDir, "config.json"), stage.customer.configJson);
});

after(async () => {
  await browser?.close();
  await stage?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
});

/** Send a stage command; fail on its error. */
async function send(cmd) {
  const out = await stage.send(cmd);
  assert.equal(out.error, undefined, `stage ${cmd.cmd}: ${out.error}`);
  return out;
}

/** Click "Verify again" (unless first) and wait for the verdict line; the page's results. */
async function verified(page, click = true) {
  if (click) {
    // the button is disabled while an audit runs: wait until it is enabled, then click
    await page.locator("#audit-verify:not([disabled])").click();
  }
  await page.waitForFunction(() => {
    const s = document.querySelector("#audit-state")?.dataset.state;
    const a = document.querySelector("#audit-accesses-state")?.dataset.state;
    return (s === "done" || s === "error") && a !== "loading";
  });
  return page.evaluate(() => ({
    state: document.querySelector("#audit-state").dataset.state,
    text: document.querySelector("#audit-state").textContent,
    custodians: [...document.querySelectorAll("section.custodian")].map((s) => ({
      id: s.dataset.custodian,
      verdict: s.dataset.verdict,
      size: s.querySelector("[data-size]")?.dataset.size ?? null,
      root: s.querySelector("[data-root]")?.dataset.root ?? null,
      findings: [...s.querySelectorAll(".findings li")].map((li) => li.dataset.kind),
      tofu: s.querySelector(".tofu") !== null,
    })),
    accessesState: document.querySelector("#audit-accesses-state").dataset.state,
    rows: [...document.querySelectorAll("#audit-accesses tbody tr")].map((r) => ({
      custodian: r.dataset.custodian,
      index: Number(r.dataset.index),
      kind: r.dataset.kind,
      operator: r.dataset.operator,
      justification: r.dataset.justification,
      released: Number(r.dataset.released),
      recordings: r.dataset.recordings ? r.dataset.recordings.split(" ") : [],
      included: r.dataset.included,
      window: r.querySelector("[data-window]")?.dataset.window,
      text: r.textContent,
    })),
  }));
}

/** `camvault customer audit` as the customer: exit code, per-custodian lines, access rows. */
async function cliAudit() {
  const { code, out } = await send({ cmd: "cli", who: "customer", args: ["customer", "audit"] });
  const verdicts = {};
  for (const m of out.matchAll(/^custodian (c\d): (log verified \(size (\d+)\)|PROBLEMS)/gm))
    verdicts[m[1]] = m[2].startsWith("log verified") ? { ok: true, size: m[3] } : { ok: false, size: null };
  const findings = {};
  let current = null;
  for (const line of out.split("\n")) {
    const head = /^custodian (c\d): /.exec(line);
    if (head) current = head[1];
    const f = /^ {2}([a-z_]+) \(entry /.exec(line);
    if (f && current) (findings[current] ??= []).push(f[1]);
  }
  // table rows: │ c1 │ 5 │ when │ released 3 │ op-7 │ purpose │ why │ cameras │
  const rows = out
    .split("\n")
    .filter((l) => /^[│┃] c\d /.test(l))
    .map((l) => l.split(/[│┃]/).map((c) => c.trim()))
    .map((c) => ({ custodian: c[1], index: Number(c[2]), outcome: c[4], operator: c[5], why: c[7] }));
  return { code, out, verdicts, findings, rows };
}

describe("the Audit page", () => {
  it("verifies the three logs, lists op-7's accesses as the CLI does, flags c2's rewritten log", async () => {
    const started = Date.now();
    const { page, errors, requests } = await openPage(browser, { viewport: { width: 1400, height: 900 } });
    const files = ["identity.txt", "site.key", "config.json"].map((f) => join(keyDir, f));
    await importCustomerKeys(page, stage.appUrl, files);
    await openPortalPage(page, "audit");

    // 1. before any access: all three ok, trust on first use, no access
    const before = await verified(page, false);
    assert.equal(before.state, "done", before.text);
    assert.deepEqual(
      before.custodians.map((c) => [c.id, c.verdict, c.findings, c.tofu]),
      [
        ["c1", "ok", [], true],
        ["c2", "ok", [], true],
        ["c3", "ok", [], true],
      ],
    );
    assert.equal(before.accessesState, "empty");
    assert.deepEqual(before.rows, []);
    const cliBefore = await cliAudit();
    assert.equal(cliBefore.code, 0, cliBefore.out);
    for (const c of before.custodians) assert.equal(cliBefore.verdicts[c.id]?.size, c.size, cliBefore.out);
    assert.deepEqual(cliBefore.rows, []);
    await axe(page, "the audit page before any access");
    await shot(page, "audit-before-access");

    // 2. an alarm, op-7 releases the pre-alarm recordings with the CLI
    await send({ cmd: "wait-recordings", n: 2, timeout_s: 90 });
    const { alarm_id } = await send({ cmd: "alarm" });
    const ack = await send({ cmd: "cli", who: "op-7", args: ["operator", "ack", alarm_id] });
    assert.equal(ack.code, 0, ack.out);
    const rel = await send({
      cmd: "cli",
      who: "op-7",
      args: ["operator", "release", "--alarm", alarm_id, "--out", "arc"],
    });
    assert.equal(rel.code, 0, rel.out);

    const afterRelease = await verified(page);
    assert.equal(afterRelease.state, "done", afterRelease.text);
    assert.deepEqual(
      afterRelease.custodians.map((c) => [c.id, c.verdict, c.tofu]),
      [
        ["c1", "ok", false],
        ["c2", "ok", false],
        ["c3", "ok", false],
      ],
    );
    assert.equal(afterRelease.accessesState, "done");
    assert.ok(afterRelease.rows.length >= 2, "released by at least the threshold (2) of the custodians");
    for (const r of afterRelease.rows) {
      assert.equal(r.operator, "op-7");
      assert.equal(r.included, "true", `entry ${r.index} of ${r.custodian} proved included`);
      if (r.kind === "release") {
        assert.ok(r.released > 0 && r.recordings.length === r.released, JSON.stringify(r));
        assert.ok(
          r.recordings.every((x) => x.startsWith("cam-1/")),
          JSON.stringify(r),
        );
        assert.match(r.justification, /^alarm evt-[0-9a-f]+ \(intrusion\) of panel-1$/);
        assert.equal(r.window, "true", `every recording inside cam-1's alarm window: ${r.text}`);
      }
    }
    const cliAfter = await cliAudit();
    assert.equal(cliAfter.code, 0, cliAfter.out);
    for (const c of afterRelease.custodians) assert.deepEqual(cliAfter.verdicts[c.id], { ok: true, size: c.size });
    const key = (r) => `${r.custodian}#${r.index} ${r.operator}`;
    assert.deepEqual(afterRelease.rows.map(key).sort(), cliAfter.rows.map(key).sort(), cliAfter.out);
    for (const r of afterRelease.rows) {
      const cli = cliAfter.rows.find((x) => x.custodian === r.custodian && x.index === r.index);
      const outcome = r.kind === "release" ? `released ${r.released}` : r.kind;
      assert.ok(cli.outcome.startsWith(outcome.split(" ")[0]), `${cli.outcome} vs ${outcome}`);
      if (r.kind === "release") assert.equal(cli.outcome, outcome);
      assert.equal(cli.why, r.justification, "the same alarm as the CLI names");
    }
    await axe(page, "the audit page with accesses");
    await shot(page, "audit-accesses");

    // 3. c2 rewrites the release entry in its own log: c2 log_inconsistent, c1 and c3 ok
    const tampered = await send({ cmd: "tamper-log", custodian: "c2" });
    const afterTamper = await verified(page);
    assert.equal(afterTamper.state, "error", afterTamper.text);
    assert.deepEqual(
      afterTamper.custodians.map((c) => [c.id, c.verdict, c.findings]),
      [
        ["c1", "ok", []],
        ["c2", "findings", ["log_inconsistent"]],
        ["c3", "ok", []],
      ],
    );
    // c2's access remembered from before is still listed, its inclusion not checkable now
    const c2rows = afterTamper.rows.filter((r) => r.custodian === "c2");
    assert.ok(
      c2rows.some((r) => r.index === tampered.index && r.included === "null"),
      JSON.stringify(c2rows),
    );
    const cliTamper = await cliAudit();
    assert.equal(cliTamper.code, 1, cliTamper.out);
    assert.deepEqual(
      Object.entries(cliTamper.verdicts).map(([id, v]) => [id, v.ok]),
      [
        ["c1", true],
        ["c2", false],
        ["c3", true],
      ],
    );
    assert.deepEqual(cliTamper.findings, { c2: ["log_inconsistent"] });
    await axe(page, "the audit page with c2 flagged");
    await shot(page, "audit-log-inconsistent");

    // 4. loading: c1's checkpoint held back a moment, the page says it is verifying
    const c1 = stage.custodians.find((c) => c.id === "c1");
    let release;
    const held = new Promise((r) => (release = r));
    await page.route(`${c1.url}/v1/log/checkpoint`, async (route) => {
      await held;
      await route.continue();
    });
    await page.locator("#audit-verify").click();
    await page.locator('#audit-state[data-state="loading"]').waitFor();
    assert.equal(await page.locator("#audit-verify").isDisabled(), true, "no second audit while one runs");
    await shot(page, "audit-loading");
    release();
    await verified(page, false);
    await page.unroute(`${c1.url}/v1/log/checkpoint`);
    assertNoConsoleErrors(errors);

    // 5. c3 unreachable (every connection to it refused): its own finding, the others audited
    const c3 = stage.custodians.find((c) => c.id === "c3");
    await page.route(`${c3.url}/**`, (route) => route.abort("connectionrefused"));
    const down = await verified(page);
    assert.deepEqual(
      down.custodians.map((c) => [c.id, c.verdict, c.findings]),
      [
        ["c1", "ok", []],
        ["c2", "findings", ["log_inconsistent"]],
        ["c3", "unreachable", ["unreachable"]],
      ],
    );
    // what c3 logged before is still listed, not proved this time
    const c3rows = (rows) => rows.filter((r) => r.custodian === "c3").map((r) => r.index);
    assert.ok(c3rows(afterTamper.rows).length > 0 || !afterRelease.rows.some((r) => r.custodian === "c3"));
    assert.deepEqual(c3rows(down.rows), c3rows(afterTamper.rows));
    assert.ok(down.rows.filter((r) => r.custodian === "c3").every((r) => r.included === "null"));
    await axe(page, "the audit page with c3 unreachable");
    await shot(page, "audit-custodian-unreachable");
    await page.unroute(`${c3.url}/**`);
    const back = await verified(page);
    assert.deepEqual(
      back.custodians.map((c) => c.verdict),
      ["ok", "findings", "ok"],
    );

    // 6. nothing secret left the page; no console error but the refused connections to c3
    const siteKey = stage.customer.siteKeyTxt.trim();
    const n = await assertNoSecrets(requests, [
      stage.customer.identityTxt.match(/AGE-SECRET-KEY-1[0-9A-Z]+/)[0],
      siteKey,
      siteKey.slice("ed25519-secret:".length),
    ]);
    const custodianRequests = (await Promise.all(requests)).filter((r) =>
      stage.custodians.some((c) => r.url.startsWith(c.url)),
    );
    assert.ok(custodianRequests.length > 0, "the page talked to the custodians itself");
    assertNoConsoleErrors(errors, [/net::ERR_CONNECTION_REFUSED/]);
    console.log(
      `audit e2e: ${n} requests checked (${custodianRequests.length} to custodians), ${Date.now() - started} ms`,
    );
  });
});
