// The Recordings page on the stage (web/e2e/stage.mjs: real storage service, custodians,
// customer CLI and camera agent), in Debian Chromium: the customer's key files imported, the
// camera's timeline lists what the storage holds (compared with `camvault customer list`),
// a range of recordings verified and played in <video> (frames decoded, time advancing,
// seeking into a later recording of the range), the keyboard moving between blocks, the age
// file exported and opened by `age -d` equal to what `camvault customer download` decrypts,
// the decrypted range exported as one MP4 that ffprobe and ffmpeg accept, a recording whose
// payload the storage altered refused with its reason code (by the page and by the CLI).
// Every state is screenshot and checked with axe; no console error; no request carries the
// identity, the site key or a decrypted byte. A second stage runs the "person" camera (its
// detector labels recordings): the label is shown on the recording its event record names.
//
// Run after `npm run build`:  node --test e2e/playback.test.mjs
// (or `npx vite build --outDir /tmp/d && CAMVAULT_WEB_DIR=/tmp/d node --test e2e/playback.test.mjs`)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
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
  plaintextWindows,
  shot,
  WAIT,
} from "./checks.mjs";
import { startStage } from "./stage.mjs";

const CAMERA = "cam-1";
const WEB_SRC = join(import.meta.dirname, "..", "src");
const VIDEO = new Set(["segment", "live", "clip"]);

let browser;
const cleanups = [];

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const c of cleanups.reverse()) await c();
});

function tmp(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function cli(stage, args) {
  const r = await stage.send({ cmd: "cli", who: "customer", args });
  assert.ok(!r.error, `cli ${args.join(" ")}: ${r.error}`);
  return r;
}

/** `camvault customer list --json` of the camera: committed recordings, oldest first. */
async function cliList(stage) {
  const r = await cli(stage, ["customer", "list", "--camera", CAMERA, "--json"]);
  assert.equal(r.code, 0, `customer list failed: ${r.out}`);
  return JSON.parse(r.out);
}

/** The files under `dir`, recursively. */
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** The stored payload object of a recording in the stage's storage data dir (by size+hash). */
function storedPayload(stage, item) {
  for (const p of walk(join(stage.workdir, "storage"))) {
    const st = statSync(p);
    if (st.size !== item.payload_size) continue;
    if (createHash("sha256").update(readFileSync(p)).digest("hex") === item.payload_sha256) return p;
  }
  throw new Error(`the payload of ${item.recording_id} is not in ${stage.workdir}/storage`);
}

/** The storage service misbehaving: SQL on its own database (stage workdir/storage). */
function storageSql(stage, sql, params) {
  const python = process.env.CAMVAULT_PYTHON ?? join(import.meta.dirname, "..", "..", ".venv", "bin", "python");
  const code =
    "import sqlite3, sys, json\n" +
    "db = sqlite3.connect(sys.argv[1], timeout=30)\n" +
    "n = db.execute(sys.argv[2], json.loads(sys.argv[3])).rowcount\n" +
    "db.commit()\n" +
    "assert n == 1, n\n";
  execFileSync(python, ["-c", code, join(stage.workdir, "storage", "camvault.db"), sql, JSON.stringify(params)]);
}

/** The file key of an age file, unwrapped with `identity.txt` by the Python implementation
 *  (crypto/age): a needle for "no file key left the page". */
function fileKeyOf(agePath, identityPath) {
  const python = process.env.CAMVAULT_PYTHON ?? join(import.meta.dirname, "..", "..", ".venv", "bin", "python");
  const code = [
    "import sys",
    "from crypto.age.api import parse_identity_file, unwrap_file_key",
    "from crypto.age.format import read_header",
    "ids = parse_identity_file(open(sys.argv[2]).read())",
    "with open(sys.argv[1], 'rb') as f:",
    "    header = read_header(f)",
    "sys.stdout.write(unwrap_file_key(ids, header).data.hex())",
  ].join("\n");
  const hex = execFileSync(python, ["-c", code, agePath, identityPath], {
    cwd: join(import.meta.dirname, "..", ".."),
    encoding: "utf8",
  });
  return Buffer.from(hex, "hex");
}

function ffprobeDuration(path) {
  const out = execFileSync("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "json", path], {
    encoding: "utf8",
  });
  return Number(JSON.parse(out).format.duration);
}

