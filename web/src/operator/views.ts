// Pieces the alarm view and the technician view share: refusals with their reason codes (per
// custodian, or the storage service's), the custodians' answers, and a batch of recordings
// released, decrypted and played per camera.

import type { Json } from "../crypto/canonical";
import { ApiRefusal } from "../portal/api";
import { fmtTime, h } from "../portal/dom";
import { eventLabels, releaseBatch, type BatchResult, type Operator, type Released } from "./flows";
import { CameraVideo } from "./play";
import { reasonOf, ThresholdNotMet, type CustodianOutcome, type Purpose } from "./release";
import type { ArcRecording } from "./storage";

/** The custodians' answers, one line each, with the reason code in data-reason. */
export function outcomeList(id: string, outcomes: readonly CustodianOutcome[]): HTMLElement {
  const ul = h("ul", { id, class: "outcomes", "aria-label": "custodians' answers" });
  for (const o of [...outcomes].sort((a, b) => a.custodian.localeCompare(b.custodian))) {
    const reason = reasonOf(o);
    const detail =
      o.kind === "refused"
        ? ` (HTTP ${o.status}: ${o.message})`
        : o.kind === "unwitnessed"
          ? ` (${o.message})`
          : o.kind === "released" && o.sealed.size > 0
            ? ` (${o.sealed.size} share(s), release ${o.releaseId})`
            : "";
    ul.append(
      h(
        "li",
        { "data-custodian": o.custodian, "data-reason": reason, class: reason === "released" ? "ok" : "refused" },
        `custodian ${o.custodian}: ${reason === "released" ? "released" : `refused: ${reason}`}${detail}`,
      ),
    );
  }
  return ul;
}

/** A batch's custodians' answers, then, once every custodian answered and the receipts went to
 *  the customer's inbox, all of them with the CLI's `warning:` lines: a custodian unwitnessed
 *  or refused while the others released is named with its reason. data-receipts says whether
 *  the release-receipt report was posted. */
export function batchOutcomes(id: string, res: BatchResult): HTMLElement {
  const box = h("div", { id: `${id}-box`, class: "batch-outcomes", "data-receipts": "pending" });
  box.append(outcomeList(id, res.outcomes));
  void res.receipts.then((after) => {
    const warnings = after.warnings.map((w) =>
      h("li", { class: "warning", "data-custodian": w.custodian ?? "", "data-reason": w.reason }, `warning: ${w.text}`),
    );
    box.replaceChildren(
      outcomeList(id, after.outcomes),
      ...(warnings.length
        ? [h("div", { role: "status" }, h("ul", { id: `${id}-warnings`, class: "warnings" }, ...warnings))]
        : []),
    );
    box.dataset["receipts"] = after.posted ? "posted" : "not_posted";
  });
  return box;
}

/** A refusal as the page shows it: never blank, always the reason code(s). */
export function refusalBox(id: string, e: unknown): HTMLElement {
  const box = h("div", { id, class: "refusal", role: "alert" });
  if (e instanceof ThresholdNotMet) {
    const codes = [...new Set(e.outcomes.filter((o) => reasonOf(o) !== "released").map(reasonOf))];
    box.dataset["source"] = "custodians";
    box.dataset["reason"] = codes.join(",");
    box.append(
      h("p", {}, `Refused: fewer than the threshold of custodians released (${codes.join(", ")}).`),
      outcomeList(`${id}-custodians`, e.outcomes),
    );
  } else if (e instanceof ApiRefusal) {
    box.dataset["source"] = "storage";
    box.dataset["reason"] = e.code;
    box.append(h("p", {}, `Refused by the storage service: ${e.code} (${e.detail})`));
  } else {
    box.dataset["source"] = "error";
    box.dataset["reason"] = "error";
    box.append(h("p", {}, `Error: ${(e as Error).message}`));
  }
  return box;
}

/** Camera videos by camera id, created on first use inside `into`. */
export class Videos {
  readonly #by = new Map<string, CameraVideo>();
  constructor(
    readonly into: HTMLElement,
    readonly prefix: string,
    readonly label: string,
    readonly liveEdge = false,
  ) {}

  of(camera: string): CameraVideo {
    let v = this.#by.get(camera);
    if (v === undefined) {
      v = new CameraVideo(`${this.prefix}-${camera}`, `${this.label}: camera ${camera}`, this.liveEdge);
      this.#by.set(camera, v);
      this.into.append(v.element);
    }
    return v;
  }

  all(): CameraVideo[] {
    return [...this.#by.values()];
  }

  dispose(): void {
    for (const v of this.#by.values()) v.dispose();
  }
}

export function itemLine(r: Released, extra = ""): HTMLElement {
  const it = r.item;
  const labels = eventLabels(it.kind, r.plain);
  const what = r.plain
    ? `decrypted (${r.plain.length} bytes)${labels.length ? `, labels: ${labels.join(", ")}` : ""}`
    : `refused: ${r.refused ?? "?"}`;
  return h(
    "li",
    { "data-recording": it.recording_id, "data-state": r.plain ? "decrypted" : "refused" },
    `${it.camera_id}/${it.recording_id} (${it.kind}, ${fmtTime(it.start_ms)}): ${what}${extra}`,
  );
}

export interface PlayedBatch {
  result: BatchResult;
  videos: Videos;
}

/** Release `items`, decrypt, and play the video ones in one video per camera (ended after). */
export async function releaseAndPlay(
  op: Operator,
  siteId: string,
  items: readonly ArcRecording[],
  purpose: Purpose,
  justification: Json,
  into: { list: HTMLElement; videos: Videos },
): Promise<BatchResult> {
  const appends: Promise<unknown>[] = [];
  const result = await releaseBatch(op, siteId, items, purpose, justification, (r) => {
    into.list.append(itemLine(r));
    if (r.plain && (r.item.kind === "segment" || r.item.kind === "live" || r.item.kind === "clip"))
      appends.push(
        into.videos
          .of(r.item.camera_id)
          .append(r.plain, r.item.start_ms, r.item.end_ms)
          .catch(() => undefined),
      );
  });
  await Promise.all(appends);
  for (const v of into.videos.all()) v.end();
  return result;
}
