// A camera's timeline: a time axis, one block per recording (its width its duration, gaps
// left empty), the labels of its event record on top, its verdict as a colour and in its
// name. Blocks are real <button>s placed by SVG attributes (foreignObject): no inline style
// (the CSP has no 'unsafe-inline'). One of them is in the tab order (roving tabindex); the
// arrow keys move between them, Shift+arrow / Shift+click extends the selection to a range
// of consecutive recordings, Home / End go to the first / last. A camera has thousands of
// recordings a day: the timeline shows a window of `windowSize` of them (the newest first),
// "Earlier" / "Later" move it, and the keyboard moves it when focus leaves it.

import { fmtDuration, fmtTime } from "../dom";
import type { Label, Listed } from "./data";

const SVG = "http://www.w3.org/2000/svg";

export type Verdict = "unverified" | "checking" | "ok" | "refused";

export interface Block {
  item: Listed;
  labels: Label[];
  verdict: Verdict;
  reason?: string;
}

export interface TimelineOptions {
  cameraId: string;
  /** Blocks drawn at once (default 240). */
  windowSize?: number;
  /** The selection changed: indices into `blocks`, first <= last. */
  onSelect(first: number, last: number): void;
  /** Enter on a block, or a double click: play it / the selection. */
  onActivate(): void;
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

export function blockName(b: Block): string {
  const parts = [
    `${b.item.kind} ${fmtTime(b.item.start_ms)}`,
    `duration ${fmtDuration(b.item.end_ms - b.item.start_ms)}`,
    b.labels.length > 0 ? `labels ${b.labels.map((l) => l.label).join(", ")}` : "no labels",
    b.verdict === "refused" ? `refused: ${b.reason ?? "?"}` : b.verdict === "ok" ? "verified" : b.verdict,
  ];
  return parts.join(", ");
}

/** Evenly spaced tick times (ms) on a "nice" step for a span. */
export function ticks(t0: number, t1: number, maxTicks = 6): number[] {
  const span = Math.max(1, t1 - t0);
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map(
    (s) => s * 1000,
  );
  const step = steps.find((s) => span / s <= maxTicks) ?? steps[steps.length - 1]!;
  const out: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return out;
}

export class Timeline {
  readonly element: HTMLElement;
  #blocks: Block[] = [];
  #buttons: HTMLButtonElement[] = [];
  #first = -1;
  #last = -1;
  #anchor = -1;
  #focus = 0;
  #width = 0;
  #offset = 0;
  readonly #size: number;
  readonly #svgSlot: HTMLElement;
  readonly #earlier: HTMLButtonElement;
  readonly #later: HTMLButtonElement;
  readonly #shown: HTMLElement;
  readonly #opts: TimelineOptions;
  readonly #observer: ResizeObserver;

