// Routes: `#/selftest` is the crypto self-test (src/selftest.ts), `#/operator` the operator
// console (src/operator/); anything else is the customer portal (src/portal/). All run on the
// same core under the same CSP.
import "./style.css";
import { startOperator } from "./operator/app";
import { startPortal } from "./portal/app";
import { runSelfTest } from "./selftest";

const app = document.getElementById("app");
const status = document.getElementById("status");
const list = document.getElementById("checks");

async function selfTest(): Promise<void> {
  if (status) status.textContent = "crypto self-test: running…";
  list?.removeAttribute("hidden");
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

function route(): void {
  if (location.hash.startsWith("#/selftest")) {
    selfTest().catch((e: unknown) => {
      if (status) {
        status.textContent = `crypto self-test: FAILED (${(e as Error).message})`;
        status.dataset["state"] = "failed";
      }
    });
  } else if (app) {
    const start = location.hash.startsWith("#/operator") ? startOperator : startPortal;
    start(app).catch((e: unknown) => {
      app.replaceChildren();
      const p = document.createElement("p");
      p.setAttribute("role", "alert");
      p.textContent = `camvault cannot start: ${(e as Error).message}`;
      app.append(p);
    });
  }
}

route();
