// The customer portal (first slice): import the key files, keep them encrypted under a
// passphrase in IndexedDB, unlock, and list the site's cameras and recordings from the storage
// service through signed requests. Playback, consents and audit come later.

import { ApiRefusal, StorageClient, type Device, type Recording } from "./api";
import { field, fmtDuration, fmtSize, fmtTime, h } from "./dom";
import { KeyFileError, parseKeyMaterial } from "./keyfile";
import { IdleTimer, idleLimitMs } from "./session";
import { forgetVault, hasVault, openVault, saveVault, WrongPassphrase } from "./vault";

const MIN_PASSPHRASE = 8;

let idle: IdleTimer | undefined;

function errorText(e: unknown): string {
  if (e instanceof ApiRefusal) return `refused by the storage service: ${e.code} (${e.detail})`;
  if (e instanceof KeyFileError || e instanceof WrongPassphrase) return e.message;
  return `error: ${(e as Error).message}`;
}

function screen(root: HTMLElement, title: string, ...body: HTMLElement[]): void {
  root.replaceChildren(h("h1", {}, "camvault"), h("h2", { id: "screen-title" }, title), ...body);
  root.dataset["screen"] = title;
}

export async function startPortal(root: HTMLElement): Promise<void> {
  if (await hasVault()) showUnlock(root);
  else showImport(root);
}

function showImport(root: HTMLElement): void {
  const files = h("input", { type: "file", multiple: true, accept: ".txt,.key,.json,text/plain,application/json" });
  const text = h("textarea", { rows: "6", spellcheck: "false", autocomplete: "off" });
  const siteId = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
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
      "Pick identity.txt, site.key and config.json from your camvault customer state directory " +
        "(or paste them). They are encrypted under your passphrase and kept only in this browser.",
    ),
    field("key-files", "Key files", files),
    field("key-text", "Or paste the key files", text),
    field("site-id", "Site id", siteId, "Only needed if config.json is not included."),
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
        const keys = await parseKeyMaterial(text.value, siteId.value);
        await saveVault(keys, pass.value);
        text.value = "";
        files.value = "";
        showPortal(root, new StorageClient(keys.siteId, keys.siteKey));
      } catch (e) {
        error.textContent = errorText(e);
        submit.disabled = false;
        submit.textContent = "Import and encrypt";
      }
    })();
  });
  screen(root, "Import your identity", form);
}

function showUnlock(root: HTMLElement): void {
  const pass = h("input", { type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Unlock");
  const error = h("p", { class: "error", role: "alert", id: "unlock-error" });
  const forget = h("button", { type: "button", class: "secondary", id: "forget" }, "Forget the stored identity…");
  const form = h(
    "form",
    { id: "unlock-form", novalidate: true },
    h("p", {}, "Your identity is stored in this browser, encrypted under your passphrase."),
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
        showPortal(root, new StorageClient(keys.siteId, keys.siteKey));
      } catch (e) {
        error.textContent = errorText(e);
        submit.disabled = false;
        submit.textContent = "Unlock";
        pass.select();
      }
    })();
  });
  forget.addEventListener("click", () => {
    // A second click confirms (no window.confirm: keep the page scriptable and keyboard-only).
    if (forget.dataset["armed"] !== "1") {
      forget.dataset["armed"] = "1";
      forget.textContent = "Click again to delete it from this browser";
      return;
    }
    void forgetVault().then(() => showImport(root));
  });
  screen(root, "Unlock", form);
  pass.focus();
}

function lock(root: HTMLElement): void {
  idle?.stop();
  idle = undefined;
  showUnlock(root);
}

function status(id: string): HTMLElement {
  return h("p", { id, class: "state", role: "status", "aria-live": "polite" });
}