const block = (page, rid) => page.locator(`#timeline button.timeline-block[data-recording-id="${rid}"]`);

/** The page's state line once it is no longer loading. */
async function settled(page, id) {
  await page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    return el && el.dataset.state && el.dataset.state !== "loading";
  }, `#${id}`);
  return page.locator(`#${id}`).evaluate((el) => ({ state: el.dataset.state, text: el.textContent, ...el.dataset }));
}

async function videoState(page) {
  return page.locator("#player").evaluate((v) => ({
    t: v.currentTime,
    frames: v.getVideoPlaybackQuality().totalVideoFrames,
    paused: v.paused,
    duration: v.duration,
    error: v.error?.message ?? null,
  }));
}

/** The <video> plays: frames decoded, currentTime advancing. */
async function assertPlays(page, from = 0) {
  await page.waitForFunction(
    (t) => {
      const v = document.querySelector("#player");
      return v.getVideoPlaybackQuality().totalVideoFrames > 0 && v.currentTime > t + 0.3;
    },
    from,
    { timeout: WAIT },
  );
  const a = await videoState(page);
  await page.waitForTimeout(1200);
  const b = await videoState(page);
  assert.equal(b.error, null);
  assert.ok(b.frames > a.frames || b.t > a.t, `the video does not advance: ${JSON.stringify([a, b])}`);
  assert.ok(b.t > a.t, `currentTime does not advance: ${a.t} -> ${b.t}`);
  return b;
}

/** identity.txt, site.key, config.json of the stage's customer, as files to pick. */
function keyFiles(stage) {
  const keys = tmp("camvault-playback-keys-");
  const files = [
    ["identity.txt", stage.customer.identityTxt],
    ["site.key", stage.customer.siteKeyTxt],
    ["config.json", stage.customer.configJson],
  ].map(([name, text]) => {
    writeFileSync(join(keys, name), text);
    return join(keys, name);
  });
  return { keys, files };
}

async function openCamera(page) {
  await page.locator(`#cameras button[data-camera-id="${CAMERA}"]`).click();
  await page.locator("#timeline button.timeline-block").first().waitFor();
  await page.waitForFunction(() => /recording\(s\) of/.test(document.querySelector("#recording-state").textContent));
}

