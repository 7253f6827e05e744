// The ARC operator's screens (mirrors `camvault operator alarms / ack / release / live`):
// the alarm queue (polled), an alarm opened: pre-alarm recordings released by t custodians,
// decrypted and played, then the live feed followed segment by segment with its latency;
// refusals with their reason codes; a site opened without an alarm is refused.

import type { Json } from "../crypto/canonical";
import { ApiRefusal } from "../portal/api";
import { field, fmtTime, h } from "../portal/dom";
import { setState, stateLine } from "../portal/pages/state";
import {
  askCustodians,
  closeAlarm,
  eventLabels,
  isPreAlarm,
  releaseBatch,
  type Operator,
  type Released,
} from "./flows";
import { reasonOf, type ReleaseRecording } from "./release";
import type { Alarm, ArcRecording } from "./storage";
import { batchOutcomes, itemLine, outcomeList, refusalBox, releaseAndPlay, Videos } from "./views";

const POLL_MS = 2000;
const VIDEO_KINDS = new Set(["segment", "live", "clip"]);

function errText(e: unknown): string {
  if (e instanceof ApiRefusal) return `refused by the storage service: ${e.code} (${e.detail})`;
  return `error: ${(e as Error).message}`;
}

/** The console for role operator; returns its dispose function (stops polling and the feed). */
export function showAlarms(root: HTMLElement, op: Operator): () => void {
  const queueState = stateLine("queue-state");
  const table = h("table", { id: "alarm-queue" });
  const view = h("section", { id: "alarm-view", "aria-labelledby": "alarm-view-title" });
  let closeView: (() => void) | undefined;
  let stopped = false;
  let last = "";

  const siteInput = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
  const siteButton = h("button", { type: "submit", id: "open-site" }, "Open site recordings");
  const siteResult = h("div", { id: "site-result" });
  const siteForm = h(
    "form",
    { id: "site-form", novalidate: true },
    field(
      "site-id",
      "Site id",
      siteInput,
      "Reading a site needs an open alarm (or a consent): without one it is refused.",
    ),
    siteButton,
    siteResult,
  );
  siteForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const site = siteInput.value.trim();
    if (!site) {
      siteResult.replaceChildren(h("p", { class: "error", role: "alert" }, "give a site id"));
      return;
    }
    siteResult.replaceChildren(h("p", { class: "state", "data-state": "loading", role: "status" }, "Asking…"));
    void (async () => {
      try {
        const items = await op.storage.recordings(site);
        siteResult.replaceChildren(
          h(
            "p",
            { class: "state", "data-state": "done", role: "status" },
            `${items.length} recording(s) listed: an open alarm or a consent covers this site; open the alarm from the queue.`,
          ),
        );
      } catch (e) {
        siteResult.replaceChildren(refusalBox("site-refusal", e));
      }
    })();
  });

  // the cameras of an alarm's window, listed once per alarm while its access is open (the
  // alarm itself names the panel only)
  const camerasOf = new Map<string, string>();
  const lookUpCameras = (a: Alarm): void => {
    if (camerasOf.has(a.alarm_id) || !a.access_open) return;
    camerasOf.set(a.alarm_id, "…");
    void op.storage
      .recordings(a.site_id)
      .then((items) => {
        const cams = [...new Set(items.map((i) => i.camera_id))].sort();
        camerasOf.set(a.alarm_id, cams.join(", ") || "-");
      })
      .catch((e: unknown) => camerasOf.set(a.alarm_id, e instanceof ApiRefusal ? e.code : "?"))
      .finally(() => {
        last = "";
        void refresh();
      });
  };
  const render = (alarms: Alarm[]): void => {
    for (const a of alarms) lookUpCameras(a);
    const key = JSON.stringify(alarms.map((a) => [a.alarm_id, a.state, a.access_open, camerasOf.get(a.alarm_id)]));
    if (key === last) return;
    last = key;
    const head = h(
      "tr",
      {},
      ...["Alarm", "Site", "Cameras", "Type", "Triggered", "State", "Access until", "Access open", "Actions"].map((t) =>
        h("th", { scope: "col" }, t),
      ),
    );
    const rows = alarms.map((a) => {
      const open = h("button", { type: "button", class: "open-alarm", "data-alarm": a.alarm_id }, "Open");
      open.setAttribute("aria-label", `Open alarm ${a.alarm_id}`);
      open.addEventListener("click", () => openAlarm(a.alarm_id));
      const ack = h("button", { type: "button", class: "ack-alarm secondary", "data-alarm": a.alarm_id }, "Ack");
      ack.setAttribute("aria-label", `Ack alarm ${a.alarm_id}`);
      ack.disabled = a.state !== "open";
      ack.addEventListener("click", () => {
        ack.disabled = true;
        void op.storage
          .ack(a.alarm_id)
          .then(() => refresh())
          .catch((e: unknown) => setState(queueState, "error", errText(e)));
      });
      return h(
        "tr",
        { "data-alarm": a.alarm_id, "data-state": a.state },
        h("td", { class: "mono" }, a.alarm_id),
        h("td", { class: "mono" }, a.site_id),
        h("td", { class: "alarm-cameras" }, camerasOf.get(a.alarm_id) ?? "-"),
        h("td", {}, a.alarm_type),
        h("td", {}, fmtTime(a.triggered_at_ms)),
        h("td", { class: "alarm-state" }, a.state),
        h("td", {}, fmtTime(a.access_until_ms)),
        h("td", { class: "access-open" }, a.access_open ? "yes" : "no"),
        h("td", {}, open, " ", ack),
      );
    });
    table.replaceChildren(
      h("caption", {}, `${alarms.length} alarm(s), open and acknowledged, newest first`),
      h("thead", {}, head),
      h("tbody", {}, ...rows),
    );
    if (alarms.length === 0) setState(queueState, "empty", "No alarm in the queue.");
    else setState(queueState, "done", `${alarms.length} alarm(s); refreshed every ${POLL_MS / 1000} s`);
  };

  const refresh = async (): Promise<void> => {
    try {
      render(await op.storage.alarmQueue());
    } catch (e) {
      last = "";
      setState(queueState, "error", errText(e));
    }
  };
  setState(queueState, "loading", "Loading the alarm queue…");
  void refresh();
  const timer = setInterval(() => {
    if (!stopped) void refresh();
  }, POLL_MS);

  const openAlarm = (alarmId: string): void => {
    closeView?.();
    closeView = alarmView(view, op, alarmId, refresh);
    view.scrollIntoView?.();
  };

  root.replaceChildren(
    h(
      "section",
      { "aria-labelledby": "queue-title" },
      h("h3", { id: "queue-title" }, "Alarm queue"),
      queueState,
      table,
    ),
    view,
    h(
      "section",
      { "aria-labelledby": "site-title" },
      h("h3", { id: "site-title" }, "Open a site without an alarm"),
      siteForm,
    ),
  );
  return () => {
    stopped = true;
    clearInterval(timer);
    closeView?.();
  };
}

