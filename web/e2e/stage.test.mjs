// The stage itself (web/e2e/stage.mjs), with the camera agent on the ffmpeg test pattern: the
// page served at appUrl reaches a custodian (its CSP lists it, the custodian's CORS allows the
// page's origin, preflight with the app's signed headers included) and nothing else (the same
// custodian under another name is blocked by connect-src); the camera's recordings arrive; the
// panel's alarm reaches the operator's queue; a custodian's rewritten log is caught by the
// customer's audit; a failed command leaves the stage running; stop() ends every process.
//
// Run after `npm run build`:  node --test e2e/stage.test.mjs
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertNoConsoleErrors, axe, launch, nextViolation, openPage, shot } from "./checks.mjs";
import { startStage } from "./stage.mjs";

let stage;
let browser;
let startupS;

before(async () => {
  const t0 = Date.now();
  [stage, browser] = await Promise.all([startStage({ camera: "testsrc" }), launch()]);
  startupS = (Date.now() - t0) / 1000;
});

after(async () => {
  await browser?.close();
  await stage?.stop();
});

/** Send a stage command; fail on its error. */
async function send(cmd) {
  const out = await stage.send(cmd);
  assert.equal(out.error, undefined, `stage ${cmd.cmd}: ${out.error}`);
  return out;
}

describe("the stage", () => {
  it("comes up with what it promises", () => {
    console.log(`stage ready in ${stage.startupS} s (startStage + browser: ${startupS} s)`);
    assert.match(stage.storageUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(stage.appUrl, `${stage.storageUrl}/app/`);
    assert.deepEqual(
      stage.custodians.map((c) => c.id),
      ["c1", "c2", "c3"],
    );
    assert.match(stage.siteId, /^home-1-[a-z2-7]+$/);
    assert.match(stage.customer.identityTxt, /^AGE-SECRET-KEY-1/m);
    assert.match(stage.customer.siteKeyTxt, /^ed25519-secret:/);
    const config = JSON.parse(stage.customer.configJson);
    assert.equal(config.site_id, stage.siteId);
    assert.equal(stage.operator.id, "op-7");
    assert.equal(stage.technician.id, "tech-3");
    assert.ok(Object.keys(stage.operator.files).length > 0, "the operator's state files");
    assert.ok(existsSync(stage.workdir));
  });

  it("lets the page reach the custodians (CSP + CORS) and nothing else", async () => {
    const { page, errors } = await openPage(browser);
    const resp = await page.goto(stage.appUrl);
    assert.equal(resp.status(), 200);
    const csp = resp.headers()["content-security-policy"];
    const connect = csp.split("; ").find((d) => d.startsWith("connect-src "));
    for (const c of stage.custodians) assert.ok(connect.split(" ").includes(c.url), `${c.url} in ${connect}`);
    await shot(page, "stage-app");
    await axe(page, "the app at the stage");

    // a CORS fetch (the page reads the answer) to each custodian: allowed by both sides
    for (const c of stage.custodians) {
      const info = await page.evaluate(async (url) => {
        const r = await fetch(`${url}/v1/custodian`, { credentials: "omit" });
        return { status: r.status, body: await r.json() };
      }, c.url);
      assert.equal(info.status, 200);
      assert.equal(info.body.custodian_id, c.id);
    }

    // a preflighted POST with exactly the headers the app signs with: the preflight passes,
    // the custodian answers (unsigned: refused) and the page can read the reason
    const refused = await page.evaluate(async (url) => {
      const r = await fetch(`${url}/v1/releases`, {
        method: "POST",
        credentials: "omit",
        headers: {
          "content-type": "application/json",
          "content-digest": "sha-256=:AAAA:",
          signature: "sig1=:AAAA:",
          "signature-input": 'sig1=("@method");keyid="operator:op-7"',
          "idempotency-key": "k1",
        },
        body: "{}",
      });
      return { status: r.status, body: await r.json() };
    }, stage.custodians[0].url);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, "bad_request_signature");

    // the same custodian under another name (localhost, not 127.0.0.1) is another origin,
    // not in connect-src: blocked by the policy (no-cors, so only the policy can stop it)
    const other = stage.custodians[1].url.replace("127.0.0.1", "localhost");
    const violation = nextViolation(page, 20_000);
    const outcome = await page.evaluate(async (url) => {
      try {
        await fetch(`${url}/v1/custodian`, { mode: "no-cors", credentials: "omit" });
        return "fetched";
      } catch (e) {
        return `refused: ${e.name}`;
      }
    }, other);
    assert.equal(outcome, "refused: TypeError");
    const v = await violation;
    assert.ok(v, "no CSP violation reported");
    assert.equal(v.directive, "connect-src");
    assert.ok(v.blocked.startsWith(other), v.blocked);
    assertNoConsoleErrors(errors, [/Content Security Policy/, /Failed to fetch|ERR_BLOCKED/, /401/]);
    await page.context().close();
  });

  it("answers a failed command with an error and keeps going", async () => {
    assert.match((await stage.send({ cmd: "nonsense" })).error, /unknown command 'nonsense'/);
    assert.match((await stage.send({ cmd: "cli", who: "root", args: [] })).error, /who must be one of/);
    assert.match((await stage.send({ cmd: "tamper-log", custodian: "c9" })).error, /no custodian c9/);
    const bad = await send({ cmd: "cli", who: "customer", args: ["customer", "no-such-command"] });
    assert.notEqual(bad.code, 0);
    const ok = await send({ cmd: "cli", who: "customer", args: ["customer", "verify"] });
    assert.equal(ok.code, 0, ok.out);
  });

  it("records: wait-recordings reaches 2", async () => {
    const { count } = await send({ cmd: "wait-recordings", n: 2, timeout_s: 60 });
    assert.ok(count >= 2, `count ${count}`);
    const list = await send({ cmd: "cli", who: "customer", args: ["customer", "list", "--json"] });
    assert.equal(list.code, 0, list.out);
    const rows = JSON.parse(list.out).filter((r) => r.camera_id === "cam-1" && r.kind !== "event");
    assert.ok(rows.length >= count, `${rows.length} listed, ${count} counted`);
  });

  it("raises an alarm the operator lists, and a rewritten log is caught by the audit", async () => {
    const alarm = await send({ cmd: "alarm" });
    assert.match(alarm.alarm_id, /^[0-9a-f]{32}$/);
    assert.ok(Math.abs(Date.now() - alarm.trigger_ms) < 60_000);
    const queue = await send({ cmd: "cli", who: "op-7", args: ["operator", "alarms"] });
    assert.equal(queue.code, 0, queue.out);
    assert.ok(queue.out.includes(alarm.alarm_id), queue.out);

    // as demo/story.py step 6: the operator acknowledges and releases the pre-alarm video
    const ack = await send({ cmd: "cli", who: "op-7", args: ["operator", "ack", alarm.alarm_id] });
    assert.equal(ack.code, 0, ack.out);
    const release = await send({
      cmd: "cli",
      who: "op-7",
      args: ["operator", "release", "--alarm", alarm.alarm_id, "--out", "arc"],
    });
    assert.equal(release.code, 0, release.out);
    assert.match(release.out, /pre-alarm/);

    const clean = await send({ cmd: "cli", who: "customer", args: ["customer", "audit"] });
    assert.equal(clean.code, 0, clean.out); // the control: clean before
    assert.equal(clean.out.split("log verified").length - 1, 3, clean.out);
    assert.ok(!clean.out.includes("log_inconsistent"), clean.out);

    const { index, custodian } = await send({ cmd: "tamper-log", custodian: "c2" });
    assert.equal(custodian, "c2");
    assert.ok(Number.isInteger(index) && index >= 0);
    const audit = await send({ cmd: "cli", who: "customer", args: ["customer", "audit"] });
    assert.notEqual(audit.code, 0, audit.out);
    assert.match(audit.out, /log_inconsistent/);
    assert.equal(audit.out.split("log_inconsistent").length - 1 >= 1, true);
    assert.equal(audit.out.split("log verified").length - 1, 2, audit.out); // c1 and c3 still
  });

  it("stops every process and removes its workdir", async () => {
    const { storageUrl, custodians, workdir } = stage;
    await stage.stop();
    assert.ok(!existsSync(workdir));
    for (const url of [storageUrl, ...custodians.map((c) => c.url)]) {
      await assert.rejects(fetch(`${url}/healthz`), `${url} still answers`);
    }
    await assert.rejects(stage.send({ cmd: "alarm" }), /stopped/);
  });
});

