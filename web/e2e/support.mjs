// Starts a real `camvault serve storage` (the repository's venv) for the browser tests:
// embedded defaults (SQLite + local objects) in a temporary data dir, on a free port.
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CAMVAULT = process.env.CAMVAULT_BIN ?? join(REPO, ".venv", "bin", "camvault");
const START_TIMEOUT_MS = 90_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url, proc, logPath) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      throw new Error(`camvault serve storage exited ${proc.exitCode}:\n${readFileSync(logPath, "utf8")}`);
    }
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200)); // poll interval, not a wait for an outcome
  }
  throw new Error(`camvault serve storage not healthy after ${START_TIMEOUT_MS} ms:\n${readFileSync(logPath, "utf8")}`);
}

/** @returns {Promise<{url: string, stop: () => Promise<void>}>} */
export async function startStorage({ webDir }) {
  const work = mkdtempSync(join(tmpdir(), "camvault-e2e-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = join(work, "service.log");
  const log = openSync(logPath, "w");
  const proc = spawn(CAMVAULT, ["serve", "storage", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: work,
    env: {
      ...process.env,
      CAMVAULT_DATA_DIR: join(work, "data"),
      CAMVAULT_PUBLIC_URL: url,
      CAMVAULT_AUTO_MIGRATE: "true",
      CAMVAULT_WEB_DIR: webDir,
    },
    stdio: ["ignore", log, log],
  });
  const exited = new Promise((r) => proc.once("exit", r));
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(work, { recursive: true, force: true });
  };
  try {
    await waitHealthy(url, proc, logPath);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, stop };
}
