"""The camera agent's main loop (docs/CAMERA.md).

Three threads: the producer turns complete segments into sealed recordings (encryption,
manifest, journal; fragments joined into segments outside an alarm, sealed one by one during
it: clients/camera/fragments.py) and polls the alarm state; the detector looks at the
segments that are uploaded whatever it finds, beside the producer, so that its second of CPU
never holds up a live fragment; the uploader drains the journal's outbox strictly in sequence
order and posts smart alerts, retrying with backoff while the network or the service is down.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import queue
import secrets
import threading
import time
from pathlib import Path

import httpx

from clients.api.errors import ServiceRefused
from clients.api.storage import StorageApi
from clients.camera import ringbuffer
from clients.camera.config import CameraConfig, Mode, SourceKind
from clients.camera.events import event_record, smart_alert
from clients.camera.fragments import Group, fragments_per_segment, join, joined_path
from clients.camera.heads import ChainHeads
from clients.camera.queue import Journal
from clients.camera.sdcard import SdCard
from clients.camera.seal import Sealed, seal, seal_to_customer
from clients.camera.segmenter import (
    DirectorySource,
    FfmpegSource,
    RestartBackoff,
    RunDir,
    Segment,
    SourceError,
    extract_still,
    segment_file,
)
from clients.camera.site import SiteTrust, TrustError
from clients.camera.telemetry import TelemetryPoster
from clients.camera.uploader import PermanentUploadError, TransientUploadError, Uploader
from clients.detect.base import Detector, SegmentDetections, detect_segment
from common.time import now_ms
from crypto.ed25519 import Ed25519SigningKey
from crypto.metadata import RecordingKind, RecordingMetadata
from crypto.statements import CameraProfile, SiteKeys

log = logging.getLogger("camvault.camera")
#: One line per recording the service acknowledged: what `camera run` shows (-q: nothing).
committed = logging.getLogger("camvault.camera.committed")


def _clock(ms: int) -> str:
    """A recording's time of day (UTC), to the millisecond."""
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}"


#: what talking to the storage service raises when it is unreachable or refuses
NETWORK_ERRORS = (httpx.HTTPError, ServiceRefused)
#: Outside an alarm, the alarm state is asked again before sealing a segment when the last
#: answer is older than this: a segment's kind (live or not) is decided when it is sealed,
#: and the segment running when an alarm is raised should be live, not only the next one.
FRESH_ALARM_STATE_S = 0.25
#: The idle uploader looks at the journal this often; whatever the producer queues wakes it
#: at once (``CameraAgent.queued``), so this only bounds a missed wake.
UPLOAD_IDLE_WAIT_S = 0.1
#: Processed-segment rows of files that are gone are forgotten at start and this often.
PRUNE_PROCESSED_S = 600.0
#: Segments waiting for the detector beyond this many are recorded without detection (and
#: logged): a detector slower than the video must not hold up recordings or fill the disk.
DETECT_BACKLOG = 4
#: The producer looks for new segments at least this often (ffmpeg listing one wakes it).
PRODUCE_WAIT_S = 0.2


@dataclasses.dataclass(frozen=True, slots=True)
class _DetectJob:
    site: SiteKeys
    sealed: Sealed  # the recording the event record names
    seg: Segment  # the plaintext video to look at (deleted once looked at)


def load_detector(name: str) -> Detector | None:
    if name == "none":
        return None
    if name == "opencv":
        from clients.detect.opencv import OpenCvDetector

        return OpenCvDetector()
    raise ValueError(f"unknown detector {name!r} (opencv, none)")