  constructor(opts: TimelineOptions) {
    this.#opts = opts;
    this.element = document.createElement("div");
    this.element.id = "timeline";
    this.element.className = "timeline";
    this.element.setAttribute("role", "group");
    this.element.setAttribute(
      "aria-label",
      `timeline of ${opts.cameraId}: arrow keys move, Shift extends, Enter plays`,
    );
    this.#size = Math.max(1, opts.windowSize ?? 240);
    const button = (id: string, text: string): HTMLButtonElement => {
      const b = document.createElement("button");
      b.type = "button";
      b.id = id;
      b.className = "secondary";
      b.textContent = text;
      return b;
    };
    this.#earlier = button("timeline-earlier", "Earlier");
    this.#later = button("timeline-later", "Later");
    this.#shown = document.createElement("span");
    this.#shown.id = "timeline-shown";
    this.#earlier.addEventListener("click", () => this.#move(this.#offset - this.#size));
    this.#later.addEventListener("click", () => this.#move(this.#offset + this.#size));
    const nav = document.createElement("div");
    nav.className = "timeline-nav";
    nav.append(this.#earlier, this.#shown, this.#later);
    this.#svgSlot = document.createElement("div");
    this.element.append(nav, this.#svgSlot);
    this.#observer = new ResizeObserver(() => {
      if (Math.abs(this.#svgSlot.clientWidth - this.#width) > 4) this.#render();
    });
    this.#observer.observe(this.#svgSlot);
  }

  get selection(): [number, number] {
    return [this.#first, this.#last];
  }

  setBlocks(blocks: Block[]): void {
    this.#blocks = blocks;
    this.#offset = Math.max(0, blocks.length - this.#size); // the newest recordings
    this.#focus = Math.max(this.#offset, Math.min(this.#focus, blocks.length - 1));
    this.#render();
  }

  /** Show the window starting at `offset` (clamped); focus stays inside it. */
  #move(offset: number): void {
    const max = Math.max(0, this.#blocks.length - this.#size);
    this.#offset = Math.max(0, Math.min(max, offset));
    const end = Math.min(this.#blocks.length, this.#offset + this.#size) - 1;
    this.#focus = Math.max(this.#offset, Math.min(end, this.#focus));
    this.#render();
  }

  /** Make block `i` visible (moving the window as little as needed). */
  #reveal(i: number): void {
    if (i < this.#offset) this.#offset = i;
    else if (i >= this.#offset + this.#size) this.#offset = i - this.#size + 1;
    else return;
    this.#render();
  }

  /** Refresh the verdicts / labels of the blocks (same recordings). */
  update(): void {
    this.#render();
  }

  select(first: number, last: number, focus = last): void {
    if (this.#blocks.length === 0) return;
    const clamp = (n: number): number => Math.max(0, Math.min(this.#blocks.length - 1, n));
    this.#first = clamp(Math.min(first, last));
    this.#last = clamp(Math.max(first, last));
    this.#focus = clamp(focus);
    this.#reveal(this.#focus);
    this.#buttons.forEach((b, j) => this.#decorate(b, this.#offset + j));
    this.#opts.onSelect(this.#first, this.#last);
  }

  dispose(): void {
    this.#observer.disconnect();
  }

  #decorate(b: HTMLButtonElement, i: number): void {
    const block = this.#blocks[i]!;
    b.setAttribute("aria-label", blockName(block));
    b.setAttribute("aria-pressed", String(i >= this.#first && i <= this.#last));
    b.tabIndex = i === this.#focus ? 0 : -1;
    b.dataset["verdict"] = block.verdict;
    b.dataset["labels"] = block.labels.map((l) => l.label).join(",");
    if (block.reason !== undefined) b.dataset["reason"] = block.reason;
    else delete b.dataset["reason"];
  }

  #render(): void {
    const hadFocus = this.#svgSlot.contains(document.activeElement);
    this.#width = Math.max(320, this.#svgSlot.clientWidth || 800);
    const W = this.#width;
    const H = 86;
    const all = this.#blocks;
    const blocks = all.slice(this.#offset, this.#offset + this.#size);
    const root = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "timeline-svg" });
    this.#buttons = [];
    this.#earlier.disabled = this.#offset === 0;
    this.#later.disabled = this.#offset + blocks.length >= all.length;
    this.#shown.textContent =
      all.length === 0 ? "" : `recordings ${this.#offset + 1} to ${this.#offset + blocks.length} of ${all.length}`;
    if (blocks.length === 0) {
      this.#svgSlot.replaceChildren(root);
      return;
    }
    const t0 = Math.min(...blocks.map((b) => b.item.start_ms));
    const t1 = Math.max(...blocks.map((b) => b.item.end_ms));
    const span = Math.max(1000, t1 - t0);
    const pad = 8;
    const x = (t: number): number => pad + ((t - t0) / span) * (W - 2 * pad);
    const axisY = 66;
    const axis = svg("g", { class: "timeline-axis", "aria-hidden": "true" });
    axis.append(svg("line", { x1: pad, x2: W - pad, y1: axisY, y2: axisY }));
    for (const t of ticks(t0, t1, Math.max(2, Math.floor(W / 110)))) {
      axis.append(svg("line", { x1: x(t), x2: x(t), y1: axisY, y2: axisY + 5 }));
      // labels near an edge are anchored inside the box, not cut
      const anchor = x(t) < 30 ? "start" : x(t) > W - 30 ? "end" : "middle";
      const text = svg("text", { x: x(t), y: axisY + 17, "text-anchor": anchor });
      text.textContent = clock(t);
      axis.append(text);
    }
    root.append(axis);
    // gaps between consecutive recordings, drawn so a hole in the record is seen
    const gaps = svg("g", { class: "timeline-gaps", "aria-hidden": "true" });
    let end = blocks[0]!.item.end_ms;
    for (const b of blocks.slice(1)) {
      if (b.item.start_ms - end > 1000) {
        gaps.append(svg("rect", { x: x(end), y: 40, width: Math.max(1, x(b.item.start_ms) - x(end)), height: 4 }));
      }
      end = Math.max(end, b.item.end_ms);
    }
    root.append(gaps);
    blocks.forEach((b, j) => {
      const i = this.#offset + j;
      const bx = x(b.item.start_ms);
      const bw = Math.max(6, x(b.item.end_ms) - bx - 1);
      const fo = svg("foreignObject", { x: bx, y: 22, width: bw, height: 36 });
      const button = document.createElement("button");
      button.type = "button";
      button.className = "timeline-block";
      button.dataset["recordingId"] = b.item.recording_id;
      button.dataset["index"] = String(i);
      button.dataset["kind"] = b.item.kind;
      this.#decorate(button, i);
      button.addEventListener("click", (e) => this.#click(i, e.shiftKey));
      button.addEventListener("dblclick", () => this.#opts.onActivate());
      button.addEventListener("keydown", (e) => this.#key(i, e));
      fo.append(button);
      root.append(fo);
      this.#buttons.push(button);
      if (b.labels.length > 0) {
        const t = svg("text", { x: bx, y: 16, class: "timeline-label", "aria-hidden": "true" });
        t.textContent = b.labels.map((l) => l.label).join(" ");
        root.append(t);
      }
    });
    this.#svgSlot.replaceChildren(root);
    if (hadFocus) this.#buttons[this.#focus - this.#offset]?.focus();
  }

  #click(i: number, extend: boolean): void {
    if (extend && this.#anchor >= 0) this.select(this.#anchor, i, i);
    else {
      this.#anchor = i;
      this.select(i, i);
    }
  }

  #key(i: number, e: KeyboardEvent): void {
    const n = this.#blocks.length;
    let to: number | null = null;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") to = Math.min(n - 1, i + 1);
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") to = Math.max(0, i - 1);
    else if (e.key === "Home") to = 0;
    else if (e.key === "End") to = n - 1;
    else if (e.key === "Enter") {
      e.preventDefault();
      if (!(i >= this.#first && i <= this.#last)) this.#click(i, false);
      this.#opts.onActivate();
      return;
    }
    if (to === null) return;
    e.preventDefault();
    if (e.shiftKey) {
      if (this.#anchor < 0) this.#anchor = i;
      this.select(this.#anchor, to, to);
    } else {
      this.#anchor = to;
      this.select(to, to);
    }
    this.#buttons[to - this.#offset]?.focus();
  }
}
