// The Inbox page: the site's smart alerts (decrypted here with the identity: labels,
// confidence, camera, time, and the thumbnail from the camera's event record, decrypted here
// too and shown from a blob: URL, which the app's CSP allows as img-src), the custodians'
// access notices (who read what, when, why, via which custodian; linked to the Audit page),
// consent requests and alarms. Newest first; "new" marks what came after the last visit
// (kept in this browser: the API has no read state).

import { fmtTime, h } from "../dom";
import {
  alertThumbnail,
  fetchInbox,
  noticeWhy,
  openSmartAlert,
  parseNotice,
  type InboxItem,
  type SmartAlert,
} from "../site/inbox";
import { inboxSeen, setInboxSeen } from "../site/store";
import { errorText, loadInto, setState, stateLine } from "./state";
import type { Page, PageView, PortalContext } from "./types";

/** Thumbnails fetched by themselves for the newest alerts; older ones on demand. */
const AUTO_THUMBNAILS = 4;

const KIND_TITLE: Record<string, string> = {
  smart_alert: "Smart alert",
  access_notice: "Access notice",
  consent_request: "Consent request",
  alarm: "Alarm",
};

function percent(c: number): string {
  return `${Math.round(c * 100)} %`;
}

function jsonText(text: string | null): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text ?? "");
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export const inboxPage: Page = {
  id: "inbox",
  title: "Inbox",
  render(ctx: PortalContext): PageView {
    const siteId = ctx.keys.siteId;
    let disposed = false;
    const urls: string[] = [];
    const state = stateLine("inbox-state");
    const list = h("ol", { id: "inbox", class: "cards", reversed: true, "aria-label": "inbox, newest first" });
    const refresh = h("button", { type: "button", id: "inbox-refresh", class: "secondary" }, "Refresh");
    const markRead = h("button", { type: "button", id: "inbox-mark-read", class: "secondary" }, "Mark all as read");
    const element = h("div", {}, h("div", { class: "bar" }, state, h("div", {}, refresh, " ", markRead)), list);
    let newest = 0;

    const dropUrls = (): void => {
      for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    };

    const thumbnail = (alert: SmartAlert, slot: HTMLElement, auto: boolean): void => {
      const load = async (): Promise<void> => {
        const line = h("p", { class: "state", role: "status" }, "Decrypting the thumbnail…");
        line.dataset["state"] = "loading";
        slot.replaceChildren(line);
        try {
          const jpeg = await alertThumbnail(ctx.api, siteId, alert, ctx.keys.identity);
          if (disposed) return;
          if (jpeg === null) {
            line.textContent = "No thumbnail in this event.";
            line.dataset["state"] = "empty";
            return;
          }
          const url = URL.createObjectURL(new Blob([jpeg as BlobPart], { type: "image/jpeg" }));
          urls.push(url);
          const labels = alert.labels.map((l) => l.label).join(", ") || "no label";
          slot.replaceChildren(
            h("img", {
              class: "thumbnail",
              src: url,
              width: "240",
              alt: `${alert.camera_id} at ${fmtTime(alert.start_ms)}: ${labels}`,
            }),
          );
        } catch (e) {
          if (disposed) return;
          line.textContent = `Thumbnail not shown: ${errorText(e)}`;
          line.dataset["state"] = "error";
        }
      };
      if (auto) {
        void load();
        return;
      }
      const b = h("button", { type: "button", class: "secondary show-thumbnail" }, "Show thumbnail");
      b.setAttribute("aria-label", `Show thumbnail of ${alert.alert_id}`);
      b.addEventListener("click", () => void load());
      slot.replaceChildren(b);
    };

    const card = (item: InboxItem, seen: number, autoThumb: boolean): HTMLElement => {
      const unread = item.id > seen;
      const li = h(
        "li",
        { class: unread ? "card unread" : "card", "data-kind": item.kind, "data-item-id": String(item.id) },
        h(
          "p",
          { class: "card-head" },
          h("strong", {}, KIND_TITLE[item.kind] ?? item.kind),
          unread ? h("span", { class: "badge" }, " new") : null,
          ` · ${fmtTime(item.created_ms)}`,
        ),
      );
      if (unread) li.dataset["unread"] = "true";
      if (item.kind === "smart_alert") {
        const body = h(
          "div",
          { class: "alert-body" },
          h("p", { class: "state", "data-state": "loading" }, "Decrypting…"),
        );
        li.append(body);
        void openSmartAlert(item, ctx.keys.identity).then(
          (a) => {
            if (disposed) return;
            li.dataset["cameraId"] = a.camera_id;
            li.dataset["alertId"] = a.alert_id;
            li.dataset["labels"] = a.labels.map((l) => l.label).join(",");
            const slot = h("div", { class: "thumb-slot" });
            body.replaceChildren(
              h("p", {}, h("strong", {}, a.camera_id), ` · segment starting ${fmtTime(a.start_ms)}`),
              a.labels.length === 0
                ? h("p", {}, "No label.")
                : h(
                    "ul",
                    { class: "labels", "aria-label": "labels" },
                    ...a.labels.map((l) =>
                      h("li", { "data-label": l.label }, `${l.label} (confidence ${percent(l.confidence)})`),
                    ),
                  ),
              slot,
            );
            thumbnail(a, slot, autoThumb);
          },
          (e: unknown) => {
            if (disposed) return;
            li.dataset["error"] = "true";
            body.replaceChildren(h("p", { class: "error" }, (e as Error).message));
          },
        );
      } else if (item.kind === "access_notice") {
        try {
          const n = parseNotice(item.text);
          li.dataset["operatorId"] = n.operator_id;
          li.dataset["custodianId"] = n.custodian_id;
          const audit = h("button", { type: "button", class: "secondary open-audit" }, "Check it in the audit");
          audit.setAttribute("aria-label", `Check it in the audit: release ${n.release_id}`);
          audit.addEventListener("click", () => ctx.navigate("audit"));
          li.append(
            h(
              "p",
              {},
              h("strong", {}, n.operator_id),
              ` read ${n.recordings.length} recording(s) of ${n.cameras.join(", ")} ` +
                `(${fmtTime(n.from_ms)} to ${fmtTime(n.to_ms)})`,
            ),
            h("p", {}, `When: ${fmtTime(n.time_ms)} · Why: ${n.purpose}, ${noticeWhy(n)}`),
            h("p", {}, `Released by custodian ${n.custodian_id}, log entry ${n.log_index}`),
            h("p", { class: "mono" }, `release ${n.release_id}`),
            audit,
          );
        } catch (e) {
          li.dataset["error"] = "true";
          li.append(h("p", { class: "error" }, (e as Error).message));
        }
      } else if (item.kind === "consent_request") {
        const d = jsonText(item.text);
        const open = h("button", { type: "button", class: "secondary open-consents" }, "Answer on the Consents page");
        open.addEventListener("click", () => ctx.navigate("consents"));
        li.append(
          h(
            "p",
            {},
            h("strong", {}, String(d["operator_id"] ?? "a technician")),
            ` asks for ${Array.isArray(d["cameras"]) ? d["cameras"].join(", ") : "cameras"}: ${String(d["reason"] ?? "")}`,
          ),
          open,
        );
      } else if (item.kind === "alarm") {
        const d = jsonText(item.text);
        li.append(
          h(
            "p",
            {},
            `${String(d["alarm_type"] ?? "alarm")} alarm ${String(d["alarm_id"] ?? "")} from panel ` +
              `${String(d["panel_id"] ?? "?")} (event ${String(d["event_id"] ?? "?")})`,
          ),
        );
      } else {
        li.append(h("p", {}, item.text ?? ""));
      }
      return li;
    };

    const load = async (): Promise<void> => {
      dropUrls();
      const got = await loadInto(state, "the inbox", async () => {
        const [items, seen] = await Promise.all([fetchInbox(ctx.api, siteId), inboxSeen(siteId)]);
        return { items, seen };
      });
      if (got === undefined || disposed) return;
      const items = [...got.items].sort((a, b) => b.id - a.id);
      newest = items[0]?.id ?? 0;
      let alertsSeen = 0;
      list.replaceChildren(
        ...items.map((it) => card(it, got.seen, it.kind === "smart_alert" && alertsSeen++ < AUTO_THUMBNAILS)),
      );
      if (items.length === 0) {
        setState(state, "empty", "Nothing in the inbox yet.");
        return;
      }
      const unread = items.filter((it) => it.id > got.seen).length;
      const alerts = items.filter((it) => it.kind === "smart_alert").length;
      const notices = items.filter((it) => it.kind === "access_notice").length;
      setState(
        state,
        "done",
        `${items.length} item(s): ${alerts} smart alert(s), ${notices} access notice(s); ${unread} new.`,
      );
    };

    refresh.addEventListener("click", () => void load());
    markRead.addEventListener("click", () => {
      void setInboxSeen(siteId, newest).then(load, (e: unknown) => setState(state, "error", errorText(e)));
    });
    void load();
    return {
      element,
      dispose() {
        disposed = true;
        dropUrls();
      },
    };
  },
};