function showPortal(root: HTMLElement, api: StorageClient): void {
  const lockButton = h("button", { type: "button", id: "lock" }, "Lock");
  lockButton.addEventListener("click", () => lock(root));
  const siteState = status("site-state");
  const sites = h("ul", { id: "sites", "aria-label": "sites" });
  const camState = status("camera-state");
  const cameras = h("ul", { id: "cameras", "aria-label": "cameras" });
  const recTitle = h("h3", { id: "recordings-title" }, "Recordings");
  const recState = status("recording-state");
  const recordings = h("div", { id: "recordings" });
  screen(
    root,
    "Your recordings",
    h("div", { class: "bar" }, h("span", { id: "signed-in" }, `site ${api.siteId}`), lockButton),
    h("section", { "aria-labelledby": "sites-title" }, h("h3", { id: "sites-title" }, "Sites"), siteState, sites),
    h(
      "section",
      { "aria-labelledby": "cameras-title" },
      h("h3", { id: "cameras-title" }, "Cameras"),
      camState,
      cameras,
    ),
    h("section", { "aria-labelledby": "recordings-title" }, recTitle, recState, recordings),
  );
  idle = new IdleTimer(idleLimitMs(location.hash), () => lock(root));
  idle.start();

  const load = async <T>(state: HTMLElement, what: string, op: () => Promise<T>): Promise<T | undefined> => {
    state.textContent = `Loading ${what}…`;
    state.dataset["state"] = "loading";
    try {
      const out = await op();
      state.textContent = "";
      state.dataset["state"] = "done";
      return out;
    } catch (e) {
      state.textContent = errorText(e);
      state.dataset["state"] = "error";
      state.setAttribute("role", "alert");
      return undefined;
    }
  };

  const showRecordings = async (cam: Device): Promise<void> => {
    recTitle.textContent = `Recordings of ${cam.device_id}`;
    recordings.replaceChildren();
    const items = await load(recState, "recordings", () => api.recordings(cam.device_id));
    if (items === undefined) return;
    if (items.length === 0) {
      recState.textContent = "No recordings for this camera.";
      recState.dataset["state"] = "empty";
      return;
    }
    recordings.replaceChildren(recordingTable(cam.device_id, items));
  };

  void (async () => {
    const site = await load(siteState, "the site", () => api.site());
    if (site === undefined) return;
    sites.replaceChildren(
      h(
        "li",
        { "data-site-id": site.site_id },
        h("strong", {}, site.site_id),
        ` · keys version ${site.keys_version} · ` +
          (site.retention_days === null ? "kept until deleted" : `kept ${site.retention_days} days`),
      ),
    );
    const cams = await load(camState, "cameras", () => api.cameras());
    if (cams === undefined) return;
    if (cams.length === 0) {
      camState.textContent = "No cameras enrolled yet.";
      camState.dataset["state"] = "empty";
      return;
    }
    cameras.replaceChildren(
      ...cams.map((cam) => {
        const b = h(
          "button",
          { type: "button", "data-camera-id": cam.device_id },
          `${cam.device_id} (${cam.model}${cam.revoked ? ", revoked" : ""})`,
        );
        b.addEventListener("click", () => {
          cameras.querySelectorAll("button").forEach((other) => other.removeAttribute("aria-pressed"));
          b.setAttribute("aria-pressed", "true");
          void showRecordings(cam);
        });
        return h("li", {}, b);
      }),
    );
  })();
}

function recordingTable(cameraId: string, items: Recording[]): HTMLTableElement {
  const head = ["Start", "Duration", "Size", "Kind", "Sequence", "Recording"];
  return h(
    "table",
    { id: "recording-table" },
    h("caption", {}, `${items.length} recording(s) of ${cameraId}, newest first`),
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      ...items.map((r) =>
        h(
          "tr",
          { "data-recording-id": r.recording_id },
          h("td", {}, fmtTime(r.start_ms)),
          h("td", {}, fmtDuration(r.end_ms - r.start_ms)),
          h("td", { "data-bytes": String(r.payload_size) }, fmtSize(r.payload_size)),
          h("td", {}, r.kind),
          h("td", {}, String(r.sequence)),
          h("td", { class: "mono" }, r.recording_id),
        ),
      ),
    ),
  );
}
