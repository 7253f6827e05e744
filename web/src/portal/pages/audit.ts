// The Audit page (issue 15): `camvault customer audit` in the browser. Each custodian's
// transparency log is verified here (signed checkpoint, consistency with the last checkpoint
// this browser verified, entries hashed to the root, each access proved included), the access
// notices of both channels checked against it, and every access to the site listed with who,
// what, when and why. Findings carry the Python audit's reason codes (src/portal/audit/).

import { toHex } from "../../crypto/bytes";
import { witnessPolicyFromJson } from "../../crypto/cosignature";
import { auditSite, type Access, type CustodianAudit } from "../audit/site";
import { FINDING_EXPLANATIONS } from "../audit/notices";
import { IndexedDbAuditStore } from "../audit/store";
import { signedStatementHashes } from "../site/store";
import { fmtTime, h } from "../dom";
import { errorText, setState, stateLine } from "./state";
import type { Page, PageView, PortalContext } from "./types";

interface InboxPage {
  items: { text: string | null }[];
  next_cursor: string | null;
}

/** Every access notice (or, with kind release_receipts, every operator's release-receipt
 *  report) the storage service's inbox relays, oldest first. */
async function relayedNotices(ctx: PortalContext, kind = "access_notice"): Promise<string[]> {
  const out: string[] = [];
  let after = "0";
  for (;;) {
    const page = await ctx.api.get<InboxPage>(`/v1/sites/${encodeURIComponent(ctx.keys.siteId)}/inbox`, {
      kind,
      after,
      limit: "500",
    });
    for (const item of page.items) if (typeof item.text === "string") out.push(item.text);
    if (page.next_cursor === null || page.items.length === 0) return out;
    after = page.next_cursor;
  }
}

function verdict(r: CustodianAudit): HTMLElement {
  if (r.ok) {
    const size = r.report?.checkpoint?.size.toString() ?? "?";
    return h(
      "p",
      { class: "verdict", "data-verdict": "ok" },
      h("strong", {}, "OK"),
      ` — log verified (size ${size}), ${r.notices} notice(s) included`,
    );
  }
  const word = r.error !== null ? "unreachable" : "findings";
  return h(
    "p",
    { class: "verdict error", "data-verdict": word },
    h("strong", {}, r.error !== null ? "Not checked" : "Problems"),
    r.error !== null ? " — its log could not be read this time" : ` — ${r.findings.length} finding(s)`,
  );
}

function custodianSection(r: CustodianAudit): HTMLElement {
  const id = r.custodian.custodian_id;
  const titleId = `audit-title-${id}`;
  const cp = r.report?.checkpoint ?? null;
  const facts = h("dl", { class: "facts" });
  facts.append(h("dt", {}, "URL"), h("dd", { class: "mono" }, r.custodian.url));
  if (cp !== null) {
    facts.append(
      h("dt", {}, "Checkpoint size"),
      h("dd", { "data-size": cp.size.toString() }, cp.size.toString()),
      h("dt", {}, "Root hash"),
      h("dd", { class: "mono", "data-root": toHex(cp.rootHash) }, toHex(cp.rootHash)),
    );
  }
  const report = r.report;
  if (report !== null && report.firstUse && cp !== null && r.ok)
    facts.append(
      h("dt", {}, "Trust"),
      h(
        "dd",
        { class: "tofu" },
        "First audit in this browser: this checkpoint is trusted on first use. Every later audit " +
          "proves the log only grew from it.",
      ),
    );
  else if (report !== null && cp !== null)
    facts.append(
      h("dt", {}, "Checked from"),
      h(
        "dd",
        {},
        report.firstUse ? "an empty log (first use)" : `the checkpoint of size ${report.fromSize} verified before`,
      ),
    );
  const findings = h(
    "ul",
    { class: "findings", "aria-label": `findings for custodian ${id}` },
    ...r.findings.map((f) =>
      h(
        "li",
        { class: "error", "data-kind": f.kind },
        h("code", {}, f.kind),
        f.index !== null ? ` (entry ${f.index})` : "",
        `: ${FINDING_EXPLANATIONS[f.kind]}. `,
        h("span", { class: "hint" }, f.detail),
      ),
    ),
  );
  return h(
    "section",
    {
      id: `audit-custodian-${id}`,
      class: "custodian",
      "aria-labelledby": titleId,
      "data-custodian": id,
      "data-verdict": r.ok ? "ok" : r.error !== null ? "unreachable" : "findings",
    },
    h("h4", { id: titleId }, `Custodian ${id}`),
    verdict(r),
    facts,
    r.findings.length > 0 ? findings : null,
  );
}

function outcome(a: Access): string {
  if (a.kind === "release") return `released ${a.released}`;
  if (a.kind === "refusal") return `refused ${a.reason ?? ""}`.trim();
  return a.kind;
}

/** Lines of a cell, one per item (no wide cells: the table's cells do not wrap). */
const lines = (items: (string | HTMLElement)[]): (string | HTMLElement)[] =>
  items.flatMap((w, i) => (i === 0 ? [w] : [h("br"), w]));

function whyCell(a: Access): HTMLElement {
  const items: (string | HTMLElement)[] = [a.purpose, a.justification];
  for (const part of a.detail.split("; ").filter((x) => x)) items.push(h("span", { class: "hint" }, part));
  if (a.window !== null) {
    const mark =
      a.window.inside === true ? " ✓ recordings inside" : a.window.inside === false ? " ✗ a recording outside" : "";
    items.push(h("span", { class: a.window.inside === false ? "error" : "hint" }, a.window.text + mark));
  }
  return h("td", { "data-window": a.window === null ? "none" : String(a.window.inside) }, ...lines(items));
}

