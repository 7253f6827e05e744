// The stage of the web app's browser tests: a whole site as real processes in a temporary
// directory, run by web/scripts/stage_site.py (demo/stage.py's Story): the storage service
// serving web/dist at /app/ (its CSP lets the page connect to the custodians), three custodians
// (threshold 2) accepting CORS from the app's origin, the customer's keys and site, camera cam-1
// (pre-alarm 6 s, post-alarm 30 s) and panel panel-1 enrolled, the ARC's op-7 and tech-3
// registered, and optionally the camera agent.
//
//   const stage = await startStage({ camera: "testsrc" });
//   await stage.send({ cmd: "wait-recordings", n: 2 });   // -> { count }
//   await stage.send({ cmd: "alarm" });                   // -> { alarm_id, trigger_ms }
//   await stage.send({ cmd: "cli", who: "op-7", args: ["operator", "alarms"] }); // -> { code, out }
//   await stage.send({ cmd: "tamper-log", custodian: "c2" }); // -> { index, custodian }
//   await stage.stop();
//
// Options: camera (null | "testsrc" | "person"), accessPeriodS (storage's alarm access period,
// default 25), webDir (default web/dist), startTimeoutMs, witnesses (N `camvault serve witness`
// processes cosigning the custodians' logs; op-7, tech-3 and the customer configured with them:
// docs/WITNESS.md) and witnessQuorum (default N). With witnesses the resolved object has
// witnesses [{name, url, key}], witnessQuorum and customer.witnessesJson, and the commands
// {cmd: "custodian-witnesses", custodian, on} and {cmd: "stop-witnesses"} work. It also has
// storageUrl, appUrl, custodians [{id, url}], siteId, customer {dir, identityTxt, siteKeyTxt,
// configJson}, operator / technician {id, dir, files}, workdir, startupS, pid and logs().
// `cli` takes an optional timeout_s (120); wait-recordings an optional timeout_s (60) and camera.
// The CLI runs in the workdir: its output files (`--out arc`) are under stage.workdir.
//
// A command that fails resolves to { error }; if the stage process dies, pending and later
// sends reject with the tail of its logs. CAMVAULT_STAGE_KEEP=1 keeps the workdir after stop().
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..");
const REPO = join(WEB, "..");
const PYTHON = process.env.CAMVAULT_PYTHON ?? join(REPO, ".venv", "bin", "python");
const SCRIPT = join(WEB, "scripts", "stage_site.py");
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
const TAIL_LINES = 20;

/** The last lines of every log of the stage (what to show when it fails). */
export function logTails(workdir, lines = TAIL_LINES) {
  const dir = join(workdir, "logs");
  if (!existsSync(dir)) return "(no logs)";
  const parts = [];
  for (const name of readdirSync(dir).sort()) {
    let text = "";
    try {
      text = readFileSync(join(dir, name), "utf8");
    } catch {
      continue;
    }
    const tail = text.trimEnd().split("\n").slice(-lines);
    if (tail.length && tail[0] !== "") parts.push(`--- ${name}\n${tail.join("\n")}`);
  }
  return parts.join("\n") || "(empty logs)";
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // gone already
  }
}

/**
 * @param {{camera?: null | "testsrc" | "person", accessPeriodS?: number, webDir?: string,
 *          startTimeoutMs?: number, witnesses?: number, witnessQuorum?: number}} [opts]
 */
export async function startStage(opts = {}) {
  const workdir = mkdtempSync(join(tmpdir(), "camvault-stage-"));
  mkdirSync(join(workdir, "logs"));
  const args = [SCRIPT, "--workdir", workdir];
  if (opts.camera) args.push("--camera", opts.camera);
  if (opts.accessPeriodS !== undefined) args.push("--access-period-s", String(opts.accessPeriodS));
  if (opts.webDir) args.push("--web-dir", opts.webDir);
  if (opts.witnesses) args.push("--witnesses", String(opts.witnesses));
  if (opts.witnessQuorum) args.push("--witness-quorum", String(opts.witnessQuorum));
  const stderr = openSync(join(workdir, "logs", "stage-stderr.log"), "a");
  const proc = spawn(PYTHON, args, {
    cwd: WEB,
    stdio: ["pipe", "pipe", stderr],
    detached: true, // its own process group, killed as a whole
  });
  const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  let dead = null; // the reason every later send rejects
  const pending = []; // {resolve, reject} in the order the commands were written
  let ready = null; // {resolve, reject} of the first line
  const readyLine = new Promise((resolve, reject) => (ready = { resolve, reject }));

  const lines = createInterface({ input: proc.stdout });
  lines.on("line", (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      msg = { error: `the stage printed a line that is not JSON: ${line}` };
    }
    if (ready) {
      const r = ready;
      ready = null;
      r.resolve(msg);
    } else {
      pending.shift()?.resolve(msg);
    }
  });
  proc.once("exit", (code, signal) => {
    dead = new Error(`the stage process exited (${signal ?? `code ${code}`}):\n${logTails(workdir)}`);
    ready?.reject(dead);
    ready = null;
    for (const p of pending.splice(0)) p.reject(dead);
  });
  proc.stdin.on("error", () => {}); // EPIPE after a death: reported through `dead`

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        proc.stdin.write(JSON.stringify({ cmd: "stop" }) + "\n");
      } catch {
        // its stdin is gone: the signals below
      }
      const soft = setTimeout(() => killGroup(proc.pid, "SIGTERM"), STOP_TIMEOUT_MS);
      const hard = setTimeout(() => killGroup(proc.pid, "SIGKILL"), STOP_TIMEOUT_MS + 10_000);
      await exited;
      clearTimeout(soft);
      clearTimeout(hard);
    }
    killGroup(proc.pid, "SIGKILL"); // anything left in its own group
    try {
      // the servers and the camera, each in its own group (still listed only if the stage
      // process could not stop them itself)
      for (const pgid of JSON.parse(readFileSync(join(workdir, "pgids.json"), "utf8"))) killGroup(pgid, "SIGKILL");
    } catch {
      // no process was started
    }
    process.removeListener("exit", onExit);
    if (process.env.CAMVAULT_STAGE_KEEP === "1") {
      console.log(`stage kept in ${workdir}`);
    } else {
      rmSync(workdir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    }
  };
  // The test runner exiting without stop(): the stage sees its stdin close and stops its
  // processes; SIGTERM makes sure of it.
  const onExit = () => killGroup(proc.pid, "SIGTERM");
  process.on("exit", onExit);

  let info;
  const timeoutMs = opts.startTimeoutMs ?? START_TIMEOUT_MS;
  let timer;
  try {
    info = await Promise.race([
      readyLine,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the stage was not ready after ${timeoutMs} ms:\n${logTails(workdir)}`)),
          timeoutMs,
        );
      }),
    ]);
    if (info.error) throw new Error(`the stage did not start: ${info.error}\n${logTails(workdir)}`);
  } catch (e) {
    await stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }

  /** Send one command; resolves to the stage's JSON answer ({error} when it failed). */
  const send = (cmd) => {
    if (stopped) return Promise.reject(new Error("the stage is stopped"));
    if (dead) return Promise.reject(dead);
    return new Promise((resolve, reject) => {
      pending.push({ resolve, reject });
      proc.stdin.write(JSON.stringify(cmd) + "\n");
    });
  };

  return { ...info, workdir, pid: proc.pid, send, stop, logs: () => logTails(workdir) };
}
