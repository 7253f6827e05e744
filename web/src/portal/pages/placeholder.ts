// A page not built yet says so plainly (and is listed as such in the web README).
import { h } from "../dom";
import type { Page, PageView } from "./types";

export function placeholder(id: string, title: string, what: string): Page {
  return {
    id,
    title,
    render(): PageView {
      return { element: h("p", { class: "state", "data-state": "empty" }, `${what}: not in this build yet.`) };
    },
  };
}