describe("Recordings: timeline, verified playback, export (testsrc camera)", () => {
  let stage;

  before(async () => {
    // CAMVAULT_WEB_DIR: a build of one's own (web/dist is rebuilt by others meanwhile)
    const webDir = process.env.CAMVAULT_WEB_DIR;
    stage = await startStage({ camera: "testsrc", ...(webDir ? { webDir } : {}) });
    cleanups.push(() => stage.stop());
  });
  after(() => stage?.stop());

  it("lists, plays, seeks, exports and refuses a tampered recording", async () => {
    const started = Date.now();
    const timings = {};
    const mark = (what) => (timings[what] = Math.round((Date.now() - started) / 100) / 10);
    const w = await stage.send({ cmd: "wait-recordings", n: 6, timeout_s: 120 });
    assert.ok(!w.error && w.count >= 6, `the camera did not record: ${JSON.stringify(w)}`);
    mark("recordings");

    const { keys, files } = keyFiles(stage);
    const identity = /AGE-SECRET-KEY-1[0-9A-Z]+/.exec(stage.customer.identityTxt)[0];
    const siteKey = /ed25519-secret:[A-Za-z0-9_\-+/=]+/.exec(stage.customer.siteKeyTxt)[0];

    const { context, page, errors, requests } = await openPage(browser, { viewport: { width: 1100, height: 900 } });
    cleanups.push(() => context.close());
    await importCustomerKeys(page, stage.appUrl, files);
    await openPortalPage(page, "recordings");
    await page.locator(`#cameras button[data-camera-id="${CAMERA}"]`).waitFor();
    await shot(page, "recordings-cameras");
    await openCamera(page);
    mark("timeline");

    // --- the timeline lists what the storage holds (as the CLI lists it) -------------------
    const chain = await settled(page, "chain-state");
    assert.equal(chain.chain, "ok", `chain: ${chain.text}`);
    const rows = await page
      .locator("#recording-table tbody tr")
      .evaluateAll((trs) => trs.map((r) => ({ id: r.dataset.recordingId, kind: r.dataset.kind })));
    const blocks = await page
      .locator("#timeline button.timeline-block")
      .evaluateAll((bs) =>
        bs.map((b) => ({ id: b.dataset.recordingId, kind: b.dataset.kind, name: b.getAttribute("aria-label") })),
      );
    const listed = await cliList(stage);
    const seen = new Set(rows.map((r) => r.id));
    const top = Math.max(...listed.filter((i) => seen.has(i.recording_id)).map((i) => i.sequence));
    const cliIds = listed.filter((i) => i.sequence <= top).map((i) => i.recording_id);
    assert.deepEqual([...seen].sort(), [...cliIds].sort(), "the page lists what `customer list` lists");
    const videos = listed.filter((i) => seen.has(i.recording_id) && VIDEO.has(i.kind));
    assert.deepEqual(
      blocks.map((b) => b.id),
      videos.map((i) => i.recording_id),
      "one block per recording, oldest first",
    );
    assert.ok(videos.length >= 6, `${videos.length} video recordings`);
    for (const b of blocks) assert.match(b.name, /^segment \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, duration \d+ s, /);
    await axe(page, "recordings timeline");
    await shot(page, "recordings-timeline");

    // --- keyboard: arrow keys move between the blocks ----------------------------------------
    await block(page, videos[0].recording_id).focus();
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.evaluate(() => document.activeElement.dataset.recordingId), videos[1].recording_id);
    await page.keyboard.press("Shift+ArrowRight");
    assert.equal(await page.evaluate(() => document.activeElement.dataset.recordingId), videos[2].recording_id);
    assert.deepEqual(
      await page
        .locator('#timeline button.timeline-block[aria-pressed="true"]')
        .evaluateAll((bs) => bs.map((b) => b.dataset.recordingId)),
      [videos[1].recording_id, videos[2].recording_id],
    );
    assert.equal(await page.locator("#timeline button.timeline-block[tabindex='0']").count(), 1, "one tab stop");
    await page.keyboard.press("End");
    assert.equal(
      await page.evaluate(() => document.activeElement.dataset.recordingId),
      videos[videos.length - 1].recording_id,
    );

    // --- play a range of three recordings, then seek into the third ------------------------
    const range = videos.slice(0, 3);
    await block(page, range[0].recording_id).click();
    await block(page, range[2].recording_id).click({ modifiers: ["Shift"] });
    await page.locator("#play").click();
    const played = await settled(page, "player-state");
    assert.equal(played.state, "done", `play: ${played.text}`);
    assert.equal(played.playing, range.map((r) => r.recording_id).join(","));
    for (const r of range) assert.equal(await block(page, r.recording_id).getAttribute("data-verdict"), "ok");
    const playing = await assertPlays(page);
    // it crosses from the first recording into the second without stalling
    const first = (range[0].end_ms - range[0].start_ms) / 1000;
    await page.waitForFunction((t) => document.querySelector("#player").currentTime > t, first + 0.5);
    await page.waitForFunction(
      (rid) => document.querySelector("#player-clock").dataset.recordingId === rid,
      range[1].recording_id,
    );
    const total = range.reduce((n, r) => n + (r.end_ms - r.start_ms), 0) / 1000;
    assert.ok(Math.abs(playing.duration - total) < total * 0.1, `media duration ${playing.duration}, range ${total} s`);
    mark("played");
    await axe(page, "recordings playing");
    await shot(page, "recordings-playing");

    await block(page, range[2].recording_id).click();
    await page.waitForFunction(
      (rid) => document.querySelector("#player-clock").dataset.recordingId === rid,
      range[2].recording_id,
    );
    const seekAt = (await videoState(page)).t;
    const third = (range[0].end_ms - range[0].start_ms + range[1].end_ms - range[1].start_ms) / 1000;
    assert.ok(
      seekAt >= third * 0.9,
      `after the seek, currentTime ${seekAt} is not in the third recording (${third} s on)`,
    );
    const after = await assertPlays(page, seekAt);
    assert.ok(after.t > seekAt);
    // and plays to the end of the range, where the <video> ends
    await page.waitForFunction(() => document.querySelector("#player").ended);
    await shot(page, "recordings-seeked");
    mark("seeked");

    // --- export the age file: `age -d` opens it, equal to what the CLI decrypts --------------
    const out = tmp("camvault-playback-out-");
    const one = videos[1];
    await block(page, one.recording_id).click();
    const [ageDl] = await Promise.all([page.waitForEvent("download"), page.locator("#export-age").click()]);
    assert.equal(ageDl.suggestedFilename(), `${one.recording_id}.age`);
    const agePath = join(out, `${one.recording_id}.age`);
    await ageDl.saveAs(agePath);
    const exported = await settled(page, "action-state");
    assert.equal(exported.state, "done", exported.text);
    assert.equal(await page.locator("#export-progress").evaluate((p) => p.value === p.max && p.max > 0), true);
    await shot(page, "recordings-exported-age");
    const decrypted = execFileSync("age", ["-d", "-i", join(keys, "identity.txt"), agePath]);
    const fileKey = fileKeyOf(agePath, join(keys, "identity.txt"));
    assert.equal(fileKey.length, 16);
    const dl = await cli(stage, [
      "customer",
      "download",
      "--out",
      join(out, "cli"),
      "--camera",
      CAMERA,
      "--recording",
      one.recording_id,
    ]);
    assert.equal(dl.code, 0, dl.out);
    const cliPlain = readFileSync(join(out, "cli", CAMERA, `${one.recording_id}.ts`));
    assert.ok(decrypted.length > 1000 && decrypted.equals(cliPlain), "age -d of the export equals the CLI's download");
    // exactly the stored bytes: the object store's payload follows the header
    assert.ok(
      readFileSync(agePath)
        .subarray(-one.payload_size)
        .equals(readFileSync(storedPayload(stage, one))),
    );
    mark("age-export");

    // --- export the decrypted video of a range: one MP4 ffprobe and ffmpeg accept -----------
    const vrange = videos.slice(0, 4);
    await block(page, vrange[0].recording_id).click();
    await block(page, vrange[3].recording_id).click({ modifiers: ["Shift"] });
    const [mp4Dl] = await Promise.all([page.waitForEvent("download"), page.locator("#export-video").click()]);
    const mp4Path = join(out, "range.mp4");
    await mp4Dl.saveAs(mp4Path);
    assert.match(mp4Dl.suggestedFilename(), /^cam-1-.*\.mp4$/);
    const vexp = await settled(page, "action-state");
    assert.equal(vexp.state, "done", vexp.text);
    const want = vrange.reduce((n, r) => n + (r.end_ms - r.start_ms), 0) / 1000;
    const got = ffprobeDuration(mp4Path);
    assert.ok(Math.abs(got - want) <= want * 0.1, `ffprobe says ${got} s, the range is ${want} s`);
    const dec = spawnSync("ffmpeg", ["-v", "error", "-i", mp4Path, "-f", "null", "-"], { encoding: "utf8" });
    assert.equal(dec.status, 0);
    assert.equal(dec.stderr, "", `ffmpeg errors: ${dec.stderr}`);
    const mp4 = readFileSync(mp4Path);
    await shot(page, "recordings-exported-video");
    mark("video-export");

    // --- a payload the storage altered is refused (page and CLI alike) --------------------
    const victim = videos[4];
    const blob = storedPayload(stage, victim);
    const bytes = readFileSync(blob);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(blob, bytes);
    await openCamera(page); // a fresh view: nothing verified yet
    await block(page, victim.recording_id).click();
    await page.locator("#play").click();
    const refused = await settled(page, "player-state");
    assert.equal(refused.state, "error");
    assert.equal(refused.reason, "payload_mismatch", refused.text);
    assert.match(refused.text, new RegExp(`Refused to play ${victim.recording_id}: payload_mismatch`));
    assert.equal(await block(page, victim.recording_id).getAttribute("data-verdict"), "refused");
    assert.equal(await block(page, victim.recording_id).getAttribute("data-reason"), "payload_mismatch");
    assert.match(await block(page, victim.recording_id).getAttribute("aria-label"), /refused: payload_mismatch/);
    assert.equal((await videoState(page)).frames, 0, "nothing of the refused recording was played");
    await axe(page, "recordings refused");
    await shot(page, "recordings-refused");
    // its age file is refused too, and a range including it is not exported
    await page.locator("#export-age").click();
    const ageRefused = await settled(page, "action-state");
    assert.equal(ageRefused.state, "error");
    assert.match(ageRefused.text, /payload_mismatch/);
    await block(page, videos[3].recording_id).click();
    await block(page, victim.recording_id).click({ modifiers: ["Shift"] });
    await page.locator("#export-video").click();
    const vRefused = await settled(page, "action-state");
    assert.equal(vRefused.state, "error");
    assert.match(vRefused.text, new RegExp(`Refused to export ${victim.recording_id}: payload_mismatch`));
    // Verify all: exactly the tampered one refused
    await page.locator("#verify-all").click();
    await page.waitForFunction(() => {
      const s = document.querySelector("#action-state");
      return s.dataset.state !== "loading" && /refused|verified/.test(s.textContent);
    });
    const verdicts = await page
      .locator("#timeline button.timeline-block")
      .evaluateAll((bs) => bs.map((b) => [b.dataset.recordingId, b.dataset.verdict]));
    for (const [rid, verdict] of verdicts) {
      assert.equal(verdict, rid === victim.recording_id ? "refused" : "ok", `${rid}: ${verdict}`);
    }
    await shot(page, "recordings-verified-all");
    const cliRefused = await cli(stage, [
      "customer",
      "download",
      "--out",
      join(out, "cli2"),
      "--camera",
      CAMERA,
      "--recording",
      victim.recording_id,
    ]);
    assert.notEqual(cliRefused.code, 0);
    assert.match(cliRefused.out, /payload_mismatch/);
    mark("tamper");

    // --- the storage serves another recording's header: refused (header_not_of_payload) ------
    const swapped = videos[5];
    storageSql(
      stage,
      "UPDATE recordings SET header = (SELECT header FROM recordings WHERE recording_id = ?) WHERE recording_id = ?",
      [videos[0].recording_id, swapped.recording_id],
    );
    await openCamera(page);
    await block(page, swapped.recording_id).click();
    await page.locator("#play").click();
    const swap = await settled(page, "player-state");
    assert.equal(swap.state, "error");
    assert.equal(swap.reason, "header_not_of_payload", swap.text);
    await shot(page, "recordings-refused-header");

    // --- the storage relabels a recording in its listing: the chain check says so ----------
    storageSql(stage, "UPDATE recordings SET end_ms = end_ms + 60000 WHERE recording_id = ?", [videos[2].recording_id]);
    await page.locator(`#cameras button[data-camera-id="${CAMERA}"]`).click();
    await page.waitForFunction(() => document.querySelector("#chain-state").dataset.state === "error");
    const broken = await page.locator("#chain-state").textContent();
    assert.match(broken, new RegExp(`relabelled: ${videos[2].recording_id}: the listing says end_ms`));
    assert.equal(await page.locator("#chain-state").getAttribute("role"), "alert");
    // the timeline draws what the camera signed, not the service's end time
    assert.match(await block(page, videos[2].recording_id).getAttribute("aria-label"), /, duration 2 s, /);
    await axe(page, "recordings listing refused");
    await shot(page, "recordings-listing-refused");
    mark("listing");

    // --- nothing secret left the page ---------------------------------------------------------
    assertNoConsoleErrors(errors);
    const checked = await assertNoSecrets(requests, [
      identity,
      siteKey,
      fileKey,
      ...plaintextWindows(decrypted, 16),
      ...plaintextWindows(mp4, 16),
    ]);
    assert.ok(checked > 10, `${checked} requests`);
    mark("done");
    console.log(`playback e2e timings (s since start): ${JSON.stringify(timings)}`);
  });
  it("a long timeline is drawn in windows (#/recordings?window=4): Earlier / Later, the keyboard follows", async () => {
    const { files } = keyFiles(stage);
    const { context, page, errors } = await openPage(browser, { viewport: { width: 1100, height: 900 } });
    cleanups.push(() => context.close());
    await importCustomerKeys(page, stage.appUrl, files, undefined, "#/?window=4");
    await openPortalPage(page, "recordings");
    await openCamera(page);
    const ids = await page
      .locator('#recording-table tbody tr:not([data-kind="event"])')
      .evaluateAll((trs) => trs.map((r) => r.dataset.recordingId).reverse());
    assert.ok(ids.length > 8, `${ids.length} recordings`);
    const shown = () =>
      page.locator("#timeline button.timeline-block").evaluateAll((bs) => bs.map((b) => b.dataset.recordingId));
    assert.deepEqual(await shown(), ids.slice(-4), "the newest four");
    assert.equal(
      await page.locator("#timeline-shown").textContent(),
      `recordings ${ids.length - 3} to ${ids.length} of ${ids.length}`,
    );
    assert.equal(await page.locator("#timeline-later").isDisabled(), true);
    await page.locator("#timeline-earlier").click();
    assert.deepEqual(await shown(), ids.slice(-8, -4));
    await shot(page, "recordings-timeline-window");
    await axe(page, "recordings timeline window");
    // Home from the window goes to the very first recording, the window follows
    await block(page, ids[ids.length - 8]).focus();
    await page.keyboard.press("Home");
    assert.equal(await page.evaluate(() => document.activeElement.dataset.recordingId), ids[0]);
    assert.deepEqual(await shown(), ids.slice(0, 4));
    assert.equal(await page.locator("#timeline-earlier").isDisabled(), true);
    // ArrowRight off the end of the window moves it by one
    for (let k = 0; k < 4; k++) await page.keyboard.press("ArrowRight");
    assert.equal(await page.evaluate(() => document.activeElement.dataset.recordingId), ids[4]);
    assert.deepEqual(await shown(), ids.slice(1, 5));
    assertNoConsoleErrors(errors);
  });
});

