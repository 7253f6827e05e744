// The Devices page: the site's cameras and panels with their health from telemetry (last
// report, uptime, firmware, storage, free space, battery, signal, temperature), revoked
// devices marked, a device silent for longer than its telemetry interval plus a margin
// flagged stale (`#/devices?interval=60&margin=30`, seconds; the camera's default interval
// is 60 s). Telemetry is plain technical data the device posts with a signed request.

import { fmtDuration, fmtSize, fmtTime, h } from "../dom";
import { deviceHealth, healthOptions, latestTelemetry, listDevices, type Health } from "../site/telemetry";
import { loadInto, setState, stateLine } from "./state";
import type { Page, PageView, PortalContext } from "./types";

const HEALTH_TEXT: Record<Health, string> = {
  revoked: "revoked",
  "no telemetry": "no telemetry yet",
  stale: "stale: no recent report",
  failing: "storage failing",
  degraded: "storage degraded",
  ok: "ok",
};

export const devicesPage: Page = {
  id: "devices",
  title: "Devices",
  render(ctx: PortalContext): PageView {
    const siteId = ctx.keys.siteId;
    let disposed = false;
    const opts = healthOptions(location.hash);
    const state = stateLine("devices-state");
    const table = h("div", {
      id: "devices",
      class: "scroll",
      tabindex: "0",
      role: "region",
      "aria-label": "devices and their health",
    });
    const refresh = h("button", { type: "button", id: "devices-refresh", class: "secondary" }, "Refresh");
    const element = h(
      "div",
      {},
      h(
        "p",
        { class: "hint" },
        `A device is flagged stale after ${opts.intervalS + opts.marginS} s without a report ` +
          `(interval ${opts.intervalS} s plus ${opts.marginS} s). Telemetry carries technical health only, ` +
          "never anything about the images.",
      ),
      h("div", { class: "bar" }, state, refresh),
      table,
    );

    const load = async (): Promise<void> => {
      const got = await loadInto(state, "devices", async () => {
        const devs = await listDevices(ctx.api, siteId);
        const tel = await latestTelemetry(
          ctx.api,
          siteId,
          devs.map((d) => d.device_id),
        );
        return { devs, tel };
      });
      if (got === undefined || disposed) return;
      const now = Date.now();
      if (got.devs.length === 0) {
        table.replaceChildren();
        setState(state, "empty", "No devices enrolled yet.");
        return;
      }
      const head = [
        "Device",
        "Kind",
        "Model",
        "Health",
        "Last report",
        "Uptime",
        "Firmware",
        "Storage",
        "Free",
        "Battery",
        "Signal",
        "Temperature",
      ];
      const dash = "–";
      const rows = got.devs.map((d) => {
        const t = got.tel.get(d.device_id);
        const health = deviceHealth(d, t, now, opts);
        return h(
          "tr",
          { "data-device-id": d.device_id, "data-health": health, "data-kind": d.kind },
          h("th", { scope: "row", class: "mono" }, d.device_id),
          h("td", {}, d.kind),
          h("td", {}, d.model),
          h("td", { class: `health health-${health.replace(" ", "-")}` }, HEALTH_TEXT[health]),
          h(
            "td",
            t ? { "data-received-ms": String(t.received_ms) } : {},
            t ? `${fmtTime(t.received_ms)} (${fmtDuration(now - t.received_ms)} ago)` : dash,
          ),
          h("td", {}, t ? fmtDuration(t.uptime_s * 1000) : dash),
          h("td", {}, t ? t.firmware : dash),
          h("td", {}, t ? t.storage_health : dash),
          h("td", {}, t && t.storage_free_bytes !== null ? fmtSize(t.storage_free_bytes) : dash),
          h("td", {}, t && t.battery_pct !== null ? `${t.battery_pct} %` : dash),
          h("td", {}, t && t.signal_dbm !== null ? `${t.signal_dbm} dBm` : dash),
          h("td", {}, t && t.temperature_c !== null ? `${t.temperature_c} °C` : dash),
        );
      });
      table.replaceChildren(
        h(
          "table",
          { id: "device-table" },
          h("caption", {}, `${got.devs.length} device(s) of site ${siteId}`),
          h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, ...rows),
        ),
      );
      const flagged = rows.filter((r) => r.dataset["health"] !== "ok").length;
      setState(state, "done", `${got.devs.length} device(s), ${flagged} needing attention.`);
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
