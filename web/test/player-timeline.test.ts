// The player's pure bookkeeping: segments laid end to end in append order, media time <->
// wall clock across gaps, ordering refused, eviction never touching the playhead.

import { describe, expect, test } from "vitest";
import { MediaTimeline, evictionRange } from "../src/player/timeline";

const T0 = 1_790_000_000_000;

function threeWithAGap(): MediaTimeline {
  const tl = new MediaTimeline();
  tl.add({ startMs: T0, endMs: T0 + 2000 }, 0, 2);
  tl.add({ startMs: T0 + 2000, endMs: T0 + 4000 }, 2, 4);
  // 10 s without recording on the wall clock, none on the media timeline
  tl.add({ startMs: T0 + 14_000, endMs: T0 + 16_000 }, 4, 6);
  return tl;
}

describe("MediaTimeline", () => {
  test("segments are packed: each starts where the previous one's media ends", () => {
    const tl = threeWithAGap();
    expect(tl.next).toBe(6);
    expect(tl.segments.map((s) => [s.index, s.mediaStart, s.mediaEnd])).toEqual([
      [0, 0, 2],
      [1, 2, 4],
      [2, 4, 6],
    ]);
  });

  test("wall clock <-> media time, across a gap", () => {
    const tl = threeWithAGap();
    expect(tl.wallTimeOf(0)).toBe(T0);
    expect(tl.wallTimeOf(3)).toBe(T0 + 3000);
    expect(tl.wallTimeOf(5)).toBe(T0 + 15_000);
    expect(tl.wallTimeOf(6.5)).toBeNull();
    expect(tl.mediaTimeOf(T0 + 1000)).toBe(1);
    expect(tl.mediaTimeOf(T0 + 15_000)).toBe(5);
    // in the gap: the start of the next recording
    expect(tl.mediaTimeOf(T0 + 8000)).toBe(4);
    expect(tl.mediaTimeOf(T0 - 1)).toBeNull();
    expect(tl.mediaTimeOf(T0 + 16_001)).toBeNull();
    expect(tl.segmentAt(4.5)?.startMs).toBe(T0 + 14_000);
  });

  test("a media duration that differs from the wall-clock one is scaled, not shifted", () => {
    const tl = new MediaTimeline();
    tl.add({ startMs: T0, endMs: T0 + 2064 }, 0, 2);
    expect(tl.wallTimeOf(1)).toBe(T0 + 1032);
    expect(tl.mediaTimeOf(T0 + 2064)).toBe(2);
  });

  test("out of order, overlapping or nonsense segments are refused with a code", () => {
    const tl = threeWithAGap();
    expect(() => tl.admit({ startMs: T0 + 1000, endMs: T0 + 3000 })).toThrowError(/^out_of_order: /);
    expect(() => tl.add({ startMs: T0 + 20_000, endMs: T0 + 22_000 }, 5, 7)).toThrowError(/^bad_placement: /);
    expect(() => tl.admit({ startMs: T0 + 30_000, endMs: T0 + 29_000 })).toThrowError(/^bad_info: /);
    expect(() => tl.admit({ startMs: Number.NaN, endMs: 1 })).toThrowError(/^bad_info: /);
    expect(tl.segments.length).toBe(3);
  });

  test("evicted segments are forgotten", () => {
    const tl = threeWithAGap();
    tl.dropBefore(4);
    expect(tl.segments.map((s) => s.index)).toEqual([2]);
    expect(tl.mediaTimeOf(T0 + 1000)).toBeNull();
    expect(tl.mediaTimeOf(T0 + 15_000)).toBe(5);
  });
});

describe("evictionRange", () => {
  test("nothing while under the budget", () => {
    expect(evictionRange([[0, 100]], 90, 30, 600)).toBeNull();
    expect(evictionRange([], 90, 30, 0)).toBeNull();
  });
  test("over the budget: what is older than keepBehind before the playhead", () => {
    expect(evictionRange([[0, 700]], 650, 30, 600)).toEqual([0, 620]);
    expect(
      evictionRange(
        [
          [100, 400],
          [410, 800],
        ],
        500,
        30,
        600,
      ),
    ).toEqual([100, 470]);
  });
  test("never the playhead or what is ahead of it", () => {
    expect(evictionRange([[0, 900]], 10, 30, 600)).toBeNull();
    const r = evictionRange([[0, 900]], 31, 30, 0)!;
    expect(r[1]).toBeLessThanOrEqual(31);
  });
});
