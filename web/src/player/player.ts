// SegmentPlayer: decrypted MPEG-TS segments (the camera agent's) into a <video> through
// Media Source Extensions, remuxed to fragmented MP4 in the browser (./remux.ts).
//
// - one SourceBuffer, created from the first segment's codecs (video, plus AAC when the
//   camera records sound); the init segment is appended once, and again only if it changes;
// - segments are laid end to end on the media timeline in append order (./timeline.ts), so a
//   range plays and seeks across recordings; `timeline` maps media time <-> wall clock;
// - appends are queued: callers may call append() without awaiting the previous one;
// - long live sessions: before each append, media older than `keepBehindSec` behind the
//   playhead is removed once more than `maxBufferedSec` is buffered; a QuotaExceededError
//   evicts harder and retries once, then fails with `quota_exceeded`;
// - errors are surfaced: append() rejects with a PlayerError (code + message), `onError`
//   and an "error" event get every failure, a media element error is fatal (`media_error`)
//   and makes every later append reject.

import { PlayerError, remuxSegment } from "./remux";
import { MediaTimeline, evictionRange, ranges, type PlacedSegment, type SegmentInfo } from "./timeline";
import "./player.css";

export interface SegmentPlayerOptions {
  /** Seconds kept behind the playhead when evicting (default 30). */
  keepBehindSec?: number;
  /** Buffered seconds above which old media is evicted (default 600). */
  maxBufferedSec?: number;
  /** Called with every error (also the ones append() rejects with). */
  onError?: (error: PlayerError) => void;
}

type MediaSourceLike = MediaSource;

function mediaSourceClass(): typeof MediaSource | null {
  const w = globalThis as unknown as { ManagedMediaSource?: typeof MediaSource; MediaSource?: typeof MediaSource };
  return w.MediaSource ?? w.ManagedMediaSource ?? null;
}

/** Whether this browser can play camera segments (MSE with fMP4 H.264). */
export function canPlaySegments(): boolean {
  const MS = mediaSourceClass();
  return MS !== null && MS.isTypeSupported('video/mp4; codecs="avc1.42E01E"');
}

