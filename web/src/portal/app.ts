// The customer portal's shell: import the key files, keep them encrypted under a passphrase in
// IndexedDB, unlock, lock (button or inactivity), and the navigation between the pages
// (./pages/: each page owns its element; see pages/types.ts for the contract).

import { ApiRefusal, StorageClient } from "./api";
import { field, h } from "./dom";
import { KeyFileError, parseKeyMaterial, type KeyMaterial } from "./keyfile";
import { PAGES } from "./pages";
import type { Page, PageView, PortalContext } from "./pages/types";
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
        showPortal(root, keys);
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
        showPortal(root, keys);
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

/** The page to open first: `#/<page id>` (anything after `?` is options), else the first. */
function initialPage(hash: string): Page {
  const id = hash.replace(/^#\/?/, "").split("?")[0] ?? "";
  return PAGES.find((p) => p.id === id) ?? (PAGES[0] as Page);
}

function showPortal(root: HTMLElement, keys: KeyMaterial): void {
  const api = new StorageClient(keys.siteId, keys.siteKey);
  const lockButton = h("button", { type: "button", id: "lock" }, "Lock");
  const content = h("div", { id: "page" });
  const nav = h("nav", { "aria-label": "portal" });
  const navList = h("ul", { class: "tabs" });
  nav.append(navList);
  let current: PageView | undefined;
  const show = (page: Page): void => {
    current?.dispose?.();
    current = undefined;
    navList.querySelectorAll("a").forEach((a) => a.removeAttribute("aria-current"));
    document.getElementById(`nav-${page.id}`)?.setAttribute("aria-current", "page");
    const view = page.render(ctx);
    view.element.id = `page-${page.id}`;
    content.replaceChildren(h("h3", { id: "page-title", class: "page-title" }, page.title), view.element);
    current = view;
    root.dataset["page"] = page.id;
  };
  const ctx: PortalContext = {
    api,
    keys,
    navigate: (id) => {
      const page = PAGES.find((p) => p.id === id);
      if (page) show(page);
    },
  };
  for (const page of PAGES) {
    const a = h("a", { href: `#/${page.id}`, id: `nav-${page.id}` }, page.title);
    a.addEventListener("click", (ev) => {
      ev.preventDefault();
      history.replaceState(
        null,
        "",
        `#/${page.id}${location.hash.includes("?") ? location.hash.slice(location.hash.indexOf("?")) : ""}`,
      );
      show(page);
    });
    navList.append(h("li", {}, a));
  }
  screen(
    root,
    "Your site",
    h("div", { class: "bar" }, h("span", { id: "signed-in" }, `site ${api.siteId}`), lockButton),
    nav,
    content,
  );
  lockButton.addEventListener("click", () => {
    current?.dispose?.();
    current = undefined;
    lock(root);
  });
  idle = new IdleTimer(idleLimitMs(location.hash), () => {
    current?.dispose?.();
    current = undefined;
    lock(root);
  });
  idle.start();
  show(initialPage(location.hash));
}
