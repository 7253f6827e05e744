// One camera's video in the console: decrypted MPEG-TS segments appended through the shared
// SegmentPlayer (../player), and the moment each segment's first frame is shown (what the
// live latency figures measure: committed -> playing).

import { h } from "../portal/dom";
import { PlayerError, SegmentPlayer, type PlacedSegment } from "../player/index";

interface Waiter {
  mediaStart: number;
  shown: (wallMs: number) => void;
}

type FrameVideo = HTMLVideoElement & {
  requestVideoFrameCallback?: (cb: (now: number, meta: { mediaTime: number }) => void) => number;
};

export class CameraVideo {
  readonly element: HTMLElement;
  readonly video: FrameVideo;
  readonly player: SegmentPlayer;
  readonly errors: string[] = [];
  #waiters: Waiter[] = [];
  #started = false;
  readonly #status: HTMLElement;

  constructor(
    id: string,
    label: string,
    readonly liveEdge = false,
  ) {
    this.video = h("video", {
      id,
      muted: true,
      playsinline: true,
      controls: true,
      "aria-label": label,
    }) as FrameVideo;
    this.video.muted = true;
    this.#status = h("p", { class: "video-status", id: `${id}-status`, role: "status" }, "waiting for video…");
    this.element = h("figure", { class: "camera-video" }, this.video, h("figcaption", {}, label), this.#status);
    this.player = new SegmentPlayer(this.video, {
      onError: (e: PlayerError) => {
        this.errors.push(`${e.code}: ${e.message}`);
        this.#status.textContent = `video error: ${e.code} (${e.message})`;
        this.#status.dataset["state"] = "error";
      },
    });
    const check = (mediaTime: number): void => {
      const due = this.#waiters.filter((w) => mediaTime >= w.mediaStart - 0.05);
      if (due.length === 0) return;
      this.#waiters = this.#waiters.filter((w) => !due.includes(w));
      const now = Date.now();
      for (const w of due) w.shown(now);
    };
    const frame = (_now: number, meta: { mediaTime: number }): void => {
      check(meta.mediaTime);
      this.video.requestVideoFrameCallback?.(frame);
    };
    this.video.requestVideoFrameCallback?.(frame);
    this.video.addEventListener("timeupdate", () => check(this.video.currentTime));
  }

  /** Append a decrypted segment; `shown` gets the wall-clock time its first frame is on screen. */
  async append(
    ts: Uint8Array,
    startMs: number,
    endMs: number,
    shown?: (wallMs: number) => void,
  ): Promise<PlacedSegment> {
    const placed = await this.player.append(ts, { startMs, endMs });
    if (shown) this.#waiters.push({ mediaStart: placed.mediaStart, shown });
    // a live view stays near the live edge: jump to the new segment when the playhead is
    // more than 2.5 s behind it (a backlog caught up, a stall)
    if (this.liveEdge && this.#started && placed.mediaStart - this.video.currentTime > 2.5)
      this.video.currentTime = placed.mediaStart;
    if (!this.#started) {
      this.#started = true;
      this.video.play().catch(() => undefined);
    } else if (this.video.paused && !this.video.ended) this.video.play().catch(() => undefined);
    this.#status.textContent = `${this.player.timeline.segments.length} segment(s) buffered`;
    this.#status.dataset["state"] = "done";
    return placed;
  }

  end(): void {
    this.player.endOfStream();
  }

  dispose(): void {
    this.player.dispose();
  }
}