describe("Recordings: detection labels (person camera)", () => {
  let stage;

  before(async () => {
    const webDir = process.env.CAMVAULT_WEB_DIR;
    stage = await startStage({ camera: "person", ...(webDir ? { webDir } : {}) });
    cleanups.push(() => stage.stop());
  });
  after(() => stage?.stop());

  it("shows the label `person` on the recording its event record describes, and plays it", async () => {
    const started = Date.now();
    // until the camera's detector has written an event record the CLI decrypts
    let labelled;
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      const listed = await cliList(stage);
      labelled = listed.find((i) => VIDEO.has(i.kind) && i.labels.some((l) => l.label === "person"));
      if (labelled) break;
      await new Promise((r) => setTimeout(r, 3000));
    }
    assert.ok(labelled, "no recording labelled `person` by the camera within 240 s");
    const { files } = keyFiles(stage);
    const { context, page, errors, requests } = await openPage(browser, { viewport: { width: 1100, height: 900 } });
    cleanups.push(() => context.close());
    await importCustomerKeys(page, stage.appUrl, files);
    await openPortalPage(page, "recordings");
    await openCamera(page);
    const b = block(page, labelled.recording_id);
    await page.waitForFunction(
      (rid) =>
        document
          .querySelector(`#timeline button.timeline-block[data-recording-id="${rid}"]`)
          ?.dataset.labels.split(",")
          .includes("person"),
      labelled.recording_id,
    );
    assert.match(await b.getAttribute("aria-label"), /labels person/);
    const row = page.locator(`#recording-table tr[data-recording-id="${labelled.recording_id}"] td[data-labels]`);
    assert.match(await row.textContent(), /person/);
    // the labels are where the camera said (CLI and page agree): each labelled segment of the
    // page has the CLI's labels, and there are as many as labelled event records the page
    // listed (an event record committed after the page read the listing is not counted)
    const listed = await cliList(stage);
    const pageLabels = await page
      .locator("#timeline button.timeline-block")
      .evaluateAll((bs) => Object.fromEntries(bs.map((x) => [x.dataset.recordingId, x.dataset.labels])));
    const pageEvents = new Set(
      await page
        .locator('#recording-table tr[data-kind="event"]')
        .evaluateAll((trs) => trs.map((r) => r.dataset.recordingId)),
    );
    const labelledOnPage = Object.entries(pageLabels).filter(([, l]) => l !== "");
    for (const [rid, l] of labelledOnPage) {
      const i = listed.find((x) => x.recording_id === rid);
      assert.equal(l, i.labels.map((x) => x.label).join(","), rid);
    }
    const labelledEvents = listed.filter((i) => pageEvents.has(i.recording_id) && i.labels.length > 0);
    assert.equal(labelledOnPage.length, labelledEvents.length, "one labelled segment per labelled event record");
    await axe(page, "recordings with labels");
    await shot(page, "recordings-labels");
    await b.click();
    await page.locator("#play").click();
    const played = await settled(page, "player-state");
    assert.equal(played.state, "done", played.text);
    await assertPlays(page);
    await shot(page, "recordings-labels-playing");
    assertNoConsoleErrors(errors);
    await assertNoSecrets(requests, [
      /AGE-SECRET-KEY-1[0-9A-Z]+/.exec(stage.customer.identityTxt)[0],
      /ed25519-secret:[A-Za-z0-9_\-+/=]+/.exec(stage.customer.siteKeyTxt)[0],
    ]);
    console.log(`person e2e: ${Math.round((Date.now() - started) / 1000)} s after the stage started`);
  });
});

