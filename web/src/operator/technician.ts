// The technician's screen (mirrors `camvault operator consent request / consent list` and
// `operator release --consent`): ask a customer's consent for cameras and a window of
// recordings, with a reason; follow its state (pending / approved / refused / revoked /
// expired); once approved, release, decrypt and play the recordings it covers.

import { ApiRefusal } from "../portal/api";
import { field, fmtTime, h } from "../portal/dom";
import { setState, stateLine } from "../portal/pages/state";
import type { Operator } from "./flows";
import type { ConsentOut, ConsentRequestOut } from "./storage";
import { batchOutcomes, refusalBox, releaseAndPlay, Videos } from "./views";

const POLL_MS = 2000;

/** "ms since the epoch" or an ISO 8601 time (UTC unless it says otherwise), as the CLI takes. */
export function parseTime(text: string): number | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (!t) return null;
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

export type ConsentState = "pending" | "approved" | "refused" | "revoked" | "expired";

export function consentState(r: ConsentRequestOut, c: ConsentOut | undefined, now: number): ConsentState {
  if (r.state !== "approved") return r.state;
  if (c?.revoked) return "revoked";
  if (c && c.not_after_ms <= now) return "expired";
  return "approved";
}

function errText(e: unknown): string {
  if (e instanceof ApiRefusal) return `refused by the storage service: ${e.code} (${e.detail})`;
  return `error: ${(e as Error).message}`;
}

