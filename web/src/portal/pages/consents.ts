// The Consents page: technicians' consent requests (who, why, which cameras, which recordings,
// for how long), each pending one with Approve (a Consent signed here with the site key, for
// the requested window or a shorter one the customer picks) and Refuse (a signed request with
// an optional reason); the consents, each with its state and, while usable, Revoke (a signed
// Revocation to the storage service and to every custodian). Mirrors clients/customer/consents.py.

import { Ed25519SigningKey } from "../../crypto/ed25519";
import { fmtDuration, fmtTime, h } from "../dom";
import {
  consentBody,
  consentState,
  ConsentInputError,
  listConsents,
  listRequests,
  newConsentId,
  postConsent,
  postRevocation,
  refuseRequest,
  requestState,
  revokeAtCustodians,
  signConsent,
  signRevocation,
  statementHashHex,
  type ConsentRecord,
  type ConsentRequest,
} from "../site/consents";
import { rememberSigned } from "../site/store";
import { errorText, loadInto, setState, stateLine } from "./state";
import type { Page, PageView, PortalContext } from "./types";

function fmtSeconds(s: number): string {
  if (s % 86_400 === 0) return `${s / 86_400} day(s)`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  return fmtDuration(s * 1000);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

export const consentsPage: Page = {
  id: "consents",
  title: "Consents",
  render(ctx: PortalContext): PageView {
    const siteId = ctx.keys.siteId;
    const key = Ed25519SigningKey.fromText(ctx.keys.siteKey);
    let disposed = false;
    const action = stateLine("consent-action");
    const reqState = stateLine("request-state");
    const requests = h("ul", { id: "consent-requests", class: "cards", "aria-label": "consent requests" });
    const conState = stateLine("consent-state");
    const consents = h("ul", { id: "consents", class: "cards", "aria-label": "consents" });
    const refresh = h("button", { type: "button", id: "consents-refresh", class: "secondary" }, "Refresh");
    const element = h(
      "div",
      {},
      h(
        "p",
        { class: "hint" },
        "A technician can read recordings only with your consent: approving signs it here with your site key, " +
          "for the cameras and recordings asked, for the time asked or less. A revocation reaches the storage " +
          "service and every custodian.",
      ),
      h("div", { class: "bar" }, action, refresh),
      h(
        "section",
        { "aria-labelledby": "requests-title" },
        h("h4", { id: "requests-title" }, "Requests"),
        reqState,
        requests,
      ),
      h(
        "section",
        { "aria-labelledby": "consents-title" },
        h("h4", { id: "consents-title" }, "Consents"),
        conState,
        consents,
      ),
    );

    const busy = (on: boolean): void => {
      element.querySelectorAll("button").forEach((b) => {
        b.disabled = on;
      });
    };

    /** Run one signed action, show its outcome (or the service's reason code), reload. */
    const act = async (what: string, op: () => Promise<string>): Promise<void> => {
      busy(true);
      setState(action, "loading", `${what}…`);
      try {
        const text = await op();
        if (!disposed) setState(action, "done", text);
      } catch (e) {
        if (!disposed) setState(action, "error", e instanceof ConsentInputError ? `error: ${e.message}` : errorText(e));
      } finally {
        busy(false);
      }
      if (!disposed) await load();
    };

    const requestCard = (r: ConsentRequest, byId: Map<string, ConsentRecord>, now: number): HTMLElement => {
      const st = requestState(r, byId, now, fmtTime);
      const id = r.request_id;
      const li = h(
        "li",
        { class: "card", "data-request-id": id, "data-state": st.state },
        h("p", {}, h("strong", {}, r.operator_id), ` asks for ${r.scope.join(", ")} of ${r.cameras.join(", ")}`),
        h("p", {}, h("span", { class: "label" }, "Why: "), r.reason),
        h(
          "p",
          {},
          `Recordings from ${fmtTime(r.recordings_from_ms)} to ${fmtTime(r.recordings_to_ms)}; ` +
            `for ${fmtSeconds(r.duration_s)}; asked ${fmtTime(r.created_ms)}`,
        ),
        h("p", { class: "status-line" }, "State: ", h("strong", { class: "request-state" }, st.text)),
      );
      if (r.state !== "pending") return li;
      const validId = `valid-${id}`;
      const valid = h("input", {
        type: "number",
        id: validId,
        min: "1",
        max: String(r.duration_s),
        step: "1",
        value: String(r.duration_s),
        inputmode: "numeric",
      });
      const reasonId = `refuse-reason-${id}`;
      const reason = h("input", { type: "text", id: reasonId, maxlength: "512", autocomplete: "off" });
      const approve = h("button", { type: "button", class: "approve", "aria-describedby": validId }, "Approve");
      const refuse = h("button", { type: "button", class: "refuse secondary" }, "Refuse");
      approve.setAttribute("aria-label", `Approve request ${id} of ${r.operator_id}`);
      refuse.setAttribute("aria-label", `Refuse request ${id} of ${r.operator_id}`);
      approve.addEventListener("click", () => {
        void act("Signing the consent", async () => {
          const chosen = valid.value.trim() === "" ? undefined : Number(valid.value);
          if (chosen !== undefined && chosen > r.duration_s)
            throw new ConsentInputError(`at most ${r.duration_s} s: the technician asked for no more`);
          const body = consentBody(r, siteId, Date.now(), newConsentId(), chosen);
          const signed = signConsent(body, key);
          const out = await postConsent(ctx.api, siteId, signed, id);
          const hash = statementHashHex(signed);
          await rememberSigned({ hash, site_id: siteId, type: signed.type, signed_ms: Date.now() });
          return `Consent ${out.consent_id} signed for ${out.grantee_id} until ${fmtTime(out.not_after_ms)}.`;
        });
      });
      refuse.addEventListener("click", () => {
        void act("Refusing", async () => {
          const why = reason.value.trim();
          const out = await refuseRequest(ctx.api, siteId, id, why === "" ? null : why);
          return `Request ${out.request_id} of ${out.operator_id} refused.`;
        });
      });
      li.append(
        h(
          "div",
          { class: "actions" },
          h(
            "div",
            { class: "field" },
            h("label", { for: validId }, `Valid for (seconds, at most ${r.duration_s})`),
            valid,
          ),
          approve,
          h("div", { class: "field" }, h("label", { for: reasonId }, "Reason for refusing (optional)"), reason),
          refuse,
        ),
      );
      return li;
    };

    const consentCard = (c: ConsentRecord, now: number): HTMLElement => {
      const st = consentState(c, now, fmtTime);
      const body = (c.consent["body"] ?? {}) as Record<string, unknown>;
      const li = h(
        "li",
        { class: "card", "data-consent-id": c.consent_id, "data-state": st.state },
        h(
          "p",
          {},
          h("strong", {}, c.grantee_id),
          ` · ${strings(body["scope"]).join(", ")} of ${strings(body["cameras"]).join(", ")}`,
        ),
        h("p", { class: "mono" }, c.consent_id),
        h("p", {}, `Usable from ${fmtTime(c.not_before_ms)} to ${fmtTime(c.not_after_ms)}`),
        h("p", { class: "status-line" }, "State: ", h("strong", { class: "consent-state" }, st.text)),
      );
      if (st.state === "approved" || st.state === "not yet valid") {
        const revoke = h("button", { type: "button", class: "revoke" }, "Revoke");
        revoke.setAttribute("aria-label", `Revoke consent ${c.consent_id} of ${c.grantee_id}`);
        revoke.addEventListener("click", () => {
          void act("Revoking", async () => {
            const signed = signRevocation(siteId, c.consent_id, Date.now(), key);
            await postRevocation(ctx.api, siteId, signed);
            await rememberSigned({
              hash: statementHashHex(signed),
              site_id: siteId,
              type: signed.type,
              signed_ms: Date.now(),
            });
            const answers = await revokeAtCustodians(ctx.keys.config.custodians, siteId, signed);
            const failed = answers.filter((a) => !a.ok);
            const custodians =
              answers.length === 0
                ? "no custodian listed in config.json: revoke there with the CLI too"
                : answers.map((a) => `custodian ${a.custodian_id}: ${a.status}`).join(", ");
            if (failed.length > 0)
              throw new Error(`revoked at the storage service, but not at every custodian (${custodians})`);
            return `Consent ${c.consent_id} revoked at the storage service; ${custodians}.`;
          });
        });
        li.append(h("div", { class: "actions" }, revoke));
      }
      return li;
    };

    const load = async (): Promise<void> => {
      const both = await loadInto(reqState, "consent requests", () =>
        Promise.all([listRequests(ctx.api, siteId), listConsents(ctx.api, siteId)]),
      );
      if (disposed) return;
      if (both === undefined) {
        setState(conState, "error", "consents not loaded");
        return;
      }
      const [reqs, cons] = both;
      const now = Date.now();
      const byId = new Map(cons.map((c) => [c.consent_id, c]));
      const pendingFirst = [...reqs].sort(
        (a, b) => Number(b.state === "pending") - Number(a.state === "pending") || b.created_ms - a.created_ms,
      );
      requests.replaceChildren(...pendingFirst.map((r) => requestCard(r, byId, now)));
      if (reqs.length === 0) setState(reqState, "empty", "No consent requests.");
      else {
        const pending = reqs.filter((r) => r.state === "pending").length;
        setState(reqState, "done", `${reqs.length} request(s), ${pending} pending.`);
      }
      const newest = [...cons].sort((a, b) => b.created_ms - a.created_ms);
      consents.replaceChildren(...newest.map((c) => consentCard(c, now)));
      if (cons.length === 0) setState(conState, "empty", "No consents given.");
      else setState(conState, "done", `${cons.length} consent(s).`);
    };

    refresh.addEventListener("click", () => void load());
    void load();
    return {
      element,
      dispose() {
        disposed = true;
      },
    };
  },
};
