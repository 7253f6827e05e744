"""Fragments: the short pieces ffmpeg cuts the video into, so that live video can leave the
camera well before a whole segment has been recorded (docs/CAMERA.md "Live fragments").

ffmpeg cuts ``fragment_s`` pieces (0.5 s by default), each starting with a keyframe, all on
one clock (``-reset_timestamps 0``): their bytes joined in order are one valid MPEG-TS stream
(MPEG-TS is made to be cut and joined: each piece starts with its own PAT/PMT; ffmpeg's
``concat:`` protocol does the same). Outside an alarm the agent joins ``segment_s /
fragment_s`` consecutive fragments into one recording, so storage, custodians and the manifest
chain see the same 2-second segments as before; during an alarm each fragment is sealed and
uploaded as its own ``live`` recording the moment ffmpeg lists it. Detection (a few frames per
two seconds) still looks at whole segments: the live fragments of a segment's span are joined
for it once they are all there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from clients.camera.segmenter import Segment


def fragments_per_segment(segment_s: float, fragment_s: float | None) -> int:
    """How many fragments make one segment; 1 (no fragments: ffmpeg cuts whole segments)
    when ``fragment_s`` is unset, not positive, or not shorter than a segment."""
    if fragment_s is None or fragment_s <= 0 or fragment_s >= segment_s:
        return 1
    return max(1, round(segment_s / fragment_s))


def join(fragments: list[Segment], out: Path) -> Segment:
    """The fragments' bytes, in order, in ``out`` (written to a temporary name and renamed:
    never half written): one segment spanning them. Its key is ``out``'s; the caller marks
    the fragments' own keys processed."""
    if not fragments:
        raise ValueError("no fragments to join")
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("wb") as dst:
        for f in fragments:
            with f.path.open("rb") as src:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
    os.replace(tmp, out)
    first, last = fragments[0], fragments[-1]
    return Segment(out, first.start_ms, last.end_ms, f"{first.key}+{len(fragments)}")


def joined_path(fragments: list[Segment]) -> Path:
    """Where the join of ``fragments`` goes: beside the first, named after the first and the
    last (a name ffmpeg never writes and the segment list never names)."""
    first, last = fragments[0].path, fragments[-1].path
    return first.with_name(f"{first.stem}-{last.stem}.joined{first.suffix}")


@dataclass
class Group:
    """Consecutive fragments of one run directory waiting to become one segment."""

    size: int  # fragments per segment
    items: list[Segment] = field(default_factory=list)

    def fits(self, frag: Segment) -> bool:
        """``frag`` continues this group (same run directory; the group is not full)."""
        return len(self.items) < self.size and (
            not self.items or self.items[-1].path.parent == frag.path.parent
        )

    @property
    def full(self) -> bool:
        return len(self.items) >= self.size

    def take(self) -> list[Segment]:
        items, self.items = self.items, []
        return items
