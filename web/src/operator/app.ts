// The operator console (issue 15), `#/operator`: the operator's state files (operator.key,
// config.json from `camvault operator init`) imported and kept in IndexedDB under a
// passphrase (age scrypt), unlock, lock (button or inactivity); then the ARC alarm queue and
// alarm view (role operator, ./alarms.ts) or the consent requests (role technician,
// ./technician.ts). Requests are signed with the operator key as operator:<id>; releases come
// from the custodians to a per-request session key; decryption happens only here.

import "./operator.css";
import { Ed25519SigningKey } from "../crypto/ed25519";
import { field, h } from "../portal/dom";
import { IdleTimer, idleLimitMs } from "../portal/session";
import { showAlarms } from "./alarms";
import type { Operator } from "./flows";
import { OperatorKeyError, parseOperatorFiles, witnessPolicy, type OperatorKeys } from "./keys";
import { OperatorStorage } from "./storage";
import { showTechnician } from "./technician";
import { forgetVault, hasVault, openVault, saveVault, WrongPassphrase } from "./vault";

const MIN_PASSPHRASE = 8;

let idle: IdleTimer | undefined;
let disposeView: (() => void) | undefined;

function screen(root: HTMLElement, title: string, ...body: HTMLElement[]): void {
  root.replaceChildren(h("h1", {}, "camvault"), h("h2", { id: "screen-title" }, title), ...body);
  root.dataset["screen"] = title;
}

function errorText(e: unknown): string {
  if (e instanceof OperatorKeyError || e instanceof WrongPassphrase) return e.message;
  return `error: ${(e as Error).message}`;
}

export async function startOperator(root: HTMLElement): Promise<void> {
  if (await hasVault()) showUnlock(root);
  else showImport(root);
}

function showImport(root: HTMLElement): void {
  const files = h("input", { type: "file", multiple: true, accept: ".key,.json,text/plain,application/json" });
  const text = h("textarea", { rows: "6", spellcheck: "false", autocomplete: "off" });
  const pass = h("input", { type: "password", autocomplete: "new-password", required: true });
  const confirm = h("input", { type: "password", autocomplete: "new-password", required: true });
  const submit = h("button", { type: "submit" }, "Import and encrypt");
  const error = h("p", { class: "error", role: "alert", id: "import-error" });
  files.addEventListener("change", () => {
    void Promise.all(Array.from(files.files ?? []).map((f) => f.text())).then((parts) => {
      text.value = parts.join("\n");
    });
  });
  const form = h(
    "form",
    { id: "import-form", novalidate: true },
    h(
      "p",
      {},
      "Pick operator.key and config.json from your camvault operator state directory (or paste them). " +
        "They are encrypted under your passphrase and kept only in this browser.",
    ),
    field("key-files", "Operator files", files),
    field("key-text", "Or paste the files", text),
    field("passphrase", "Passphrase", pass, `At least ${MIN_PASSPHRASE} characters.`),
    field("passphrase-confirm", "Confirm passphrase", confirm),
    submit,
    error,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    error.textContent = "";
    if (pass.value.length < MIN_PASSPHRASE) {
      error.textContent = `the passphrase must have at least ${MIN_PASSPHRASE} characters`;
      return;
    }
    if (pass.value !== confirm.value) {
      error.textContent = "the passphrases differ";
      return;
    }
    submit.disabled = true;
    submit.textContent = "Encrypting…";
    void (async () => {
      try {
        const keys = parseOperatorFiles(text.value);
        await saveVault(keys, pass.value);
        text.value = "";
        files.value = "";
        showConsole(root, keys);
      } catch (e) {
        error.textContent = errorText(e);
        submit.disabled = false;
        submit.textContent = "Import and encrypt";
      }
    })();
  });
  screen(root, "Operator console: import your key", form);
}

function showUnlock(root: HTMLElement): void {
  const pass = h("input", { type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Unlock");
  const error = h("p", { class: "error", role: "alert", id: "unlock-error" });
  const forget = h("button", { type: "button", class: "secondary", id: "forget" }, "Forget the stored operator key…");
  const form = h(
    "form",
    { id: "unlock-form", novalidate: true },
    h("p", {}, "Your operator key is stored in this browser, encrypted under your passphrase."),
    field("unlock-passphrase", "Passphrase", pass),
    submit,
    error,
    forget,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    submit.textContent = "Unlocking…";
    void (async () => {
      try {
        const keys = await openVault(pass.value);
        pass.value = "";
        showConsole(root, keys);
      } catch (e) {
        error.textContent = errorText(e);
        submit.disabled = false;
        submit.textContent = "Unlock";
        pass.select();
      }
    })();
  });
  forget.addEventListener("click", () => {
    if (forget.dataset["armed"] !== "1") {
      forget.dataset["armed"] = "1";
      forget.textContent = "Click again to delete it from this browser";
      return;
    }
    void forgetVault().then(() => showImport(root));
  });
  screen(root, "Operator console: unlock", form);
  pass.focus();
}

function lock(root: HTMLElement): void {
  idle?.stop();
  idle = undefined;
  disposeView?.();
  disposeView = undefined;
  showUnlock(root);
}

/** The storage service is the origin that served this page (its CSP allows only it). */
function storageOrigin(keys: OperatorKeys): string {
  return location.origin === "null" || location.origin === "" ? keys.storageUrl : location.origin;
}

function showConsole(root: HTMLElement, keys: OperatorKeys): void {
  const op: Operator = {
    storage: new OperatorStorage(storageOrigin(keys), keys.operatorId, keys.key),
    operatorId: keys.operatorId,
    key: Ed25519SigningKey.fromText(keys.key),
    custodians: keys.custodians,
    witnesses: witnessPolicy(keys.witnesses),
  };
  const lockButton = h("button", { type: "button", id: "lock" }, "Lock");
  const content = h("div", { id: "console" });
  const note =
    new URL(keys.storageUrl).origin === location.origin
      ? null
      : h(
          "p",
          { class: "hint", id: "origin-note" },
          `config.json names the storage service ${keys.storageUrl}; this console talks to ${location.origin}, which served it.`,
        );
  screen(
    root,
    keys.role === "operator" ? "Alarm monitoring" : "Technician access",
    h(
      "div",
      { class: "bar" },
      h("span", { id: "signed-in" }, `${keys.role} ${keys.operatorId}`),
      h("span", { class: "hint" }, `custodians ${keys.custodians.map((c) => c.custodian_id).join(", ")}`),
      h(
        "span",
        { class: "hint", id: "witness-policy", "data-quorum": String(op.witnesses?.quorum ?? 0) },
        op.witnesses
          ? `witnesses: ${op.witnesses.quorum} of ${op.witnesses.witnesses.length} must cosign every receipt`
          : "no witnesses configured: receipts are checked against each custodian's log key only",
      ),
      lockButton,
    ),
    ...(note ? [note] : []),
    content,
  );
  disposeView = keys.role === "operator" ? showAlarms(content, op) : showTechnician(content, op);
  lockButton.addEventListener("click", () => lock(root));
  idle = new IdleTimer(idleLimitMs(location.hash), () => lock(root));
  idle.start();
}