interface LiveRow {
  recording: string;
  committedMs: number;
  releasedMs: number;
  decryptedMs: number;
  shownMs: number | null;
}

/** One alarm opened; returns its dispose function. */
function alarmView(view: HTMLElement, op: Operator, alarmId: string, refreshQueue: () => Promise<void>): () => void {
  const abort = new AbortController();
  const preVideos = h("div", { class: "videos", id: "pre-videos" });
  const liveVideos = h("div", { class: "videos", id: "live-videos" });
  const pre = new Videos(preVideos, "pre", "Pre-alarm");
  const live = new Videos(liveVideos, "live", "Live", true);
  const info = h("dl", { id: "alarm-info", class: "facts" });
  const preState = stateLine("pre-state");
  const preCustodians = h("div", { id: "pre-custodians" });
  const preList = h("ul", { id: "pre-list", class: "items", "aria-label": "pre-alarm recordings" });
  const feedState = stateLine("feed-state");
  const latencyFirst = h("p", { id: "latency-first", class: "latency" }, "First live frame: waiting…");
  const liveRows = h("tbody", {});
  const liveTable = h(
    "table",
    { id: "live-table" },
    h("caption", {}, "Live segments: committed at the storage service -> first frame playing here"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Recording", "Committed", "Released", "Decrypted", "Playing", "Committed -> playing"].map((t) =>
          h("th", { scope: "col" }, t),
        ),
      ),
    ),
    liveRows,
  );
  const liveList = h("ul", { id: "live-list", class: "items", "aria-label": "live recordings" });
  const again = h("button", { type: "button", id: "release-again" }, "Request a new release");
  const ask = h(
    "button",
    { type: "button", id: "ask-custodians", class: "secondary" },
    "Ask the custodians again with the headers held",
  );
  ask.disabled = true;
  const againResult = h("div", { id: "again-result", "aria-live": "polite" });
  const ackBtn = h("button", { type: "button", id: "alarm-ack", class: "secondary" }, "Acknowledge");
  const closeBtn = h("button", { type: "button", id: "alarm-close", class: "secondary" }, "Close the alarm");
  const closeResult = h("div", { id: "close-result", "aria-live": "polite" });
  const held: ReleaseRecording[] = [];
  let alarm: Alarm | undefined;
  let firstLiveShown: number | null = null;

  view.replaceChildren(
    h("h3", { id: "alarm-view-title" }, `Alarm ${alarmId}`),
    info,
    h("div", { class: "actions" }, ackBtn, closeBtn),
    closeResult,
    h("h4", {}, "Pre-alarm recordings"),
    preState,
    preCustodians,
    preVideos,
    preList,
    h("h4", {}, "Live view"),
    feedState,
    latencyFirst,
    liveVideos,
    liveTable,
    liveList,
    h("h4", {}, "Later releases"),
    h(
      "p",
      { class: "hint" },
      "Each release is a new request to the storage service and the custodians; after the access period both refuse.",
    ),
    h("div", { class: "actions" }, again, " ", ask),
    againResult,
  );

  const showInfo = (a: Alarm): void => {
    const row = (k: string, v: string, id: string): HTMLElement[] => [h("dt", {}, k), h("dd", { id }, v)];
    info.replaceChildren(
      ...row("Site", a.site_id, "alarm-site"),
      ...row("Panel", a.panel_id, "alarm-panel"),
      ...row("Type", a.alarm_type, "alarm-type"),
      ...row("Triggered", fmtTime(a.triggered_at_ms), "alarm-trigger"),
      ...row("State", a.state, "alarm-state"),
      ...row("Access until", `${fmtTime(a.access_until_ms)} (${a.access_open ? "open" : "closed"})`, "alarm-access"),
      ...row("Cameras", cameras.size ? [...cameras].sort().join(", ") : "-", "alarm-cameras"),
      ...row("Detections", detections.size ? detectionText() : "none decrypted", "alarm-detections"),
    );
    ackBtn.disabled = a.state !== "open";
    closeBtn.disabled = a.state !== "acknowledged";
    info.querySelector("#alarm-trigger")?.setAttribute("data-ms", String(a.triggered_at_ms));
  };
  const cameras = new Set<string>();
  // detections of the decrypted event records: per label and camera, how many and the highest confidence
  const detections = new Map<string, { n: number; max: number | null }>();
  const noteLabels = (r: Released): void => {
    const labels = eventLabels(r.item.kind, r.plain);
    if (labels.length === 0) return;
    for (const l of labels) {
      const [label, conf] = l.split(" ");
      const key = `${label ?? l} on ${r.item.camera_id}`;
      const d = detections.get(key) ?? { n: 0, max: null };
      const c = conf === undefined ? null : Number(conf);
      detections.set(key, { n: d.n + 1, max: c === null ? d.max : Math.max(d.max ?? 0, c) });
    }
    if (alarm) showInfo(alarm);
  };
  const detectionText = (): string =>
    [...detections.entries()]
      .sort()
      .map(([k, d]) => `${k} (${d.n} event record(s)${d.max === null ? "" : `, confidence up to ${d.max}`})`)
      .join("; ");

  ackBtn.addEventListener("click", () => {
    ackBtn.disabled = true;
    void op.storage
      .ack(alarmId)
      .then((a) => {
        alarm = a;
        showInfo(a);
        return refreshQueue();
      })
      .catch((e: unknown) => againResult.replaceChildren(refusalBox("ack-refusal", e)));
  });

  closeBtn.addEventListener("click", () => {
    closeBtn.disabled = true;
    closeResult.replaceChildren(h("p", { class: "state", "data-state": "loading", role: "status" }, "Closing…"));
    void closeAlarm(op, alarmId)
      .then(({ alarm: a, custodians }) => {
        alarm = a;
        showInfo(a);
        closeResult.replaceChildren(
          h(
            "p",
            { class: "state", "data-state": "done", role: "status" },
            `Alarm ${a.state} at the storage service; custodians:`,
          ),
          h(
            "ul",
            { id: "close-custodians", "aria-label": "custodians' acknowledgements of the close" },
            ...custodians.map((c) =>
              h(
                "li",
                { "data-custodian": c.custodian, "data-status": c.status },
                `custodian ${c.custodian}: ${c.status}`,
              ),
            ),
          ),
        );
        return refreshQueue();
      })
      .catch((e: unknown) => {
        closeResult.replaceChildren(refusalBox("close-refusal", e));
        closeBtn.disabled = false;
      });
  });

  const liveRow = (r: LiveRow): void => {
    const cell = (ms: number | null, id?: string): HTMLElement =>
      h(
        "td",
        id ? { id } : {},
        ms === null ? "…" : fmtTime(ms).slice(11, 19) + `.${String(ms % 1000).padStart(3, "0")}`,
      );
    const lat = h("td", { class: "latency-ms" }, r.shownMs === null ? "…" : `${r.shownMs - r.committedMs} ms`);
    const tr = h(
      "tr",
      { "data-recording": r.recording },
      h("td", { class: "mono" }, r.recording),
      cell(r.committedMs),
      cell(r.releasedMs),
      cell(r.decryptedMs),
      cell(r.shownMs),
      lat,
    );
    if (r.shownMs !== null) tr.dataset["latencyMs"] = String(r.shownMs - r.committedMs);
    const old = liveRows.querySelector(`tr[data-recording="${CSS.escape(r.recording)}"]`);
    if (old) old.replaceWith(tr);
    else liveRows.append(tr);
  };

  const followFeed = async (a: Alarm, preIds: Set<string>): Promise<void> => {
    const seen = new Set<string>(preIds);
    const trigger = a.triggered_at_ms;
    let skipped = 0;
    setState(feedState, "loading", "Following the live feed…");
    feedState.dataset["feed"] = "following";
    let ended = "";
    for (let attempt = 0; attempt < 5 && !ended && !abort.signal.aborted; attempt++) {
      try {
        for await (const ev of op.storage.feed(alarmId, abort.signal)) {
          if (ev.event === "end") {
            ended = String(ev.data["reason"] ?? "end");
            break;
          }
          if (ev.event !== "recording") continue;
          const item = ev.data as unknown as ArcRecording;
          const key = `${item.camera_id}/${item.recording_id}`;
          if (seen.has(key)) continue;
          seen.add(key);
          if (isPreAlarm(item, trigger)) {
            skipped += 1;
            continue;
          }
          cameras.add(item.camera_id);
          try {
            const res = await releaseBatch(op, a.site_id, [item], "alarm-verification", a.event, (r) => {
              liveList.append(itemLine(r, item.committed_ms < openedMs ? " [backlog]" : ""));
              noteLabels(r);
              if (!r.plain || !VIDEO_KINDS.has(item.kind)) return; // stills and event records are listed only
              const row: LiveRow = {
                recording: item.recording_id,
                committedMs: item.committed_ms,
                releasedMs: 0,
                decryptedMs: r.decryptedMs,
                shownMs: null,
              };
              void live
                .of(item.camera_id)
                .append(r.plain, item.start_ms, item.end_ms, (shown) => {
                  row.shownMs = shown;
                  liveRow(row);
                  if (firstLiveShown === null) {
                    firstLiveShown = shown;
                    const ms = shown - trigger;
                    latencyFirst.dataset["ms"] = String(ms);
                    latencyFirst.textContent = `First live frame shown ${ms} ms after the alarm was triggered (${fmtTime(trigger)}).`;
                  }
                })
                .catch(() => undefined);
              pendingRows.push(row);
            });
            for (const row of pendingRows.splice(0)) {
              row.releasedMs = res.releasedMs;
              liveRow(row);
            }
            held.push(...res.held);
            ask.disabled = held.length === 0;
          } catch (e) {
            // a segment announced just before the access period closed is refused once it has
            // closed: that ends the feed (live.py live)
            const now = await op.storage.alarm(alarmId).catch(() => undefined);
            if (now && !now.access_open) {
              ended = "access_period_over";
              liveList.append(h("li", { "data-state": "refused" }, `${key}: refused after the access period`));
              break;
            }
            liveList.append(
              h(
                "li",
                { "data-state": "refused" },
                `${key}: `,
                refusalBox(`live-refusal-${liveList.children.length}`, e),
              ),
            );
          }
        }
      } catch (e) {
        if (abort.signal.aborted) return;
        if (e instanceof ApiRefusal) {
          ended = `${e.code}`;
          setState(feedState, "error", `The feed was refused: ${e.code} (${e.detail})`);
          feedState.dataset["feed"] = "ended";
          feedState.dataset["reason"] = e.code;
          return;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    if (abort.signal.aborted) return;
    setState(
      feedState,
      "done",
      `The live feed ended: ${ended || "connection lost"}${skipped ? ` (${skipped} pre-alarm recording(s) left to the pre-alarm release)` : ""}.`,
    );
    feedState.dataset["feed"] = "ended";
    feedState.dataset["reason"] = ended || "connection_lost";
    for (const v of live.all()) v.end();
    void op.storage.alarm(alarmId).then((x) => {
      alarm = x;
      showInfo(x);
    });
  };
  const pendingRows: LiveRow[] = [];
  const openedMs = Date.now();

  const releasePre = async (a: Alarm, items: ArcRecording[]): Promise<void> => {
    if (items.length === 0) {
      setState(preState, "empty", "No pre-alarm recording in the alarm window.");
      return;
    }
    setState(preState, "loading", `Asking the custodians for ${items.length} pre-alarm recording(s)…`);
    try {
      const res = await releaseAndPlay(op, a.site_id, items, "alarm-verification", a.event, {
        list: preList,
        videos: pre,
      });
      res.items.forEach(noteLabels);
      held.push(...res.held);
      ask.disabled = held.length === 0;
      preCustodians.replaceChildren(batchOutcomes("pre-outcomes", res));
      const n = res.items.filter((i) => i.plain).length;
      setState(preState, "done", `${n} of ${res.items.length} pre-alarm recording(s) released and decrypted.`);
    } catch (e) {
      setState(preState, "error", "The pre-alarm release was refused.");
      preCustodians.replaceChildren(refusalBox("pre-refusal", e));
    }
  };

  again.addEventListener("click", () => {
    again.disabled = true;
    againResult.replaceChildren(h("p", { class: "state", "data-state": "loading", role: "status" }, "Requesting…"));
    void (async () => {
      try {
        const a = await op.storage.alarm(alarmId);
        alarm = a;
        showInfo(a);
        const items = (await op.storage.recordings(a.site_id)).filter(
          (i) => i.status === "committed" && i.start_ms < a.triggered_at_ms,
        );
        const list = h("ul", { class: "items", id: "again-list" });
        const res = await releaseBatch(op, a.site_id, items, "alarm-verification", a.event, (r) =>
          list.append(itemLine(r)),
        );
        againResult.replaceChildren(
          h(
            "p",
            { class: "state", "data-state": "done", role: "status" },
            `${res.items.filter((i) => i.plain).length} recording(s) released again.`,
          ),
          batchOutcomes("again-outcomes", res),
          list,
        );
      } catch (e) {
        againResult.replaceChildren(refusalBox("again-refusal", e));
      } finally {
        again.disabled = false;
      }
    })();
  });

  ask.addEventListener("click", () => {
    if (!alarm) return;
    ask.disabled = true;
    againResult.replaceChildren(
      h("p", { class: "state", "data-state": "loading", role: "status" }, "Asking the custodians…"),
    );
    const a = alarm;
    void (async () => {
      try {
        const outcomes = await askCustodians(op, held.slice(0, 8), "alarm-verification", a.event as Json);
        const codes = [...new Set(outcomes.map(reasonOf))];
        const box = h(
          "div",
          { id: "ask-result", class: codes.every((c) => c === "released") ? "released" : "refusal", role: "alert" },
          h(
            "p",
            {},
            `The custodians, asked directly with ${Math.min(held.length, 8)} header(s) already held (no storage service involved): ${codes.join(", ")}.`,
          ),
          outcomeList("ask-outcomes", outcomes),
        );
        box.dataset["reason"] = codes.join(",");
        againResult.replaceChildren(box);
      } catch (e) {
        againResult.replaceChildren(refusalBox("ask-refusal", e));
      } finally {
        ask.disabled = false;
      }
    })();
  });

  void (async () => {
    setState(preState, "loading", "Loading the alarm…");
    let a: Alarm;
    let items: ArcRecording[];
    try {
      a = await op.storage.alarm(alarmId);
      alarm = a;
      showInfo(a);
      items = (await op.storage.recordings(a.site_id)).filter((i) => i.status === "committed");
    } catch (e) {
      setState(preState, "error", "This alarm cannot be opened.");
      preCustodians.replaceChildren(refusalBox("open-refusal", e));
      setState(feedState, "empty", "No live feed.");
      return;
    }
    items.sort((x, y) => x.camera_id.localeCompare(y.camera_id) || x.start_ms - y.start_ms);
    for (const i of items) cameras.add(i.camera_id);
    showInfo(a);
    const preItems = items.filter((i) => i.start_ms < a.triggered_at_ms);
    const preIds = new Set(preItems.map((i) => `${i.camera_id}/${i.recording_id}`));
    await Promise.all([releasePre(a, preItems), followFeed(a, preIds)]);
  })().catch((e: unknown) => {
    setState(preState, "error", errText(e));
  });

  return () => {
    abort.abort();
    pre.dispose();
    live.dispose();
  };
}