export function showTechnician(root: HTMLElement, op: Operator): () => void {
  const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19);
  const now = Date.now();
  const site = h("input", { type: "text", autocomplete: "off", spellcheck: "false", required: true });
  const cameras = h("input", { type: "text", autocomplete: "off", spellcheck: "false", required: true });
  const from = h("input", { type: "text", autocomplete: "off", spellcheck: "false", value: iso(now - 3600_000) });
  const to = h("input", { type: "text", autocomplete: "off", spellcheck: "false", value: iso(now) });
  const duration = h("input", { type: "number", min: "60", max: "604800", step: "1", value: "3600" });
  const reason = h("input", { type: "text", autocomplete: "off", maxlength: "512", required: true });
  const submit = h("button", { type: "submit", id: "request-consent" }, "Ask for consent");
  const formResult = h("div", { id: "request-result", "aria-live": "polite" });
  const form = h(
    "form",
    { id: "consent-form", novalidate: true },
    field("req-site", "Site id", site),
    field("req-cameras", "Cameras", cameras, "Camera ids, separated by commas."),
    field("req-from", "Recordings from", from, "UTC, ISO 8601 (2026-01-31T08:00:00) or ms since the epoch."),
    field("req-to", "Recordings to", to),
    field("req-duration", "Access asked (seconds)", duration, "At least 60."),
    field("req-reason", "Reason (shown to the customer)", reason),
    submit,
    formResult,
  );
  const listState = stateLine("requests-state");
  const table = h("table", { id: "consent-requests" });
  const view = h("section", { id: "consent-view", "aria-labelledby": "consent-view-title" });
  let last = "";
  let stopped = false;
  let disposeView: (() => void) | undefined;

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = parseTime(from.value);
    const t = parseTime(to.value);
    const cams = cameras.value
      .split(",")
      .map((c) => c.trim())
      .filter(Boolean);
    const problems: string[] = [];
    if (!site.value.trim()) problems.push("give a site id");
    if (cams.length === 0) problems.push("give at least one camera");
    if (f === null || t === null) problems.push("the window needs two times");
    else if (t < f) problems.push("the window ends before it starts");
    if (!reason.value.trim()) problems.push("give a reason");
    const d = Number(duration.value);
    if (!Number.isInteger(d) || d < 60) problems.push("ask for at least 60 seconds");
    if (problems.length) {
      formResult.replaceChildren(h("p", { class: "error", role: "alert", id: "request-error" }, problems.join("; ")));
      return;
    }
    submit.disabled = true;
    void op.storage
      .requestConsent(site.value.trim(), {
        cameras: cams,
        scope: ["recordings"],
        recordings_from_ms: f as number,
        recordings_to_ms: t as number,
        duration_s: d,
        reason: reason.value.trim(),
      })
      .then((r) => {
        formResult.replaceChildren(
          h(
            "p",
            { class: "state", "data-state": "done", role: "status", id: "request-made", "data-request": r.request_id },
            `Consent request ${r.request_id}: ${r.state}.`,
          ),
        );
        return refresh();
      })
      .catch((e: unknown) => formResult.replaceChildren(refusalBox("request-refusal", e)))
      .finally(() => {
        submit.disabled = false;
      });
  });

  const openConsent = (c: ConsentOut): void => {
    disposeView?.();
    const videos = h("div", { class: "videos", id: "consent-videos" });
    const v = new Videos(videos, "consent", "Recording");
    const st = stateLine("consent-state");
    const list = h("ul", { class: "items", id: "consent-list", "aria-label": "recordings of the consent" });
    const outcomes = h("div", { id: "consent-custodians" });
    view.replaceChildren(h("h3", { id: "consent-view-title" }, `Consent ${c.consent_id}`), st, outcomes, videos, list);
    disposeView = () => v.dispose();
    const body = c.consent.body;
    setState(st, "loading", "Asking the custodians…");
    void (async () => {
      try {
        const items = (await op.storage.recordings(c.site_id))
          .filter(
            (i) =>
              i.status === "committed" &&
              body.cameras.includes(i.camera_id) &&
              body.recordings_from_ms <= i.start_ms &&
              i.end_ms <= body.recordings_to_ms,
          )
          .sort((x, y) => x.camera_id.localeCompare(y.camera_id) || x.start_ms - y.start_ms);
        if (items.length === 0) {
          setState(st, "empty", "The consent covers no recording.");
          return;
        }
        const res = await releaseAndPlay(op, c.site_id, items, "maintenance", c.consent, { list, videos: v });
        outcomes.replaceChildren(batchOutcomes("consent-outcomes", res));
        setState(
          st,
          "done",
          `${res.items.filter((i) => i.plain).length} of ${res.items.length} recording(s) released and decrypted.`,
        );
      } catch (e) {
        setState(st, "error", "The release was refused.");
        outcomes.replaceChildren(refusalBox("consent-refusal", e));
      }
    })();
  };

  const render = (reqs: ConsentRequestOut[], consents: ConsentOut[]): void => {
    const t = Date.now();
    const byId = new Map(consents.map((c) => [c.consent_id, c]));
    const rows = reqs.map((r) => {
      const c = r.consent_id ? byId.get(r.consent_id) : undefined;
      return { r, c, state: consentState(r, c, t) };
    });
    const key = JSON.stringify(rows.map((x) => [x.r.request_id, x.state]));
    if (key === last) return;
    last = key;
    table.replaceChildren(
      h("caption", {}, `${reqs.length} consent request(s)`),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["Request", "Site", "Cameras", "Window", "Reason", "State", "Actions"].map((x) =>
            h("th", { scope: "col" }, x),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        ...rows.map(({ r, c, state }) => {
          const actions = h("td", {});
          if (state === "approved" && c) {
            const b = h(
              "button",
              { type: "button", class: "open-consent", "data-consent": c.consent_id },
              "Open recordings",
            );
            b.setAttribute("aria-label", `Open recordings of consent ${c.consent_id}`);
            b.addEventListener("click", () => openConsent(c));
            actions.append(b);
          }
          return h(
            "tr",
            { "data-request": r.request_id, "data-state": state },
            h("td", { class: "mono" }, r.request_id),
            h("td", { class: "mono" }, r.site_id),
            h("td", {}, r.cameras.join(", ")),
            h("td", {}, `${fmtTime(r.recordings_from_ms)} - ${fmtTime(r.recordings_to_ms)}`),
            h("td", {}, r.reason),
            h("td", { class: "consent-state" }, state + (r.refusal_reason ? ` (${r.refusal_reason})` : "")),
            actions,
          );
        }),
      ),
    );
    if (reqs.length === 0) setState(listState, "empty", "No consent request yet.");
    else setState(listState, "done", `${reqs.length} request(s); refreshed every ${POLL_MS / 1000} s`);
  };

  const refresh = async (): Promise<void> => {
    try {
      const [reqs, consents] = await Promise.all([op.storage.myRequests(), op.storage.myConsents()]);
      render(reqs, consents);
    } catch (e) {
      last = "";
      setState(listState, "error", errText(e));
    }
  };
  setState(listState, "loading", "Loading your consent requests…");
  void refresh();
  const timer = setInterval(() => {
    if (!stopped) void refresh();
  }, POLL_MS);

  root.replaceChildren(
    h(
      "section",
      { "aria-labelledby": "form-title" },
      h("h3", { id: "form-title" }, "Ask a customer for consent"),
      form,
    ),
    h(
      "section",
      { "aria-labelledby": "requests-title" },
      h("h3", { id: "requests-title" }, "Your consent requests"),
      listState,
      table,
    ),
    view,
  );
  return () => {
    stopped = true;
    clearInterval(timer);
    disposeView?.();
  };
}
