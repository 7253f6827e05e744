// The player's remux (MPEG-TS segments as the camera agent cuts them -> fMP4): timestamps laid
// end to end, the init segment the same for every segment, durations written for an exported
// file that ffprobe reads and ffmpeg decodes without an error. Real ffmpeg makes the segments
// with the camera agent's own options (clients/camera/segmenter.py).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { equalBytes } from "../src/crypto/bytes";
import { PlayerError, looksLikeTs, remuxSegment, remuxToFile, withDuration } from "../src/player/remux";

function cameraSegments(dir: string, audio: boolean): Uint8Array[] {
  const input = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=15"];
  if (audio) input.push("-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=16000");
  const map = audio ? ["-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "64k"] : ["-map", "0:v:0", "-an"];
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-nostdin", ...input, "-t", "6", ...map],
    ...["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p"],
    ...["-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)"],
    ...["-f", "segment", "-segment_time", "2", "-reset_timestamps", "1", "-segment_format", "mpegts"],
    join(dir, "seg_%03d.ts"),
  ]);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .sort()
    .map((f) => new Uint8Array(readFileSync(join(dir, f))));
}

function probe(path: string): { duration: number; streams: string[] } {
  const out = JSON.parse(
    execFileSync("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", path], {
      encoding: "utf8",
    }),
  ) as { format: { duration: string }; streams: { codec_name: string }[] };
  return { duration: Number(out.format.duration), streams: out.streams.map((s) => s.codec_name) };
}

describe.each([true, false])("camera segments, audio %s", (audio) => {
  let segs: Uint8Array[] = [];
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "player-"));
    segs = cameraSegments(dir, audio);
  });

  test("every segment restarts at 0 and is laid where it is asked to start", () => {
    expect(segs.length).toBe(3);
    const a = remuxSegment(segs[1]!, 0);
    const b = remuxSegment(segs[1]!, 12.5);
    expect(a.startSec).toBeCloseTo(0, 3);
    expect(b.startSec).toBeCloseTo(12.5, 3);
    expect(b.endSec - b.startSec).toBeCloseTo(a.endSec - a.startSec, 3);
    expect(a.endSec - a.startSec).toBeGreaterThan(1.5);
    expect(a.hasAudio).toBe(audio);
    expect(a.mime).toMatch(
      audio ? /^video\/mp4; codecs="avc1\.[0-9a-f]{6},mp4a\.40\.2"$/ : /^video\/mp4; codecs="avc1\.[0-9a-f]{6}"$/,
    );
    // one init segment for all the segments of a camera
    expect(equalBytes(remuxSegment(segs[0]!, 0).init, remuxSegment(segs[2]!, 4).init)).toBe(true);
  });

  test("a range exported as one fMP4 has the range's duration and decodes without an error", () => {
    const { file, durationSec } = remuxToFile(segs);
    expect(durationSec).toBeGreaterThan(5.5);
    expect(durationSec).toBeLessThan(6.5);
    const path = join(dir, "range.mp4");
    writeFileSync(path, file);
    const p = probe(path);
    expect(p.streams).toEqual(audio ? ["h264", "aac"] : ["h264"]);
    expect(Math.abs(p.duration - durationSec)).toBeLessThan(0.3);
    // `-v error` prints nothing for a clean decode
    const err = execFileSync("ffmpeg", ["-v", "error", "-i", path, "-f", "null", "-"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(err).toBe("");
  });
});

test("bytes that are not TS are refused with a code, not remuxed into garbage", () => {
  expect(looksLikeTs(new Uint8Array(188 * 4))).toBe(false);
  expect(() => remuxSegment(new Uint8Array(1000), 0)).toThrowError(PlayerError);
  expect(() => remuxSegment(new TextEncoder().encode("age-encryption.org/v1\n".repeat(50)), 0)).toThrowError(
    /^not_ts: /,
  );
  // sync bytes but no video inside
  const packets = new Uint8Array(188 * 10);
  for (let i = 0; i < 10; i++) {
    packets[i * 188] = 0x47;
    packets[i * 188 + 1] = 0x1f;
    packets[i * 188 + 2] = 0xff;
    packets[i * 188 + 3] = 0x10;
  }
  expect(() => remuxSegment(packets, 0)).toThrowError(/no_video/);
  expect(() => remuxToFile([])).toThrowError(/no_video/);
});

test("withDuration refuses what is not an init segment", () => {
  expect(() => withDuration(new Uint8Array(16), 1)).toThrowError(/not_mp4/);
});
