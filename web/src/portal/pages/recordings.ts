// The Recordings page: the site, its cameras, and per camera a timeline of its recordings
// (listing checked against the camera's signed chain; detection labels from its event
// records, decrypted here), each recording verified exactly as the customer CLI verifies it
// before it is played or exported (../recordings/verify.ts), playback of one recording or a
// range of consecutive ones in a <video> (../../player/), and exports: the standard age file
// (the stored bytes, opens with `age -d`) and the decrypted video of the range as one MP4.
// Keys and plaintext stay in this page: downloads are Blob URLs.

import type { Device } from "../api";
import { fmtDuration, fmtSize, fmtTime, h } from "../dom";
import { errorText, loadInto, setState, stateLine } from "./state";
import type { Page, PageView, PortalContext } from "./types";
import { SegmentPlayer, remuxToFile, type PlayerError } from "../../player/index";
import {
  VIDEO_KINDS,
  eventLabels,
  exportAgeFile,
  fetchVerified,
  readCamera,
  saveFile,
  type Label,
  type Listed,
} from "../recordings/data";
import { RecordingRefused, type VerifiedRecording } from "../recordings/verify";
import { Timeline, type Block } from "../recordings/timeline";

export const recordingsPage: Page = {
  id: "recordings",
  title: "Recordings",
  render(ctx: PortalContext): PageView {
    const view = new RecordingsView(ctx);
    return { element: view.element, dispose: () => view.dispose() };
  },
};

/** `#/recordings?window=N`: how many recordings the timeline draws at once (default 240). */
export function windowOption(hash: string): number {
  const n = Number(new URLSearchParams(hash.split("?")[1] ?? "").get("window"));
  return Number.isInteger(n) && n >= 1 && n <= 2000 ? n : 240;
}

/** Why a verification failed, as a short code for the UI. */
function reasonOf(e: unknown): string {
  if (e instanceof RecordingRefused) return e.reason;
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : "error";
}

