// The Recordings page: the site, its cameras, and a camera's recordings (newest first).

import type { Device, Recording } from "../api";
import { fmtDuration, fmtSize, fmtTime, h } from "../dom";
import { loadInto, stateLine } from "./state";
import type { Page, PageView, PortalContext } from "./types";

export const recordingsPage: Page = {
  id: "recordings",
  title: "Recordings",
  render(ctx: PortalContext): PageView {
    const siteState = stateLine("site-state");
    const sites = h("ul", { id: "sites", "aria-label": "sites" });
    const camState = stateLine("camera-state");
    const cameras = h("ul", { id: "cameras", "aria-label": "cameras" });
    const recTitle = h("h3", { id: "recordings-title" }, "Recordings");
    const recState = stateLine("recording-state");
    const recordings = h("div", { id: "recordings" });
    const element = h(
      "div",
      {},
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

    const showRecordings = async (cam: Device): Promise<void> => {
      recTitle.textContent = `Recordings of ${cam.device_id}`;
      recordings.replaceChildren();
      const items = await loadInto(recState, "recordings", () => ctx.api.recordings(cam.device_id));
      if (items === undefined) return;
      if (items.length === 0) {
        recState.textContent = "No recordings for this camera.";
        recState.dataset["state"] = "empty";
        return;
      }
      recordings.replaceChildren(recordingTable(cam.device_id, items));
    };

    void (async () => {
      const site = await loadInto(siteState, "the site", () => ctx.api.site());
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
      const cams = await loadInto(camState, "cameras", () => ctx.api.cameras());
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
    return { element };
  },
};

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
