// MPEG-TS segments (what the camera agent makes: H.264, maybe AAC; every segment restarts its
// timestamps, `-reset_timestamps 1`) to fragmented MP4, the one container Media Source
// Extensions take everywhere (Chrome on every platform, Safari). Pure: bytes in, bytes out;
// runs in the browser and under node (the unit tests).
//
// Each segment gets a fresh mux.js transmuxer whose output starts at the media time the
// caller asks for (`baseMediaDecodeTime`, 90 kHz): the caller lays segments end to end, so
// the fragments of a range form one continuous, seekable timeline.

import muxjs from "mux.js";
import type { TimingInfo, TransmuxedSegment } from "mux.js";

export const CLOCK = 90_000;

export class PlayerError extends Error {
  override name = "PlayerError";
  constructor(
    /** A stable code: not_ts, no_video, tracks_changed, unsupported, append_failed,
     *  quota_exceeded, media_error, disposed, closed. */
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface Remuxed {
  /** ftyp + moov: the same for every segment of one camera configuration. */
  init: Uint8Array;
  /** moof + mdat pairs (video and, when present, audio). */
  data: Uint8Array;
  /** The MSE type, e.g. `video/mp4; codecs="avc1.64001f,mp4a.40.2"`. */
  mime: string;
  hasAudio: boolean;
  /** Media time (seconds) of the segment's first and last presented instant. */
  startSec: number;
  endSec: number;
}

const TS_PACKET = 188;
const TS_SYNC = 0x47;

/** Whether the bytes look like an MPEG transport stream (sync bytes every 188 bytes). */
export function looksLikeTs(ts: Uint8Array): boolean {
  if (ts.length < TS_PACKET) return false;
  const packets = Math.min(8, Math.floor(ts.length / TS_PACKET));
  for (let i = 0; i < packets; i++) if (ts[i * TS_PACKET] !== TS_SYNC) return false;
  return true;
}

/** One TS segment to fMP4 starting at media time `baseSec`. */
export function remuxSegment(ts: Uint8Array, baseSec: number, sequence = 0): Remuxed {
  if (!looksLikeTs(ts)) throw new PlayerError("not_ts", "the segment is not an MPEG transport stream");
  const t = new muxjs.mp4.Transmuxer({
    baseMediaDecodeTime: Math.round(baseSec * CLOCK),
    keepOriginalTimestamps: false,
    remux: true,
    firstSequenceNumber: sequence,
  });
  const out: TransmuxedSegment[] = [];
  let video: TimingInfo | undefined;
  let audio: TimingInfo | undefined;
  t.on("data", (s: TransmuxedSegment) => out.push(s));
  t.on("videoSegmentTimingInfo", (i: TimingInfo) => (video = i));
  t.on("audioSegmentTimingInfo", (i: TimingInfo) => (audio = i));
  t.push(ts);
  t.flush();
  t.dispose();
  const seg = out[0];
  if (seg === undefined || out.length !== 1 || video === undefined) {
    throw new PlayerError("no_video", "the segment has no H.264 video the player can read");
  }
  const tracks = muxjs.mp4.probe.tracks(seg.initSegment);
  const codecs = tracks.map((tr) => (tr.type === "audio" && tr.codec.startsWith("mp4a") ? "mp4a.40.2" : tr.codec));
  const hasAudio = tracks.some((tr) => tr.type === "audio");
  // Video timing is in the 90 kHz clock; the segment lasts until its last frame ends.
  const startSec = video.start.pts / CLOCK;
  const endSec = Math.max(video.end.pts / CLOCK, startSec);
  return {
    init: seg.initSegment,
    data: seg.data,
    mime: `video/mp4; codecs="${codecs.join(",")}"`,
    hasAudio,
    startSec,
    endSec,
  };
}

// --- durations in the init segment -------------------------------------------------------
// mux.js writes "unknown" (0xffffffff) durations, right for a live stream; a file made of the
// fragments of a range gets its real duration so that players and ffprobe show it.

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function setU64(b: Uint8Array, o: number, v: number): void {
  setU32(b, o, Math.floor(v / 2 ** 32));
  setU32(b, o + 4, v % 2 ** 32);
}

interface Box {
  type: string;
  start: number; // of the box
  body: number; // of its content
  end: number;
}

function boxes(b: Uint8Array, from: number, to: number): Box[] {
  const out: Box[] = [];
  let o = from;
  while (o + 8 <= to) {
    const size = u32(b, o);
    const type = String.fromCharCode(b[o + 4]!, b[o + 5]!, b[o + 6]!, b[o + 7]!);
    if (size < 8 || o + size > to) break;
    out.push({ type, start: o, body: o + 8, end: o + size });
    o += size;
  }
  return out;
}

/** A copy of `init` whose mvhd, tkhd and mdhd durations say `seconds`. */
export function withDuration(init: Uint8Array, seconds: number): Uint8Array {
  const b = init.slice();
  const moov = boxes(b, 0, b.length).find((x) => x.type === "moov");
  if (moov === undefined) throw new PlayerError("not_mp4", "the init segment has no moov box");
  const inner = boxes(b, moov.body, moov.end);
  const mvhd = inner.find((x) => x.type === "mvhd");
  if (mvhd === undefined) throw new PlayerError("not_mp4", "the init segment has no mvhd box");
  // full box: version(1) flags(3); v0: ctime(4) mtime(4) timescale(4) duration(4); v1: 8 8 4 8
  const v = b[mvhd.body]!;
  const movieScale = u32(b, mvhd.body + (v === 1 ? 20 : 12));
  const set = (at: number, version: number, value: number): void => {
    if (version === 1) setU64(b, at, Math.round(value));
    else setU32(b, at, Math.min(Math.round(value), 0xfffffffe));
  };
  set(mvhd.body + (v === 1 ? 24 : 16), v, seconds * movieScale);
  for (const trak of inner.filter((x) => x.type === "trak")) {
    for (const x of boxes(b, trak.body, trak.end)) {
      if (x.type === "tkhd") {
        const tv = b[x.body]!;
        set(x.body + (tv === 1 ? 28 : 20), tv, seconds * movieScale);
      } else if (x.type === "mdia") {
        const mdhd = boxes(b, x.body, x.end).find((y) => y.type === "mdhd");
        if (mdhd === undefined) continue;
        const mv = b[mdhd.body]!;
        const scale = u32(b, mdhd.body + (mv === 1 ? 20 : 12));
        set(mdhd.body + (mv === 1 ? 24 : 16), mv, seconds * scale);
      }
    }
  }
  return b;
}

/** One fMP4 file (init once, then every fragment) of consecutive TS segments, laid end to
 *  end from media time 0: what "export the decrypted video of a range" writes. */
export function remuxToFile(segments: Iterable<Uint8Array>): { file: Uint8Array; durationSec: number; mime: string } {
  let at = 0;
  let seq = 0;
  let init: Uint8Array | undefined;
  let mime = "";
  const parts: Uint8Array[] = [];
  for (const ts of segments) {
    const r = remuxSegment(ts, at, seq);
    if (init === undefined) {
      init = r.init;
      mime = r.mime;
    } else if (r.mime !== mime) {
      throw new PlayerError("tracks_changed", `a segment has ${r.mime}, the first had ${mime}`);
    }
    parts.push(r.data);
    at = r.endSec;
    seq += 2;
  }
  if (init === undefined) throw new PlayerError("no_video", "no segment to export");
  const head = withDuration(init, at);
  const file = new Uint8Array(head.length + parts.reduce((n, p) => n + p.length, 0));
  file.set(head, 0);
  let o = head.length;
  for (const p of parts) {
    file.set(p, o);
    o += p.length;
  }
  return { file, durationSec: at, mime };
}