class RecordingsView {
  readonly element: HTMLElement;
  readonly #ctx: PortalContext;
  readonly #siteState = stateLine("site-state");
  readonly #sites = h("ul", { id: "sites", "aria-label": "sites" });
  readonly #camState = stateLine("camera-state");
  readonly #cameras = h("ul", { id: "cameras", "aria-label": "cameras" });
  readonly #recTitle = h("h3", { id: "recordings-title" }, "Recordings");
  readonly #recState = stateLine("recording-state");
  readonly #chainState = stateLine("chain-state");
  readonly #recordings = h("div", {
    id: "recordings",
    tabindex: "0",
    role: "region",
    "aria-labelledby": "recordings-title",
  });
  readonly #selection = h("p", { id: "selection", "aria-live": "polite" });
  readonly #play = h("button", { type: "button", id: "play", disabled: true }, "Play selection");
  readonly #verifyAll = h(
    "button",
    { type: "button", id: "verify-all", class: "secondary", disabled: true },
    "Verify all",
  );
  readonly #exportAge = h(
    "button",
    { type: "button", id: "export-age", class: "secondary", disabled: true },
    "Export age file(s)",
  );
  readonly #exportVideo = h(
    "button",
    { type: "button", id: "export-video", class: "secondary", disabled: true },
    "Export video (MP4)",
  );
  readonly #progress = h("progress", {
    id: "export-progress",
    max: "1",
    value: "0",
    "aria-labelledby": "export-progress-label",
  });
  readonly #progressLabel = h("span", { id: "export-progress-label" }, "Export progress");
  readonly #actionState = stateLine("action-state");
  readonly #playerState = stateLine("player-state");
  readonly #clock = h("p", { id: "player-clock", "aria-live": "off" });
  readonly #video = h("video", { id: "player", controls: true, playsinline: true, "aria-label": "recording player" });
  #timeline: Timeline | null = null;
  #blocks: Block[] = [];
  #events: Listed[] = [];
  #problems = new Map<string, string>(); // event recording id -> why its labels are not shown
  #verified = new Map<string, Promise<VerifiedRecording>>();
  #player: SegmentPlayer | null = null;
  #playing: Block[] = [];
  #camera: Device | null = null;
  #generation = 0;
  #busy = false;

  constructor(ctx: PortalContext) {
    this.#ctx = ctx;
    const controls = h(
      "div",
      { class: "recording-controls", role: "group", "aria-label": "selected recordings" },
      this.#play,
      this.#verifyAll,
      this.#exportAge,
      this.#exportVideo,
    );
    this.#playerSection = h(
      "section",
      { "aria-labelledby": "player-title", id: "player-section", hidden: true },
      h("h3", { id: "player-title" }, "Timeline and player"),
      this.#chainState,
      h(
        "p",
        { class: "hint" },
        "Arrow keys move between recordings, Shift+arrow or Shift+click selects a range, Enter plays.",
      ),
      h("div", { id: "timeline-slot" }),
      this.#selection,
      controls,
      h("div", { class: "export-progress" }, this.#progressLabel, " ", this.#progress),
      this.#actionState,
      this.#video,
      this.#clock,
      this.#playerState,
    );
    this.element = h(
      "div",
      {},
      h(
        "section",
        { "aria-labelledby": "sites-title" },
        h("h3", { id: "sites-title" }, "Sites"),
        this.#siteState,
        this.#sites,
      ),
      h(
        "section",
        { "aria-labelledby": "cameras-title" },
        h("h3", { id: "cameras-title" }, "Cameras"),
        this.#camState,
        this.#cameras,
      ),
      this.#playerSection,
      h("section", { "aria-labelledby": "recordings-title" }, this.#recTitle, this.#recState, this.#recordings),
    );
    this.#play.addEventListener("click", () => void this.#playSelection());
    this.#verifyAll.addEventListener("click", () => void this.#verifyEverything());
    this.#exportAge.addEventListener("click", () => void this.#exportAges());
    this.#exportVideo.addEventListener("click", () => void this.#exportVideoFile());
    this.#video.addEventListener("timeupdate", () => this.#showClock());
    setState(this.#recState, "empty", "Choose a camera to see its timeline and recordings.");
    void this.#load();
  }

  readonly #playerSection: HTMLElement;

  dispose(): void {
    this.#generation++;
    this.#player?.dispose();
    this.#player = null;
    this.#timeline?.dispose();
    this.#dropPlaintext();
  }

  #dropPlaintext(): void {
    for (const p of this.#verified.values()) {
      p.then((v) => v.plaintext.fill(0)).catch(() => undefined);
    }
    this.#verified.clear();
  }

  async #load(): Promise<void> {
    const ctx = this.#ctx;
    const site = await loadInto(this.#siteState, "the site", () => ctx.api.site());
    if (site === undefined) return;
    this.#sites.replaceChildren(
      h(
        "li",
        { "data-site-id": site.site_id },
        h("strong", {}, site.site_id),
        ` · keys version ${site.keys_version} · ` +
          (site.retention_days === null ? "kept until deleted" : `kept ${site.retention_days} days`),
      ),
    );
    const cams = await loadInto(this.#camState, "cameras", () => ctx.api.cameras());
    if (cams === undefined) return;
    if (cams.length === 0) {
      setState(this.#camState, "empty", "No cameras enrolled yet.");
      return;
    }
    this.#cameras.replaceChildren(
      ...cams.map((cam) => {
        const b = h(
          "button",
          { type: "button", "data-camera-id": cam.device_id },
          `${cam.device_id} (${cam.model}${cam.revoked ? ", revoked" : ""})`,
        );
        b.addEventListener("click", () => {
          this.#cameras.querySelectorAll("button").forEach((other) => other.removeAttribute("aria-pressed"));
          b.setAttribute("aria-pressed", "true");
          void this.#showCamera(cam);
        });
        return h("li", {}, b);
      }),
    );
  }

  async #showCamera(cam: Device): Promise<void> {
    const gen = ++this.#generation;
    this.#camera = cam;
    this.#player?.dispose();
    this.#player = null;
    this.#playing = [];
    this.#dropPlaintext();
    this.#problems.clear();
    this.#timeline?.dispose();
    this.#timeline = null;
    this.#recTitle.textContent = `Recordings of ${cam.device_id}`;
    this.#recordings.replaceChildren();
    this.#playerSection.hidden = true;
    this.#clock.textContent = "";
    setState(this.#playerState, "done", "");
    setState(this.#actionState, "done", "");
    const listing = await loadInto(this.#recState, "recordings", () => readCamera(this.#ctx, cam.device_id));
    if (listing === undefined || gen !== this.#generation) return;
    if (listing.problems.length > 0) {
      setState(
        this.#chainState,
        "error",
        `The listing of ${cam.device_id} contradicts its signed chain: ${listing.problems.join("; ")}`,
      );
    } else {
      setState(
        this.#chainState,
        "done",
        `Listing checked against the camera's signed chain: ${listing.items.length} recording(s)` +
          (listing.deleted > 0 ? `, ${listing.deleted} deleted` : "") +
          (listing.head === null
            ? "; no chain head from the camera yet."
            : `; the camera's signed chain head (${listing.head.sequence === null ? "before its first recording" : `sequence ${listing.head.sequence}`}, signed ${fmtTime(listing.head.issued_at_ms)}) matches it.`),
      );
      this.#chainState.dataset["chain"] = "ok";
    }
    if (listing.items.length === 0) {
      setState(this.#recState, "empty", "No recordings for this camera.");
      return;
    }
    this.#events = listing.items.filter((i) => i.kind === "event");
    this.#blocks = listing.items
      .filter((i) => i.kind !== "event")
      .map((item) => ({ item, labels: [], verdict: "unverified" }));
    const tl = new Timeline({
      cameraId: cam.device_id,
      windowSize: windowOption(location.hash),
      onSelect: (a, b) => this.#selected(a, b),
      onActivate: () => void this.#playSelection(),
    });
    this.#timeline = tl;
    this.#playerSection.hidden = false;
    this.#playerSection.querySelector("#timeline-slot")!.replaceChildren(tl.element);
    tl.setBlocks(this.#blocks);
    this.#renderTable(listing.items);
    this.#verifyAll.disabled = false;
    this.#selected(-1, -1);
    // labels: every event record decrypted (and verified) here, shown on its segment
    setState(this.#recState, "loading", `Reading ${this.#events.length} event record(s)…`);
    for (const ev of this.#events) {
      let labels: Label[] = [];
      let ref: string | null = null;
      try {
        const v = await fetchVerified(this.#ctx, ev);
        ({ labels, ref } = eventLabels(v.plaintext));
        v.plaintext.fill(0);
      } catch (e) {
        this.#problems.set(ev.recording_id, errorText(e));
      }
      if (gen !== this.#generation) return;
      const target = this.#blocks.find((b) => b.item.recording_id === ref);
      if (target !== undefined) target.labels = labels;
    }
    const bad = this.#problems.size;
    setState(
      this.#recState,
      bad > 0 ? "error" : "done",
      `${listing.items.length} recording(s) of ${cam.device_id}` +
        (bad > 0 ? `; ${bad} event record(s) refused: ${[...this.#problems.values()].join("; ")}` : "."),
    );
    tl.update();
    this.#renderTable(listing.items);
  }

  #renderTable(items: Listed[]): void {
    const head = ["Start", "Duration", "Size", "Kind", "Sequence", "Recording", "Labels", "Verdict"];
    const newest = [...items].reverse();
    const byId = new Map(this.#blocks.map((b) => [b.item.recording_id, b]));
    this.#recordings.replaceChildren(
      h(
        "table",
        { id: "recording-table" },
        h("caption", {}, `${items.length} recording(s) of ${this.#camera?.device_id ?? ""}, newest first`),
        h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          ...newest.map((r) => {
            const b = byId.get(r.recording_id);
            const problem = this.#problems.get(r.recording_id);
            const verdict =
              b === undefined
                ? problem !== undefined
                  ? `refused: ${problem}`
                  : r.kind === "event"
                    ? "verified (event record)"
                    : ""
                : b.verdict === "refused"
                  ? `refused: ${b.reason ?? "?"}`
                  : b.verdict;
            return h(
              "tr",
              { "data-recording-id": r.recording_id, "data-kind": r.kind },
              h("td", {}, fmtTime(r.start_ms)),
              h("td", {}, fmtDuration(r.end_ms - r.start_ms)),
              h("td", { "data-bytes": String(r.payload_size) }, fmtSize(r.payload_size)),
              h("td", {}, r.kind),
              h("td", {}, String(r.sequence)),
              h("td", { class: "mono" }, r.recording_id),
              h(
                "td",
                { "data-labels": (b?.labels ?? []).map((l) => l.label).join(",") },
                (b?.labels ?? []).map((l) => l.label).join(", "),
              ),
              h("td", { "data-verdict": b?.verdict ?? (problem !== undefined ? "refused" : "") }, verdict),
            );
          }),
        ),
      ),
    );
  }

  #selectedBlocks(): Block[] {
    const [a, b] = this.#timeline?.selection ?? [-1, -1];
    return a < 0 ? [] : this.#blocks.slice(a, b + 1);
  }

  #selected(first: number, last: number): void {
    const sel = first < 0 ? [] : this.#blocks.slice(first, last + 1);
    const none = sel.length === 0 || this.#busy;
    this.#play.disabled = none;
    this.#exportAge.disabled = none;
    this.#exportVideo.disabled = none;
    if (sel.length === 0) {
      this.#selection.textContent = "Nothing selected: choose a recording on the timeline.";
      return;
    }
    const s = sel[0]!.item;
    const e = sel[sel.length - 1]!.item;
    this.#selection.textContent =
      sel.length === 1
        ? `Selected: ${s.recording_id}, ${fmtTime(s.start_ms)}, ${fmtDuration(s.end_ms - s.start_ms)}`
        : `Selected: ${sel.length} recordings, ${fmtTime(s.start_ms)} to ${fmtTime(e.end_ms)}`;
    // a recording of the range playing now: jump there
    if (this.#player !== null && sel.length === 1 && this.#playing.includes(sel[0]!)) {
      this.#player.seekToWall(s.start_ms);
    }
  }

  #setBusy(busy: boolean): void {
    this.#busy = busy;
    const [a, b] = this.#timeline?.selection ?? [-1, -1];
    this.#selected(a, b);
    this.#verifyAll.disabled = busy;
  }

  /** Verify a block once (cached); its verdict follows. */
  #verify(b: Block): Promise<VerifiedRecording> {
    let p = this.#verified.get(b.item.recording_id);
    if (p === undefined) {
      b.verdict = "checking";
      this.#timeline?.update();
      p = fetchVerified(this.#ctx, b.item);
      this.#verified.set(b.item.recording_id, p);
      const gen = this.#generation;
      p.then(
        () => {
          b.verdict = "ok";
          delete b.reason;
        },
        (e: unknown) => {
          b.verdict = "refused";
          b.reason = reasonOf(e);
        },
      ).finally(() => {
        if (gen !== this.#generation) return;
        this.#timeline?.update();
        this.#renderTable(
          [...this.#blocks.map((x) => x.item), ...this.#events].sort(
            (x, y) => x.start_ms - y.start_ms || x.sequence - y.sequence,
          ),
        );
      });
    }
    return p;
  }

  /** Verify every block of `blocks` (progress in the bar); the first refusal throws. */
  async #verifyBlocks(blocks: Block[], what: string): Promise<VerifiedRecording[]> {
    const out: VerifiedRecording[] = [];
    this.#progress.max = Math.max(1, blocks.length);
    this.#progress.value = 0;
    for (const [n, b] of blocks.entries()) {
      setState(
        this.#actionState,
        "loading",
        `${what}: verifying ${n + 1} of ${blocks.length} (${b.item.recording_id})…`,
      );
      try {
        out.push(await this.#verify(b));
      } catch (e) {
        throw new BlockRefused(b, e);
      }
      this.#progress.value = n + 1;
    }
    return out;
  }

  async #verifyEverything(): Promise<void> {
    setState(this.#actionState, "loading", "Verifying…");
    this.#setBusy(true);
    let refused = 0;
    this.#progress.max = Math.max(1, this.#blocks.length);
    for (const [n, b] of this.#blocks.entries()) {
      setState(this.#actionState, "loading", `Verifying ${n + 1} of ${this.#blocks.length}…`);
      try {
        // the verdict stays; the plaintext is not kept (a whole camera would not fit)
        const v = await this.#verify(b);
        if (!this.#playing.includes(b)) {
          this.#verified.delete(b.item.recording_id);
          v.plaintext.fill(0);
        }
      } catch {
        refused++;
      }
      this.#progress.value = n + 1;
    }
    setState(
      this.#actionState,
      refused > 0 ? "error" : "done",
      refused > 0
        ? `${refused} of ${this.#blocks.length} recording(s) refused: ${this.#blocks
            .filter((b) => b.verdict === "refused")
            .map((b) => `${b.item.recording_id} (${b.reason})`)
            .join(", ")}`
        : `All ${this.#blocks.length} recording(s) verified.`,
    );
    this.#setBusy(false);
  }

  async #playSelection(): Promise<void> {
    if (this.#busy) return;
    const sel = this.#selectedBlocks().filter((b) => VIDEO_KINDS.has(b.item.kind));
    if (sel.length === 0) {
      setState(this.#playerState, "error", "Nothing to play: the selection has no video recording.");
      return;
    }
    this.#player?.dispose();
    this.#player = null;
    this.#playing = [];
    this.#clock.textContent = "";
    delete this.#playerState.dataset["playing"];
    delete this.#playerState.dataset["reason"];
    setState(this.#playerState, "loading", `Verifying ${sel.length} recording(s) before playing…`);
    this.#setBusy(true);
    const gen = this.#generation;
    try {
      let verified: VerifiedRecording[];
      try {
        verified = await this.#verifyBlocks(sel, "Play");
      } catch (e) {
        const r = e as BlockRefused;
        setState(
          this.#playerState,
          "error",
          `Refused to play ${r.block.item.recording_id}: ${reasonOf(r.why)}. ${errorText(r.why)}`,
        );
        this.#playerState.dataset["reason"] = reasonOf(r.why);
        setState(this.#actionState, "done", "");
        return;
      }
      if (gen !== this.#generation) return;
      delete this.#playerState.dataset["reason"];
      setState(this.#actionState, "done", "");
      setState(this.#playerState, "loading", `Loading ${sel.length} recording(s) into the player…`);
      const player = new SegmentPlayer(this.#video, {
        onError: (err: PlayerError) => setState(this.#playerState, "error", `Player: ${err.message}`),
      });
      this.#player = player;
      this.#playing = sel;
      for (const [n, v] of verified.entries()) {
        await player.append(v.plaintext, { startMs: sel[n]!.item.start_ms, endMs: sel[n]!.item.end_ms });
      }
      player.endOfStream();
      if (gen !== this.#generation) return;
      const s = sel[0]!.item;
      const e = sel[sel.length - 1]!.item;
      setState(
        this.#playerState,
        "done",
        `Playing ${sel.length} verified recording(s), ${fmtTime(s.start_ms)} to ${fmtTime(e.end_ms)}.`,
      );
      this.#playerState.dataset["playing"] = sel.map((b) => b.item.recording_id).join(",");
      await this.#video.play().catch((err: unknown) => {
        setState(this.#playerState, "error", `The browser did not start playback: ${(err as Error).message}`);
      });
    } catch (e) {
      setState(this.#playerState, "error", errorText(e));
    } finally {
      this.#setBusy(false);
    }
  }

  #showClock(): void {
    const wall = this.#player?.wallTime() ?? null;
    if (wall === null) return;
    const b = this.#playing.find((x) => wall >= x.item.start_ms && wall <= x.item.end_ms);
    this.#clock.textContent = `${fmtTime(wall)}${b !== undefined ? ` · ${b.item.recording_id}` : ""}`;
    if (b !== undefined) this.#clock.dataset["recordingId"] = b.item.recording_id;
  }

  async #exportAges(): Promise<void> {
    const sel = this.#selectedBlocks();
    if (sel.length === 0) return;
    setState(this.#actionState, "loading", "Exporting…");
    this.#setBusy(true);
    try {
      for (const [n, b] of sel.entries()) {
        setState(this.#actionState, "loading", `Exporting ${b.item.recording_id}.age (${n + 1} of ${sel.length})…`);
        const file = await exportAgeFile(this.#ctx, b.item, (done, total) => {
          this.#progress.max = total * sel.length;
          this.#progress.value = n * total + done;
        });
        saveFile(file, `${b.item.recording_id}.age`, "application/octet-stream");
      }
      this.#progress.value = this.#progress.max;
      setState(
        this.#actionState,
        "done",
        `Exported ${sel.length} age file(s) (they open with age -d -i identity.txt).`,
      );
    } catch (e) {
      setState(this.#actionState, "error", `Export refused: ${errorText(e)}`);
    } finally {
      this.#setBusy(false);
    }
  }

  async #exportVideoFile(): Promise<void> {
    const sel = this.#selectedBlocks().filter((b) => VIDEO_KINDS.has(b.item.kind));
    if (sel.length === 0) {
      setState(this.#actionState, "error", "Nothing to export: the selection has no video recording.");
      return;
    }
    setState(this.#actionState, "loading", "Exporting…");
    this.#setBusy(true);
    try {
      const verified = await this.#verifyBlocks(sel, "Export video");
      setState(this.#actionState, "loading", "Joining the recordings into one MP4…");
      const { file, durationSec } = remuxToFile(verified.map((v) => v.plaintext));
      const name = `${sel[0]!.item.camera_id}-${new Date(sel[0]!.item.start_ms).toISOString().replace(/[:.]/g, "-")}.mp4`;
      saveFile(file, name, "video/mp4");
      setState(
        this.#actionState,
        "done",
        `Exported ${name}: ${sel.length} verified recording(s), ${durationSec.toFixed(1)} s of video.`,
      );
    } catch (e) {
      const msg =
        e instanceof BlockRefused
          ? `Refused to export ${e.block.item.recording_id}: ${reasonOf(e.why)}. ${errorText(e.why)}`
          : errorText(e);
      setState(this.#actionState, "error", msg);
    } finally {
      this.#setBusy(false);
    }
  }
}

class BlockRefused extends Error {
  constructor(
    readonly block: Block,
    readonly why: unknown,
  ) {
    super(errorText(why));
  }
}