function accessRow(a: Access): HTMLElement {
  const what = [a.cameras.join(", "), ...a.recordings].filter((x) => x);
  const mark = a.included === true ? "✓ included" : a.included === false ? "✗ not proved" : "not checked";
  return h(
    "tr",
    {
      "data-custodian": a.custodianId,
      "data-index": String(a.logIndex),
      "data-kind": a.kind,
      "data-operator": a.operatorId,
      "data-justification": a.justification,
      "data-released": String(a.released),
      "data-recordings": a.recordings.join(" "),
      "data-included": String(a.included),
    },
    h("td", {}, a.custodianId),
    h("td", {}, String(a.logIndex)),
    h("td", {}, a.timeMs > 0 ? fmtTime(a.timeMs) : "?"),
    h("td", {}, outcome(a)),
    h("td", {}, a.operatorId),
    h("td", { class: "what" }, ...lines(what)),
    whyCell(a),
    h("td", { class: a.included === false ? "error" : false }, mark),
  );
}

function accessTable(accesses: Access[]): HTMLElement {
  const cols = [
    "Custodian",
    "Log #",
    "When",
    "Outcome",
    "Who (operator)",
    "What (cameras / recordings)",
    "Why",
    "Inclusion",
  ];
  return h(
    "div",
    { class: "table-scroll", role: "region", "aria-label": "accesses (scrollable)", tabindex: "0" },
    h(
      "table",
      { id: "audit-accesses" },
      h("caption", {}, "Every access to the site's recordings, as each custodian logged it"),
      h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...accesses.map(accessRow)),
    ),
  );
}

export const auditPage: Page = {
  id: "audit",
  title: "Audit",
  render(ctx: PortalContext): PageView {
    let disposed = false;
    let run = 0;
    const status = stateLine("audit-state");
    const button = h("button", { type: "button", id: "audit-verify" }, "Verify again");
    const custodians = h("div", { id: "audit-custodians" });
    const accessesState = stateLine("audit-accesses-state");
    const accesses = h("div", { id: "audit-access-list" });
    const element = h(
      "div",
      {},
      h(
        "p",
        { class: "hint" },
        "Each key custodian keeps a public, append-only log of every release of your recordings. " +
          "This page checks those logs here, in your browser: the custodian's signature, that the log " +
          "only grew since this browser last checked it, that every access is in the log, and that each " +
          "matches an access notice you received.",
      ),
      h("div", { class: "bar" }, button, status),
      h(
        "section",
        { "aria-labelledby": "audit-custodians-title" },
        h("h4", { id: "audit-custodians-title" }, "Custodians"),
        custodians,
      ),
      h(
        "section",
        { "aria-labelledby": "audit-accesses-title" },
        h("h4", { id: "audit-accesses-title" }, "Accesses"),
        accessesState,
        accesses,
      ),
    );

    const verify = async (): Promise<void> => {
      const mine = ++run; // this run (a later click supersedes it)
      button.disabled = true;
      custodians.setAttribute("aria-busy", "true"); // the last results stay shown until the new ones
      accesses.setAttribute("aria-busy", "true");
      setState(status, "loading", "Verifying the custodians' logs…");
      setState(accessesState, "loading", "Loading accesses…");
      try {
        const list = ctx.keys.config.custodians;
        if (list.length === 0) {
          setState(status, "error", "No custodians known: import config.json with the key files to audit their logs.");
          setState(accessesState, "empty", "");
          custodians.replaceChildren();
          accesses.replaceChildren();
          return;
        }
        // the statements signed with the CLI (config.json) and those signed in this browser
        let browserSigned: string[] = [];
        try {
          browserSigned = await signedStatementHashes(ctx.keys.siteId);
        } catch {
          // no IndexedDB: config.json's list only
        }
        const results = await auditSite({
          siteId: ctx.keys.siteId,
          siteKey: ctx.keys.siteKey,
          custodians: list,
          statementHashes: [...ctx.keys.config.signed, ...browserSigned],
          devices: ctx.keys.config.devices,
          relayed: () => relayedNotices(ctx),
          receipts: () => relayedNotices(ctx, "release_receipts"),
          store: new IndexedDbAuditStore(),
          witnesses: ctx.keys.witnesses ? witnessPolicyFromJson(ctx.keys.witnesses) : null,
        });
        if (disposed || mine !== run) return;
        custodians.replaceChildren(...results.map(custodianSection));
        const bad = results.filter((r) => !r.ok).length;
        setState(
          status,
          bad === 0 ? "done" : "error",
          bad === 0
            ? `All ${results.length} custodians' logs verified at ${fmtTime(Date.now())}.`
            : `${bad} of ${results.length} custodians have findings (verified at ${fmtTime(Date.now())}).`,
        );
        status.dataset["verdict"] = bad === 0 ? "ok" : "findings";
        const all = results
          .flatMap((r) => r.accesses)
          .sort((a, b) => a.timeMs - b.timeMs || a.logIndex - b.logIndex || a.custodianId.localeCompare(b.custodianId));
        if (all.length === 0) {
          setState(
            accessesState,
            "empty",
            "No access to your recordings yet: no custodian logged a release for this site.",
          );
          accesses.replaceChildren();
        } else {
          setState(accessesState, "done", `${all.length} logged access(es).`);
          accesses.replaceChildren(accessTable(all));
        }
      } catch (e) {
        if (disposed || mine !== run) return;
        setState(status, "error", `The audit could not run: ${errorText(e)}`);
        setState(accessesState, "error", "Accesses not loaded.");
      } finally {
        if (mine === run) {
          button.disabled = false;
          custodians.removeAttribute("aria-busy");
          accesses.removeAttribute("aria-busy");
        }
      }
    };
    button.addEventListener("click", () => void verify());
    void verify();
    return {
      element,
      dispose(): void {
        disposed = true;
      },
    };
  },
};