// --- the player module alone in Chromium: what the operator console relies on too -----------
// Bundled with esbuild (vite's own) into a page of its own, fed camera-like segments made by
// ffmpeg with the camera agent's options: eviction in a long session, and errors surfaced.
describe("SegmentPlayer in Chromium", () => {
  let server;
  let base;
  let dir;

  before(async () => {
    const { build } = await import("esbuild");
    const { createServer } = await import("node:http");
    dir = tmp("camvault-player-");
    const segments = (name, audio) => {
      const input = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=15"];
      if (audio) input.push("-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=16000");
      const map = audio ? ["-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "64k"] : ["-map", "0:v:0", "-an"];
      execFileSync("ffmpeg", [
        ...["-hide_banner", "-loglevel", "error", "-nostdin", ...input, "-t", "12", ...map],
        ...["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p"],
        ...["-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)"],
        ...["-f", "segment", "-segment_time", "2", "-reset_timestamps", "1", "-segment_format", "mpegts"],
        join(dir, `${name}_%02d.ts`),
      ]);
    };
    segments("av", true);
    segments("v", false);
    const entry = join(dir, "entry.js");
    writeFileSync(
      entry,
      `import { SegmentPlayer } from ${JSON.stringify(join(WEB_SRC, "player", "index.ts"))};\nwindow.SegmentPlayer = SegmentPlayer;\n`,
    );
    await build({
      entryPoints: [entry],
      bundle: true,
      outfile: join(dir, "player.js"),
      loader: { ".css": "empty" },
      logLevel: "warning",
    });
    writeFileSync(
      join(dir, "index.html"),
      '<!doctype html><title>player</title><link rel="icon" href="data:,"><video controls muted></video><script src="player.js"></script>',
    );
    server = createServer((req, res) => {
      try {
        const body = readFileSync(join(dir, req.url.slice(1).split("?")[0] || "index.html"));
        res.writeHead(200, {
          "Content-Type": req.url.endsWith(".html") || req.url === "/" ? "text/html" : "application/octet-stream",
        });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server?.close());

  async function playerPage() {
    const { context, page, errors } = await openPage(browser);
    cleanups.push(() => context.close());
    await page.goto(`${base}/index.html`);
    await page.waitForFunction(() => typeof window.SegmentPlayer === "function");
    return { page, errors };
  }

  it("a long session: old media evicted behind the playhead, the timeline follows, it keeps playing", async () => {
    const { page, errors } = await playerPage();
    const r = await page.evaluate(async () => {
      const video = document.querySelector("video");
      const errs = [];
      const p = new window.SegmentPlayer(video, {
        keepBehindSec: 2,
        maxBufferedSec: 6,
        onError: (e) => errs.push(e.code),
      });
      const seg = async (n) => new Uint8Array(await (await fetch(`av_0${n}.ts`)).arrayBuffer());
      let t = 1_790_000_000_000;
      const log = [];
      for (let i = 0; i < 6; i++) {
        await p.append(await seg(i), { startMs: t, endMs: t + 2000 });
        t += 2000;
        if (i === 1) await video.play();
        // wait for the playhead to move on before the next segment, as live does
        await new Promise((ok) => setTimeout(ok, i >= 1 ? 1500 : 0));
        log.push({
          start: video.buffered.start(0),
          end: video.buffered.end(video.buffered.length - 1),
          t: video.currentTime,
          kept: p.timeline.segments.length,
        });
      }
      return {
        log,
        errs,
        frames: video.getVideoPlaybackQuality().totalVideoFrames,
        first: p.timeline.segments[0].index,
      };
    });
    assert.deepEqual(r.errs, []);
    const last = r.log[r.log.length - 1];
    assert.ok(last.start > 0.5, `nothing was evicted: ${JSON.stringify(r.log)}`);
    assert.ok(last.start <= last.t, "never what is at or after the playhead");
    assert.ok(r.first > 0 && last.kept < 6, `the timeline forgets evicted segments: ${JSON.stringify(r)}`);
    assert.ok(r.frames > 0);
    assertNoConsoleErrors(errors);
  });

  it("errors come out with codes: not TS, out of order, tracks changed, after endOfStream, after dispose", async () => {
    const { page } = await playerPage();
    const r = await page.evaluate(async () => {
      const video = document.querySelector("video");
      const seen = [];
      const p = new window.SegmentPlayer(video, { onError: (e) => seen.push(e.code) });
      const seg = async (name) => new Uint8Array(await (await fetch(name)).arrayBuffer());
      const code = (promise) =>
        promise.then(
          () => "ok",
          (e) => e.code,
        );
      const t = 1_790_000_000_000;
      const out = {};
      out.garbage = await code(
        p.append(new TextEncoder().encode("age-encryption.org/v1\n".repeat(20)), { startMs: t, endMs: t + 2000 }),
      );
      out.first = await code(p.append(await seg("av_00.ts"), { startMs: t, endMs: t + 2000 }));
      out.earlier = await code(p.append(await seg("av_01.ts"), { startMs: t - 5000, endMs: t - 3000 }));
      out.noAudio = await code(p.append(await seg("v_01.ts"), { startMs: t + 2000, endMs: t + 4000 }));
      out.next = await code(p.append(await seg("av_01.ts"), { startMs: t + 2000, endMs: t + 4000 }));
      p.endOfStream();
      out.closed = await code(p.append(await seg("av_02.ts"), { startMs: t + 4000, endMs: t + 6000 }));
      const q = new window.SegmentPlayer(document.createElement("video"));
      q.dispose();
      out.disposed = await code(q.append(await seg("av_00.ts"), { startMs: t, endMs: t + 2000 }));
      out.seen = seen;
      out.fatal = p.error;
      return out;
    });
    assert.equal(r.garbage, "not_ts");
    assert.equal(r.first, "ok");
    assert.equal(r.earlier, "out_of_order");
    assert.equal(r.noAudio, "tracks_changed");
    assert.equal(r.next, "ok", "the player goes on after a refused segment");
    assert.equal(r.closed, "closed");
    assert.equal(r.disposed, "disposed");
    assert.deepEqual(r.seen, ["not_ts", "out_of_order", "tracks_changed", "closed"]);
    assert.equal(r.fatal, null);
  });
});