describe("the stage when things go wrong", () => {
  it("refuses to start without a web build, saying so", async () => {
    const empty = mkdtempSync(join(tmpdir(), "camvault-nodist-"));
    try {
      await assert.rejects(startStage({ webDir: empty }), /no web build in .*camvault-nodist-.*npm run build/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("person camera: labelled events and smart alerts; a dead stage rejects pending sends, stop() still ends all", async () => {
    const s = await startStage({ camera: "person" });
    try {
      // the astronaut video through the opencv detector: event records labelled person
      // (decrypted by the customer's CLI) and smart alerts in the customer's inbox
      let labelled = [];
      let alerts = [];
      const deadline = Date.now() + 120_000;
      while ((labelled.length === 0 || alerts.length === 0) && Date.now() < deadline) {
        const list = await s.send({ cmd: "cli", who: "customer", args: ["customer", "list", "--json"] });
        assert.equal(list.code, 0, list.out);
        labelled = JSON.parse(list.out).filter(
          (r) => r.kind === "event" && JSON.stringify(r.labels).includes("person"),
        );
        const inbox = await s.send({
          cmd: "cli",
          who: "customer",
          args: ["customer", "inbox", "--kind", "smart_alert", "--json"],
        });
        assert.equal(inbox.code, 0, inbox.out);
        alerts = JSON.parse(inbox.out).filter((i) => JSON.stringify(i).includes("person"));
        if (labelled.length === 0 || alerts.length === 0) await new Promise((r) => setTimeout(r, 2000)); // poll
      }
      assert.ok(labelled.length > 0, `no event record labelled person:\n${s.logs()}`);
      assert.ok(alerts.length > 0, `no smart alert naming a person:\n${s.logs()}`);

      const pending = s.send({ cmd: "wait-recordings", n: 99, timeout_s: 600 });
      await new Promise((r) => setTimeout(r, 500)); // the command is being served
      process.kill(s.pid, "SIGKILL"); // not a clean stop: its servers are left running
      await assert.rejects(pending, (e) => {
        assert.match(e.message, /the stage process exited \(SIGKILL\)/);
        assert.match(e.message, /--- stage\.log/);
        return true;
      });
      await assert.rejects(s.send({ cmd: "alarm" }), /exited/);
      const alive = await fetch(`${s.storageUrl}/healthz`);
      assert.equal(alive.status, 200); // orphaned until stop()
    } finally {
      await s.stop();
    }
    for (const url of [s.storageUrl, ...s.custodians.map((c) => c.url)]) {
      await assert.rejects(fetch(`${url}/healthz`), `${url} still answers`);
    }
    assert.ok(!existsSync(s.workdir));
  });
});
