// Where each segment sits on the player's media timeline, and back: pure bookkeeping, unit
// tested (test/player-timeline.test.ts).
//
// Segments are laid end to end in the order they are appended ("packed"): segment n starts
// where segment n-1's media ends, whatever gap the wall clock has between them, so a range
// of recordings plays and seeks as one stream with no hole for the decoder to stall in. The
// table below maps media time <-> wall-clock time (what the camera signed: startMs/endMs)
// so a UI can show the real time and seek to a recording.

import { PlayerError } from "./remux";

export interface SegmentInfo {
  /** Wall-clock start and end (ms since the epoch) of the segment, as its manifest says. */
  startMs: number;
  endMs: number;
}

export interface PlacedSegment extends SegmentInfo {
  /** Append order, from 0. */
  index: number;
  /** Media time (seconds) of the segment in the <video>. */
  mediaStart: number;
  mediaEnd: number;
}

export function checkInfo(info: SegmentInfo): void {
  const { startMs, endMs } = info;
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || endMs < startMs) {
    throw new PlayerError("bad_info", `segment times ${startMs}..${endMs} are not a time range`);
  }
}

export class MediaTimeline {
  #placed: PlacedSegment[] = [];
  #next = 0;
  #count = 0;

  /** Segments still on the timeline (evicted ones are dropped), in order. */
  get segments(): readonly PlacedSegment[] {
    return this.#placed;
  }

  /** Media time where the next segment goes. */
  get next(): number {
    return this.#next;
  }

  /** Check that a segment may come next: after the previous one on the wall clock. */
  admit(info: SegmentInfo): void {
    checkInfo(info);
    const last = this.#placed[this.#placed.length - 1];
    if (last !== undefined && info.startMs < last.startMs) {
      throw new PlayerError(
        "out_of_order",
        `a segment starting at ${info.startMs} after one starting at ${last.startMs}: append in time order`,
      );
    }
  }

  /** Record a segment whose media covers [mediaStart, mediaEnd). */
  add(info: SegmentInfo, mediaStart: number, mediaEnd: number): PlacedSegment {
    this.admit(info);
    if (mediaStart < this.#next - 1e-6 || mediaEnd < mediaStart) {
      throw new PlayerError("bad_placement", `media ${mediaStart}..${mediaEnd} overlaps what is before ${this.#next}`);
    }
    const placed = { startMs: info.startMs, endMs: info.endMs, index: this.#count++, mediaStart, mediaEnd };
    this.#placed.push(placed);
    this.#next = mediaEnd;
    return placed;
  }

  /** The segment playing at media time `t` (the last one that started at or before it). */
  segmentAt(t: number): PlacedSegment | null {
    let found: PlacedSegment | null = null;
    for (const s of this.#placed) {
      if (s.mediaStart <= t + 1e-6) found = s;
      else break;
    }
    if (found === null || t > found.mediaEnd + 1e-6) return null;
    return found;
  }

  /** Wall-clock ms shown at media time `t`, or null off the timeline. */
  wallTimeOf(t: number): number | null {
    const s = this.segmentAt(t);
    if (s === null) return null;
    const media = s.mediaEnd - s.mediaStart;
    const frac = media > 0 ? Math.min(1, Math.max(0, (t - s.mediaStart) / media)) : 0;
    return s.startMs + frac * (s.endMs - s.startMs);
  }

  /** Media time of wall-clock `ms`: inside a segment, or the start of the first segment
   *  after it when `ms` falls in a gap; null before the first or after the last. */
  mediaTimeOf(ms: number): number | null {
    for (const s of this.#placed) {
      if (ms < s.startMs) return s === this.#placed[0] ? null : s.mediaStart;
      if (ms <= s.endMs) {
        const wall = s.endMs - s.startMs;
        const frac = wall > 0 ? (ms - s.startMs) / wall : 0;
        return s.mediaStart + frac * (s.mediaEnd - s.mediaStart);
      }
    }
    return null;
  }

  /** Forget segments that end at or before media time `t` (evicted from the buffer). */
  dropBefore(t: number): void {
    this.#placed = this.#placed.filter((s) => s.mediaEnd > t + 1e-6);
  }
}

/** What to remove from the SourceBuffer before appending: everything older than
 *  `keepBehindSec` before the playhead, once more than `maxBufferedSec` is buffered (a live
 *  session appends for hours). Never anything at or after the playhead. */
export function evictionRange(
  buffered: readonly (readonly [number, number])[],
  currentTime: number,
  keepBehindSec: number,
  maxBufferedSec: number,
): [number, number] | null {
  if (buffered.length === 0) return null;
  const total = buffered.reduce((n, [a, b]) => n + (b - a), 0);
  const start = buffered[0]![0];
  const cut = currentTime - keepBehindSec;
  if (total <= maxBufferedSec || cut <= start) return null;
  return [start, cut];
}

/** TimeRanges as pairs. */
export function ranges(tr: TimeRanges): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < tr.length; i++) out.push([tr.start(i), tr.end(i)]);
  return out;
}