export class SegmentPlayer extends EventTarget {
  readonly timeline = new MediaTimeline();
  readonly ready: Promise<void>;
  readonly #video: HTMLVideoElement;
  readonly #ms: MediaSourceLike;
  readonly #url: string;
  readonly #keepBehind: number;
  readonly #maxBuffered: number;
  readonly #onError: ((e: PlayerError) => void) | undefined;
  #sb: SourceBuffer | null = null;
  #mime = "";
  #init: Uint8Array | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #fatal: PlayerError | null = null;
  #disposed = false;
  #sequence = 0;
  #ended = false;
  readonly #onMediaError = (): void => {
    const err = this.#video.error;
    this.#fail(
      new PlayerError(
        "media_error",
        `the browser could not decode the video (${err?.code ?? "?"}: ${err?.message || "no detail"})`,
      ),
      true,
    );
  };

  constructor(video: HTMLVideoElement, opts: SegmentPlayerOptions = {}) {
    super();
    this.#video = video;
    this.#keepBehind = opts.keepBehindSec ?? 30;
    this.#maxBuffered = opts.maxBufferedSec ?? 600;
    this.#onError = opts.onError;
    const MS = mediaSourceClass();
    if (MS === null) {
      const e = new PlayerError("unsupported", "this browser has no Media Source Extensions");
      this.#fatal = e;
      this.#ms = null as unknown as MediaSource;
      this.#url = "";
      this.ready = Promise.reject(e);
      this.ready.catch(() => undefined);
      return;
    }
    this.#ms = new MS();
    this.#url = URL.createObjectURL(this.#ms);
    video.classList.add("segment-player");
    (video as HTMLVideoElement & { disableRemotePlayback: boolean }).disableRemotePlayback = true; // ManagedMediaSource needs it
    video.addEventListener("error", this.#onMediaError);
    this.ready = new Promise<void>((resolve, reject) => {
      this.#ms.addEventListener("sourceopen", () => resolve(), { once: true });
      setTimeout(() => reject(new PlayerError("media_error", "the media source did not open in 10 s")), 10_000);
    });
    this.ready.catch((e: unknown) => this.#fail(e as PlayerError, true));
    video.src = this.#url;
  }

  /** The first fatal error, or null. */
  get error(): PlayerError | null {
    return this.#fatal;
  }

  /** Append one decrypted TS segment whose wall-clock times are `info`. Resolves, once the
   *  segment is buffered, to where it sits on the media timeline; rejects with a PlayerError
   *  (the segment is skipped; the player goes on unless the error is fatal). */
  append(segmentTs: Uint8Array, info: SegmentInfo): Promise<PlacedSegment> {
    const run = this.#queue.then(() => this.#append(segmentTs, info));
    this.#queue = run.catch(() => undefined);
    return run.catch((e: unknown) => {
      const err = e instanceof PlayerError ? e : new PlayerError("append_failed", (e as Error).message);
      this.#fail(err, false);
      throw err;
    });
  }

  /** No more segments: the <video> ends after the last one (after the queued appends). */
  endOfStream(): void {
    this.#ended = true;
    this.#queue = this.#queue.then(async () => {
      if (this.#disposed || this.#fatal !== null || this.#ms.readyState !== "open") return;
      if (this.#sb?.updating) await once(this.#sb, "updateend");
      if (this.#ms.readyState === "open") this.#ms.endOfStream();
    });
  }

  /** Wall-clock ms at the playhead, or null when nothing plays. */
  wallTime(): number | null {
    return this.timeline.wallTimeOf(this.#video.currentTime);
  }

  /** Move the playhead to wall-clock `ms` (the start of the next segment in a gap); false
   *  when that time is not on the timeline (not appended, or evicted). */
  seekToWall(ms: number): boolean {
    const t = this.timeline.mediaTimeOf(ms);
    if (t === null) return false;
    this.#video.currentTime = t + 1e-3;
    return true;
  }

  /** Stop: detach from the <video>, drop the buffered media. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#video.removeEventListener("error", this.#onMediaError);
    try {
      if (this.#sb !== null && this.#ms.readyState === "open") this.#sb.abort();
    } catch {
      // already detached
    }
    this.#video.pause();
    this.#video.removeAttribute("src");
    this.#video.load();
    if (this.#url) URL.revokeObjectURL(this.#url);
    this.#init = null;
  }

  #fail(err: PlayerError, fatal: boolean): void {
    if (fatal && this.#fatal === null) this.#fatal = err;
    this.#onError?.(err);
    this.dispatchEvent(new CustomEvent<PlayerError>("error", { detail: err }));
  }

  #check(): void {
    if (this.#disposed) throw new PlayerError("disposed", "the player was disposed");
    if (this.#fatal !== null) throw this.#fatal;
    if (this.#ended) throw new PlayerError("closed", "append after endOfStream()");
  }

  async #append(ts: Uint8Array, info: SegmentInfo): Promise<PlacedSegment> {
    this.#check();
    this.timeline.admit(info);
    await this.ready;
    this.#check();
    const r = remuxSegment(ts, this.timeline.next, this.#sequence);
    this.#sequence += 2;
    if (this.#sb === null) {
      const MS = mediaSourceClass()!;
      if (!MS.isTypeSupported(r.mime)) throw new PlayerError("unsupported", `this browser cannot play ${r.mime}`);
      this.#sb = this.#ms.addSourceBuffer(r.mime);
      this.#sb.mode = "segments";
      this.#mime = r.mime;
    } else if (r.mime !== this.#mime) {
      throw new PlayerError("tracks_changed", `the segment has ${r.mime}, the player plays ${this.#mime}`);
    }
    const sb = this.#sb;
    if (this.#init === null || !sameBytes(this.#init, r.init)) {
      await this.#push(sb, r.init);
      this.#init = r.init;
    }
    await this.#evict(sb, this.#keepBehind, this.#maxBuffered);
    try {
      await this.#push(sb, r.data);
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "QuotaExceededError")) throw e;
      await this.#evict(sb, Math.min(this.#keepBehind, 2), 0);
      try {
        await this.#push(sb, r.data);
      } catch (e2) {
        if (e2 instanceof DOMException && e2.name === "QuotaExceededError") {
          throw new PlayerError("quota_exceeded", "the browser's media buffer is full (play from a later point)");
        }
        throw e2;
      }
    }
    return this.timeline.add(info, r.startSec, r.endSec);
  }

  async #evict(sb: SourceBuffer, keepBehind: number, maxBuffered: number): Promise<void> {
    const cut = evictionRange(ranges(sb.buffered), this.#video.currentTime, keepBehind, maxBuffered);
    if (cut === null) return;
    sb.remove(cut[0], cut[1]);
    await once(sb, "updateend");
    this.timeline.dropBefore(cut[1]);
  }

  async #push(sb: SourceBuffer, bytes: Uint8Array): Promise<void> {
    if (sb.updating) await once(sb, "updateend");
    this.#check();
    const done = once(sb, "updateend");
    try {
      sb.appendBuffer(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      done.catch(() => undefined);
      throw e;
    }
    await done;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Resolves on `event`, rejects on the SourceBuffer's "error" / "abort". */
function once(sb: SourceBuffer, event: "updateend"): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = (): void => {
      off();
      resolve();
    };
    const bad = (e: Event): void => {
      off();
      reject(new PlayerError("append_failed", `the browser refused the media (${e.type})`));
    };
    const off = (): void => {
      sb.removeEventListener(event, ok);
      sb.removeEventListener("error", bad);
      sb.removeEventListener("abort", bad);
    };
    sb.addEventListener(event, ok);
    sb.addEventListener("error", bad);
    sb.addEventListener("abort", bad);
  });
}
