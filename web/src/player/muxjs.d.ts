// The minimal part of mux.js (Apache-2.0, no types of its own) the player uses: the MPEG-TS
// to fragmented-MP4 transmuxer and the init-segment probe.

declare module "mux.js" {
  export interface TimingInfo {
    start: { dts: number; pts: number };
    end: { dts: number; pts: number };
    baseMediaDecodeTime: number;
  }

  export interface TransmuxedSegment {
    type: "video" | "audio" | "combined";
    initSegment: Uint8Array;
    data: Uint8Array;
    info: Record<string, unknown>;
  }

  export interface TransmuxerOptions {
    baseMediaDecodeTime?: number;
    keepOriginalTimestamps?: boolean;
    remux?: boolean;
    firstSequenceNumber?: number;
  }

  export class Transmuxer {
    constructor(options?: TransmuxerOptions);
    on(event: "data", cb: (segment: TransmuxedSegment) => void): void;
    on(event: "videoSegmentTimingInfo" | "audioSegmentTimingInfo", cb: (info: TimingInfo) => void): void;
    on(event: "done", cb: () => void): void;
    on(event: "log", cb: (entry: { level: string; message: string }) => void): void;
    on(event: string, cb: (arg: never) => void): void;
    push(data: Uint8Array): void;
    flush(): void;
    dispose(): void;
  }

  export interface ProbedTrack {
    id: number;
    type: "video" | "audio" | string;
    codec: string;
    timescale: number;
  }

  const muxjs: {
    mp4: {
      Transmuxer: typeof Transmuxer;
      probe: { tracks(init: Uint8Array): ProbedTrack[] };
    };
  };
  export default muxjs;
}
