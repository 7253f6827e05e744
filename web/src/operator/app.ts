// The operator console (issue 15): alarm queue, releases from the custodians, pre-alarm and
// live video. Placeholder until built.
import { h } from "../portal/dom";

export async function startOperator(root: HTMLElement): Promise<void> {
  root.replaceChildren(
    h("h1", {}, "camvault"),
    h("h2", { id: "screen-title" }, "Operator console"),
    h("p", { class: "state", "data-state": "empty" }, "The operator console is not in this build yet."),
  );
  root.dataset["screen"] = "Operator console";
  return Promise.resolve();
}
