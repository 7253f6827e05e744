// The app's first screen for now: the crypto self-test (src/selftest.ts). The customer portal
// and operator console (issue 15) come next, on the same core and under the same CSP.
import "./style.css";
import { runSelfTest } from "./selftest";

const status = document.getElementById("status");
const list = document.getElementById("checks");

async function main(): Promise<void> {
  const checks = await runSelfTest();
  for (const c of checks) {
    const li = document.createElement("li");
    li.textContent = `${c.ok ? "ok" : "FAILED"} · ${c.name} (${c.detail})`;
    li.className = c.ok ? "ok" : "failed";
    list?.append(li);
  }
  const ok = checks.every((c) => c.ok);
  if (status) {
    status.textContent = ok ? "crypto self-test: ok" : "crypto self-test: FAILED";
    status.dataset["state"] = ok ? "ok" : "failed";
  }
}

main().catch((e: unknown) => {
  if (status) {
    status.textContent = `crypto self-test: FAILED (${(e as Error).message})`;
    status.dataset["state"] = "failed";
  }
});
