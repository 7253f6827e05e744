// The video player shared by the customer portal (Recordings) and the operator console:
// decrypted MPEG-TS segments -> fMP4 -> Media Source Extensions. See player.ts.
export { SegmentPlayer, canPlaySegments, type SegmentPlayerOptions } from "./player";
export { MediaTimeline, evictionRange, type PlacedSegment, type SegmentInfo } from "./timeline";
export { PlayerError, remuxSegment, remuxToFile, withDuration, looksLikeTs, type Remuxed } from "./remux";
