// Loading / empty / error lines every page uses the same way: a live status line whose
// data-state is loading, done, empty or error (the browser tests wait on it).

import { ApiRefusal } from "../api";
import { h } from "../dom";

export function errorText(e: unknown): string {
  if (e instanceof ApiRefusal) return `refused by the storage service: ${e.code} (${e.detail})`;
  return `error: ${(e as Error).message}`;
}

export function stateLine(id: string): HTMLElement {
  return h("p", { id, class: "state", role: "status", "aria-live": "polite" });
}

export function setState(el: HTMLElement, state: "loading" | "done" | "empty" | "error", text: string): void {
  el.textContent = text;
  el.dataset["state"] = state;
  if (state === "error") el.setAttribute("role", "alert");
  else el.setAttribute("role", "status");
}

/** Run `op` with `el` showing loading, then done (empty text) or the error; undefined on error. */
export async function loadInto<T>(el: HTMLElement, what: string, op: () => Promise<T>): Promise<T | undefined> {
  setState(el, "loading", `Loading ${what}…`);
  try {
    const out = await op();
    setState(el, "done", "");
    return out;
  } catch (e) {
    setState(el, "error", errorText(e));
    return undefined;
  }
}