class CameraAgent:
    def __init__(self, cfg: CameraConfig, detector: Detector | None = None) -> None:
        self.cfg = cfg
        cfg.state.mkdir(parents=True, exist_ok=True)
        self.sealed_dir = cfg.state / "sealed"
        self.sealed_dir.mkdir(exist_ok=True)
        key = Ed25519SigningKey.from_text(Path(cfg.key_file).read_text().strip())
        self.journal = Journal(cfg.state / "journal.sqlite", cfg.site_id, cfg.camera_id, key)
        keyid = f"device:{cfg.site_id}/{cfg.camera_id}"
        self.client = StorageApi.connect(cfg.url, keyid, key, timeout=30.0)
        self.up_client = StorageApi.connect(cfg.url, keyid, key, timeout=60.0)
        self.trust = SiteTrust(
            self.journal, self.client, Path(cfg.site_keys_file) if cfg.site_keys_file else None
        )
        self.detector = detector if detector is not None else load_detector(cfg.detector)
        self.uploader = Uploader(
            self.up_client,
            self.journal,
            multipart_threshold=cfg.multipart_threshold,
            part_size=cfg.part_size,
        )
        self.sd = (
            SdCard(Path(cfg.sd_dir), cfg.sd_retention_s, cfg.sd_max_bytes, cfg.sd_retention_check_s)
            if cfg.sd_dir
            else None
        )
        self.telemetry = TelemetryPoster(
            self.client,
            cfg.site_id,
            cfg.camera_id,
            cfg.firmware,
            cfg.telemetry_interval_s,
            Path(cfg.sd_dir) if cfg.sd_dir else None,
        )
        self.heads = ChainHeads(
            self.up_client,
            self.journal,
            key,
            cfg.site_id,
            cfg.camera_id,
            cfg.chain_head_interval_s,
            cfg.retry_max_s,
        )
        self.stop_event = threading.Event()
        self.queued = threading.Event()  # wakes the uploader: something was queued
        self.alarm_active = False
        self.alarm_ids: set[str] = set()
        self.post_event_until = 0
        self.last_poll = 0.0
        self.last_refresh = 0.0
        self.keys_hint_tried: int | None = None  # site_keys_version hint last acted on
        self.uploaded = 0  # recordings committed by this process (for tests and logs)
        self.upload_error: str | None = None
        self.source: FfmpegSource | DirectorySource | None = None
        self.source_restarts = 0  # ffmpeg restarts of this process (logged; no telemetry field)
        self.restart_backoff = RestartBackoff()
        self._restart_at: float | None = None  # monotonic time of the next start attempt
        self.last_prune = 0.0
        # fragments (clients/camera/fragments.py): 1 = ffmpeg cuts whole segments
        dir_source = cfg.source.kind is SourceKind.DIR
        self.per_segment = 1 if dir_source else fragments_per_segment(cfg.segment_s, cfg.fragment_s)
        self.group = Group(self.per_segment)  # fragments waiting to be joined into a segment
        self.live_group = Group(self.per_segment)  # live fragments sealed, waiting for detection
        self.live_first: Sealed | None = None  # the first live recording of ``live_group``
        self.held: set[str] = set()  # keys of the fragments in either group
        self.detect_jobs: queue.Queue[_DetectJob | None] = queue.Queue(DETECT_BACKLOG)
        self.detector_thread: threading.Thread | None = None
        self.detections_skipped = 0  # segments the detector was too far behind to look at

    # --- lifecycle ----------------------------------------------------------------------

    def stop(self) -> None:
        self.stop_event.set()
        self.queued.set()

    def run(self) -> None:
        self._cleanup_orphans()
        if self.sd is not None:
            self.sd.sweep()
        self._wait_for_trust()
        uploader = threading.Thread(target=self._upload_loop, name="uploader", daemon=True)
        uploader.start()
        if self.detector is not None:
            self.detector_thread = threading.Thread(
                target=self._detect_loop, name="detector", daemon=True
            )
            self.detector_thread.start()
        try:
            self._produce()
        finally:
            if self.detector_thread is not None:
                self.detect_jobs.put(None)  # after the last job: its event record is queued
                self.detector_thread.join(60)
            self.stop()
            uploader.join(30)
            self._last_head()
            self.client.close()
            self.up_client.close()
            self.journal.close()

    def _last_head(self) -> None:
        """A head of the chain as it is when the agent stops (kept in the journal for the next
        start if it cannot be posted now)."""
        try:
            self.heads.sign_now()
            item = self.journal.next_pending()
            self.heads.maybe_post(None if item is None else item.sequence)
        except Exception as exc:  # shutting down: logged, never fatal
            log.info("last chain head not posted: %s", type(exc).__name__)

    def _wait_for_trust(self) -> None:
        """Pinned keys and profile are needed before the first segment is sealed: wait for
        the service if they are not cached yet (first start)."""
        delay = 0.5
        while not self.stop_event.is_set():
            try:
                self.trust.refresh()
                self._adopt_chain_head()
                self.last_refresh = time.monotonic()
                return
            except (*NETWORK_ERRORS, KeyError, ValueError) as exc:
                try:
                    self.trust.require()
                    log.info("service unreachable at start (%s); using pinned keys", exc)
                    return
                except TrustError:
                    log.info("waiting for the service to fetch site keys: %s", exc)
            self.stop_event.wait(delay)
            delay = min(delay * 2, self.cfg.retry_max_s)

    def _adopt_chain_head(self) -> None:
        if self.journal.get("chain_checked") is not None:
            return
        seq, _ = self.journal.chain_head()
        if seq == 0 and self.journal.pending_count() == 0:
            dev = self.client.device(self.cfg.site_id, self.cfg.camera_id)
            if dev["last_sequence"] is not None:
                self.journal.adopt_chain_head(
                    int(dev["last_sequence"]) + 1, bytes.fromhex(dev["last_manifest_sha256"])
                )
        self.journal.put("chain_checked", b"1")

    def _cleanup_orphans(self) -> None:
        """Sealed files no journal row refers to (crash between sealing and journaling)."""
        known = {str(i.file) for i in self.journal.ring_items()} | self.journal.outbox_files()
        for p in self.sealed_dir.iterdir():
            if str(p) not in known:
                p.unlink(missing_ok=True)

    # --- producer -----------------------------------------------------------------------

    def _open_source(self) -> tuple[FfmpegSource | DirectorySource, list[RunDir]]:
        src = self.cfg.source
        if src.kind is SourceKind.DIR:
            if not src.path:
                raise ValueError("source kind dir needs a path")
            return DirectorySource(Path(src.path), self.cfg.segment_s), []
        one_clock = self.per_segment > 1
        cut_s = self.cfg.segment_s / self.per_segment
        ff = FfmpegSource(src, self.cfg.state / "segments", cut_s, one_clock=one_clock)
        return ff, ff.leftover_runs()

    def _live_source(self) -> bool:
        """A source meant to run for good (its ffmpeg is restarted when it exits); a file, a
        configured duration or exit_when_done mean a source that ends."""
        src = self.cfg.source
        ends = src.kind is SourceKind.FILE or src.duration_s is not None
        return not ends and not self.cfg.exit_when_done

    def _produce(self) -> None:
        self._prune_processed()  # before the source makes its new run directory
        source, leftovers = self._open_source()
        self.source = source
        live = self._live_source()
        ended_logged = False
        try:
            while not self.stop_event.is_set():
                self._poll_alarm()
                self._refresh_trust()
                batch: list[tuple[Segment, bool]] = []
                for run in leftovers:
                    batch += [(s, run.one_clock) for s in run.complete()]
                finished = source.finished  # read before listing: no segment is missed
                current = source.run if isinstance(source, FfmpegSource) else None
                one_clock = current is not None and current.one_clock
                batch += [(s, one_clock) for s in source.complete()]
                batch = [(s, f) for s, f in batch if s.key not in self.held]
                if batch and not self.alarm_active:
                    self._poll_alarm(FRESH_ALARM_STATE_S)
                for seg, fragment in batch:
                    if self.stop_event.is_set():
                        break
                    if fragment and self.per_segment > 1:
                        self._take(seg)
                    else:
                        self._handle(seg)
                # a group no fragment will join any more: its run ended or was left over
                for group, flush in (
                    (self.group, self._flush),
                    (self.live_group, self._flush_live),
                ):
                    tail = group.items[-1].path.parent if group.items else None
                    if tail is not None and (finished or current is None or tail != current.path):
                        flush()
                for run in list(leftovers):
                    if not any(p.suffix == ".ts" for p in run.path.iterdir()):
                        _remove_tree(run.path)
                        leftovers.remove(run)
                _, profile = self.trust.require()
                if self.cfg.mode is Mode.EVENT:
                    ringbuffer.prune(self.journal, profile.pre_alarm_s, now_ms())
                if self.sd is not None:
                    self.sd.maybe_sweep()  # lists the whole card: not at every cycle
                self.telemetry.maybe_post()
                self.heads.maybe_sign()
                if time.monotonic() - self.last_prune >= PRUNE_PROCESSED_S:
                    self._prune_processed()
                if finished and live and isinstance(source, FfmpegSource):
                    self._restart(source, leftovers)
                elif finished and not batch and not leftovers and not self.held:
                    if not self.cfg.exit_when_done:
                        if not ended_logged:
                            log.info("source ended")
                            ended_logged = True
                    elif (
                        self.detect_jobs.unfinished_tasks == 0  # no event record to come
                        and self.journal.pending_count() == 0
                        and self.journal.alert_next() is None
                    ):
                        log.info("source ended and everything is uploaded")
                        return
                source.wait(PRODUCE_WAIT_S, self.stop_event)
        finally:
            source.stop()

    def _restart(self, source: FfmpegSource, leftovers: list[RunDir]) -> None:
        """ffmpeg of a live source exited (crash, camera or stream hiccup): start it again into
        a new run directory after a capped exponential backoff. The old run joins the
        leftovers: its listed segments are sealed as usual, a partial one is discarded."""
        now = time.monotonic()
        if self._restart_at is None:
            ran = now - source.started
            delay = self.restart_backoff.delay(ran)
            self._restart_at = now + delay
            log.warning(
                "ffmpeg exited with status %s after %.0f s (%s); restarting in %.0f s",
                source.exit_status,
                ran,
                source.run.path.name,
                delay,
            )
            return
        if now < self._restart_at:
            return
        try:
            old = source.restart()
        except (SourceError, OSError) as exc:
            delay = self.restart_backoff.delay(0.0)
            self._restart_at = now + delay
            log.error("ffmpeg not restarted: %s; next try in %.0f s", exc, delay)
            return
        self._restart_at = None
        leftovers.append(old)
        self.source_restarts += 1
        log.warning(
            "ffmpeg restarted into %s (restart %d of this process)",
            source.run.path.name,
            self.source_restarts,
        )

    def _prune_processed(self) -> int:
        """Forget processed-segment rows whose segment file is gone (see Journal)."""
        self.last_prune = time.monotonic()
        src = self.cfg.source
        dir_source = Path(src.path) if src.kind is SourceKind.DIR and src.path else None
        runs = self.cfg.state / "segments"

        def matters(key: str) -> bool:
            path = segment_file(key, runs, dir_source)
            return path is not None and path.exists()

        n = self.journal.prune_processed(matters)
        if n:
            log.info("journal: %d processed-segment rows of deleted files forgotten", n)
        return n

    def _refresh_trust(self) -> None:
        if time.monotonic() - self.last_refresh < 60:
            return
        self.last_refresh = time.monotonic()
        try:
            self.trust.refresh()
        except (*NETWORK_ERRORS, KeyError, ValueError) as exc:
            log.info("site keys not refreshed: %s", exc)

    def _poll_alarm(self, max_age_s: float | None = None) -> None:
        """Ask the service for the site's open alarms, unless the last answer is younger
        than ``max_age_s`` (default: the configured poll interval)."""
        max_age = self.cfg.alarm_poll_s if max_age_s is None else max_age_s
        if time.monotonic() - self.last_poll < max_age:
            return
        self.last_poll = time.monotonic()
        try:
            state = self.client.alarm_state(self.cfg.site_id, self.cfg.camera_id)
        except (*NETWORK_ERRORS, ValueError) as exc:
            log.debug("alarm state unknown: %s", exc)
            return
        ids = {a["alarm_id"] for a in state["alarms"]}
        if ids - self.alarm_ids:
            n = self.journal.promote_ring([])
            self.queued.set()
            log.info("alarm %s: pre-alarm buffer of %d segments queued", sorted(ids), n)
        self.alarm_ids = ids
        self.alarm_active = bool(state["active"])
        self._follow_site_keys(state.get("site_keys_version"))

    def _follow_site_keys(self, version: object) -> None:
        """The alarm-state answer names the site's SiteKeys version (docs/API.md): when it is
        above the pinned one, fetch and verify the new SiteKeys now, before the next recording
        is sealed (a recipient removed is out of it), not at the next minute's refresh. Only a
        hint: site.py pins nothing the pinned customer key did not sign with a greater version.
        A hint that did not pan out is not fetched again until it changes."""
        pinned = self.trust.site_keys
        if not isinstance(version, int) or pinned is None or version <= pinned.version:
            return
        if version == self.keys_hint_tried:
            return
        self.keys_hint_tried = version
        try:
            if self.trust.refresh_site_keys():
                log.info("site keys version %d pinned at the alarm-state hint", version)
        except (*NETWORK_ERRORS, KeyError, ValueError) as exc:
            self.keys_hint_tried = None  # the fetch failed: try again at the next poll
            log.info("site keys not refreshed: %s", exc)

    def _kind(self, profile: CameraProfile, live: bool = True) -> RecordingKind:
        if self.cfg.stills or profile.stills_only:
            return RecordingKind.STILL
        if live and self.alarm_active and profile.live_allowed:
            return RecordingKind.LIVE
        return RecordingKind.SEGMENT if self.cfg.mode is Mode.CONTINUOUS else RecordingKind.CLIP

    # --- fragments (clients/camera/fragments.py) -------------------------------------------

    def _take(self, frag: Segment) -> None:
        """One fragment: sealed alone as live during an alarm, else joined with the next ones
        into a segment."""
        if self.journal.is_processed(frag.key):
            frag.path.unlink(missing_ok=True)
            return
        _, profile = self.trust.require()
        if self._kind(profile) is RecordingKind.LIVE:
            self._flush()  # the fragments before the alarm: a shorter segment, first in the chain
            self._live_fragment(frag)
            return
        self._flush_live()  # the alarm is over: the last live fragments go to detection
        if not self.group.fits(frag):
            self._flush()
        self.group.items.append(frag)
        self.held.add(frag.key)
        if self.group.full:
            self._flush()

    def _flush(self) -> None:
        """The waiting fragments, joined, as one recording (never live: they were recorded
        before the camera saw the alarm)."""
        items = self.group.take()
        if not items:
            return
        seg = join(items, joined_path(items))
        self._handle(seg, [f.key for f in items], live=False)
        for f in items:
            f.path.unlink(missing_ok=True)
        self.held.difference_update(f.key for f in items)

    def _live_fragment(self, frag: Segment) -> None:
        """Sealed and queued at once as a ``live`` recording of its own; kept for detection
        until a segment's worth of live fragments is there."""
        site, _ = self.trust.require()
        sealed = self._seal(
            site, RecordingKind.LIVE, frag.start_ms, frag.end_ms, frag.path.read_bytes()
        )
        if self.sd is not None:
            self.sd.store(sealed)
        self.journal.enqueue([sealed], frag.key)
        self.queued.set()
        if self.detector is None:
            frag.path.unlink(missing_ok=True)
            return
        if not self.live_group.fits(frag):
            self._flush_live()
        if not self.live_group.items:
            self.live_first = sealed
        self.live_group.items.append(frag)
        self.held.add(frag.key)
        if self.live_group.full:
            self._flush_live()

    def _flush_live(self) -> None:
        """Detection for the waiting live fragments, joined: its event record names the first
        of them and spans them all."""
        items = self.live_group.take()
        first, self.live_first = self.live_first, None
        if not items or first is None:
            return
        site, _ = self.trust.require()
        seg = join(items, joined_path(items))
        for f in items:
            f.path.unlink(missing_ok=True)
        self.held.difference_update(f.key for f in items)
        self._detect_later(site, dataclasses.replace(first, end_ms=seg.end_ms), seg)

    # --- detection beside the producer ---------------------------------------------------------

    def _detect_later(self, site: SiteKeys, sealed: Sealed, seg: Segment) -> None:
        """Hand ``seg`` (already queued as ``sealed``) to the detector thread, which deletes
        it once looked at; no detector thread (a test driving ``_handle``): now."""
        job = _DetectJob(site, sealed, seg)
        if self.detector is None:
            seg.path.unlink(missing_ok=True)
        elif self.detector_thread is None:
            self._detect_job(job)
        else:
            try:
                self.detect_jobs.put_nowait(job)
            except queue.Full:
                self.detections_skipped += 1
                log.warning("%s: recorded without detection (the detector is behind)", seg.key)
                seg.path.unlink(missing_ok=True)

    def _detect_loop(self) -> None:
        while (job := self.detect_jobs.get()) is not None:
            try:
                self._detect_job(job)
            except Exception as exc:  # sealing or journaling the event record: never fatal
                log.error("%s: event record not made (%s)", job.seg.key, type(exc).__name__)
            finally:
                self.detect_jobs.task_done()

    def _detect_job(self, job: _DetectJob) -> None:
        try:
            found = self._detect(job.seg)
            if found.detections:
                self.journal.enqueue([self._detected(job.site, job.sealed, found, job.seg)])
                self.queued.set()
        finally:
            job.seg.path.unlink(missing_ok=True)

    def _handle(self, seg: Segment, keys: list[str] | None = None, live: bool = True) -> None:
        """One segment as one recording. ``keys``: the fragments it was joined from (marked
        processed with it); ``live=False``: never sealed as live."""
        if keys is None and self.journal.is_processed(seg.key):
            seg.path.unlink(missing_ok=True)
            return
        processed: str | list[str] = seg.key if keys is None else keys
        site, profile = self.trust.require()
        kind = self._kind(profile, live)  # the alarm state as fresh as the check before sealing
        plain = seg.path
        if kind is RecordingKind.STILL:
            plain = seg.path.with_suffix(".jpg")
            extract_still(seg.path, plain)
        sealed = self._seal(site, kind, seg.start_ms, seg.end_ms, plain.read_bytes())
        if self.sd is not None:
            self.sd.store(sealed)
        if self.cfg.mode is Mode.CONTINUOUS or self.alarm_active:
            # Uploaded whatever detection finds: queue it first, so that detection (about a
            # second of CPU per segment) never delays it, a live one above all; detection runs
            # in its own thread. A crash between the two steps loses that segment's event
            # record, never the segment.
            self.journal.enqueue([sealed], processed)
            self.queued.set()
            if plain != seg.path:
                plain.unlink(missing_ok=True)
            self._detect_later(site, sealed, seg)  # deletes seg once looked at
            return
        else:
            found = self._detect(seg)
            if found.detections:
                batch = [sealed, self._detected(site, sealed, found, seg)]
                n = self.journal.promote_ring(batch, processed)
                log.info("detection: %d buffered segments queued", n)
            elif seg.start_ms < self.post_event_until:
                self.journal.enqueue([sealed], processed)
            else:
                self.journal.ring_add(sealed, processed)
            self.queued.set()  # wake the uploader (after a ring_add, it finds nothing: harmless)
        seg.path.unlink(missing_ok=True)
        if plain != seg.path:
            plain.unlink(missing_ok=True)

    def _detect(self, seg: Segment) -> SegmentDetections:
        """The segment's detections; a detector that fails on it (a damaged frame, a model
        error) costs that segment its labels, never the recording itself."""
        if self.detector is None:
            return SegmentDetections()
        try:
            return detect_segment(self.detector, seg.path, self.cfg.detect_frames)
        except Exception as exc:  # any detector failure: logged by type, never fatal
            log.error(
                "%s: detection failed (%s); recorded without labels", seg.key, type(exc).__name__
            )
            return SegmentDetections()

    def _detected(
        self, site: SiteKeys, sealed: Sealed, found: SegmentDetections, seg: Segment
    ) -> Sealed:
        """The event record of a segment with detections (also on the SD card), the smart
        alert, and the post-event window of event mode."""
        event = self._event_record(site, sealed, found)
        # Labels stay inside the encrypted event record: logs are often shipped off the
        # device, so they say only that a record was made.
        log.info(
            "%s: event record %s sealed (%d detections)",
            seg.key,
            event.recording_id,
            len(found.detections),
        )
        if self.sd is not None:
            self.sd.store(event)
        self._smart_alert(site, sealed, event, found)
        self.post_event_until = seg.end_ms + int(self.cfg.post_event_s * 1000)
        return event

    def _seal(
        self, site: SiteKeys, kind: RecordingKind, start: int, end: int, data: bytes
    ) -> Sealed:
        rid = f"{kind.value}-{start}-{secrets.token_hex(4)}"
        meta = RecordingMetadata(site.site_id, self.cfg.camera_id, rid, kind, start, end)
        path = self.sealed_dir / f"{rid}.age"
        return seal(
            site,
            meta,
            io.BytesIO(data),
            path,
            part_size=self.cfg.part_size,  # part SHA-256s while sealing (camera/parts.py)
            multipart_threshold=self.cfg.multipart_threshold,
        )

    def _event_record(self, site: SiteKeys, segment: Sealed, found: SegmentDetections) -> Sealed:
        """Labels and thumbnail, age-encrypted like the segment (same recipients and escrow
        stanzas), as a recording of kind ``event`` with its own manifest in the chain."""
        detector = getattr(self.detector, "name", "unknown")
        data = event_record(self.cfg.camera_id, segment, found, detector)
        return self._seal(site, RecordingKind.EVENT, segment.start_ms, segment.end_ms, data)

    def _smart_alert(
        self, site: SiteKeys, segment: Sealed, event: Sealed, found: SegmentDetections
    ) -> None:
        """A short notice for the customer's inbox, encrypted to the customer ONLY (no
        escrow stanza: custodians can never release it)."""
        alert_id, body = smart_alert(self.cfg.camera_id, segment, event, found)
        self.journal.alert_add(alert_id, now_ms(), seal_to_customer(site, body))

    # --- uploader -----------------------------------------------------------------------

    def _upload_loop(self) -> None:
        backoff = 0.25
        while True:
            self.queued.clear()  # before looking: a segment queued from now on wakes the wait
            item = self.journal.next_pending()
            self.heads.maybe_post(None if item is None else item.sequence)
            if item is None:
                if self.stop_event.is_set():
                    return
                if not self._post_alert():
                    self.queued.wait(UPLOAD_IDLE_WAIT_S)
                continue
            try:
                self.uploader.upload(item)
            except TransientUploadError as exc:
                self.upload_error = str(exc)
                log.info("upload of #%d postponed: %s", item.sequence, exc)
                if self.stop_event.wait(backoff):
                    return
                backoff = min(backoff * 2, self.cfg.retry_max_s)
                continue
            except PermanentUploadError as exc:
                # Skipping would break the chain for good: keep the item, shout, retry slowly.
                self.upload_error = str(exc)
                log.error("upload of #%d refused: %s", item.sequence, exc)
                if self.stop_event.wait(self.cfg.retry_max_s):
                    return
                continue
            self.journal.done(item.sequence)
            item.file.unlink(missing_ok=True)
            self.uploaded += 1
            self.upload_error = None
            backoff = 0.25
            m = item.statement
            committed.info(
                "committed #%d %s %s %s-%s, %d bytes",
                item.sequence,
                item.recording_id,
                m.kind.value,
                _clock(m.start_ms),
                _clock(m.end_ms),
                m.payload_size,
            )

    def _post_alert(self) -> bool:
        nxt = self.journal.alert_next()
        if nxt is None:
            return False
        alert_id, created, payload = nxt
        try:
            self.up_client.post_smart_alert(
                self.cfg.site_id, self.cfg.camera_id, alert_id, created, payload
            )
        except httpx.HTTPError:
            self.stop_event.wait(self.cfg.retry_max_s / 2)
            return True
        except ServiceRefused as exc:
            if exc.status < 500:
                log.error("smart alert %s refused: %s %s", alert_id, exc.code, exc.message)
                self.journal.alert_done(alert_id)
            return True
        self.journal.alert_done(alert_id)
        return True


def _remove_tree(path: Path) -> None:
    for p in path.iterdir():
        p.unlink(missing_ok=True)
    path.rmdir()
