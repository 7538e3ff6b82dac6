"""The session runner: the one frame loop of drowsy.

``analyze``, ``run``, the monitor's worker thread and ``evaluate blinks`` all drive their source
through :class:`Session`; none has a loop of its own. The runner owns what went wrong when every
caller had its own loop: reopening (a lost camera is retried, never replaced by the demo; its
restarted clock is rebased so the same pipeline continues), seeks (the old stretch's alerts are
ended and logged, alert ids never repeat), pacing, the pipeline's lifetime and the active-alert
board. What it writes is delegated: ``outputs`` (frames.csv, explanation PNGs), ``logbook`` (the
alert log, heartbeats), ``tally`` (counting into the typed :mod:`drowsy.summary`); source
choice lives in :mod:`drowsy.sources.choice`, signals in :mod:`drowsy.lifecycle`, threads in
:mod:`drowsy.prefetch`.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Generator, Iterator
from contextlib import closing
from pathlib import Path

from tqdm import tqdm

from drowsy.alertlog import AlertLog
from drowsy.alerts.board import ActiveAlertBoard
from drowsy.alerts.engine import EpisodeStats
from drowsy.contracts import AlertAction, AlertUpdate, Frame
from drowsy.errors import SourceError
from drowsy.inference.explain import Explanation
from drowsy.lifecycle import SIGNAL_REASONS, StopFlag
from drowsy.pipeline import FrameResult, Observed, Pipeline
from drowsy.prefetch import run_ahead
from drowsy.session.clipping import SessionClips
from drowsy.session.listener import SessionListener, SessionOptions
from drowsy.session.logbook import SessionLogbook
from drowsy.session.outputs import SessionOutputs
from drowsy.session.tally import SessionTally
from drowsy.settings import Settings
from drowsy.sources import FrameSource, SourceChoice
from drowsy.summary import SessionSummary
from drowsy.vision.pose import camera_rotated

log = logging.getLogger(__name__)


class Session:
    """Runs one source through one pipeline into the sinks until the source ends or ``stop``.

    Thread-safe controls: ``stop()``, ``pause()``, ``seek()`` and ``speed``."""

    def __init__(
        self,
        settings: Settings,
        choice: SourceChoice,
        source: FrameSource,
        alert_log: AlertLog | None,
        options: SessionOptions | None = None,
        listener: SessionListener | None = None,
        stop_flag: StopFlag | None = None,
        pipeline: Pipeline | None = None,
    ) -> None:
        self.settings = settings
        self.choice = choice
        self.source = source
        self.alert_log = alert_log
        self.options = options or SessionOptions()
        self.listener = listener or SessionListener()
        self.stop_flag = stop_flag or StopFlag()
        self._pipeline = pipeline
        self.board = ActiveAlertBoard()
        self.speed = 1.0
        self._paused = threading.Event()
        self._seek_to: float | None = None
        self.tally = SessionTally(source=choice.label)
        self.outputs = SessionOutputs(
            self.options.frames_csv, self.options.images_dir, self.options.fail_fast, self._fault_of
        )
        self.logbook: SessionLogbook | None = None
        self.clips: SessionClips | None = None
        # time rebasing after a camera reconnect: new clock + offset continues the old one
        self._offset_s = 0.0
        self._index_offset = 0
        self._rebase = False
        self._last: Frame | None = None
        self._last_wall = 0.0
        self._segment_first: float | None = None
        self._fault: str | None = None
        self._pace_t0: float | None = None

    # --------------------------------------------------------------- controls (any thread)
    def stop(self, reason: str = "stopped") -> None:
        self.stop_flag.set(reason)

    def pause(self, paused: bool) -> None:
        (self._paused.set if paused else self._paused.clear)()

    def seek(self, seconds: float) -> None:
        if not self.choice.live:
            self._seek_to = max(0.0, float(seconds))

    # --------------------------------------------------------------------------- running
    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = Pipeline(self.settings, live=self.choice.live)
        return self._pipeline

    def run(self) -> SessionSummary:
        t0 = time.perf_counter()
        pipeline = self.pipeline
        s = self.tally
        src = self.source
        expected = src.stats.expected_frames or 0
        duration = expected / src.nominal_fps if src.nominal_fps and not src.live else 0.0
        self.listener.opened(self.choice.label, src.live, float(duration))
        if self.choice.note:
            self.listener.status(self.choice.note)
        self.listener.info(pipeline.provider, pipeline.model_versions)
        failed = True
        try:
            self._open_log(pipeline)
            self.outputs.open()
            folder, cs = self.options.clips_dir, self.settings.clips
            if cs.enabled and folder is not None:
                shared, fps = self.options.clips_shared, src.nominal_fps or 30.0
                self.clips = SessionClips(cs, folder, fps, src.live, shared, s, self.listener)
                self.clips.logbook = self.logbook
            self._loop()
            failed = False
        finally:
            s.wall_s = time.perf_counter() - t0
            if failed:
                s.interrupted, s.stop_reason = True, self.stop_flag.reason or "error"
            elif self.stop_flag.is_set():
                # a signal cut the session short; a window closed by the user ended it
                s.stop_reason = self.stop_flag.reason
                s.interrupted = s.stop_reason in SIGNAL_REASONS
            self._finish_stretch()
            summary = self._close()
        return summary

    def _open_log(self, pipeline: Pipeline) -> None:
        if self.alert_log is None:
            return
        self.logbook = SessionLogbook(
            self.alert_log, self.settings.log.snapshots, self.options.heartbeat_s, self._log_state
        )
        self.logbook.open(
            self.choice.label,
            self.settings.model_dump(),
            pipeline.model_versions,
            self.options.fail_fast,
        )

    def _loop(self) -> None:
        bar = tqdm(
            total=self.source.stats.expected_frames,
            desc=Path(self.choice.label).name,
            unit="frame",
            disable=not self.options.progress,
            leave=False,
        )
        with bar:
            while not self.stop_flag.is_set():
                try:
                    with closing(self._frames()) as frames:
                        for frame, observed in frames:
                            if self.stop_flag.is_set() or self._seek_to is not None:
                                break
                            self._wait_while_paused()
                            self._pace(frame)
                            self._step(self._rebased(frame), observed)
                            bar.update(1)
                except SourceError as exc:
                    if not self.choice.live:
                        raise
                    if not self._reconnect(str(exc)):
                        return
                    continue
                if self._seek_to is not None and not self.stop_flag.is_set():
                    self._do_seek()
                    continue
                return  # the source ended, or stop

    def _frames(self) -> Generator[tuple[Frame, Observed | BaseException | None]]:
        """The source's frames; for unpaced recorded video each comes with its face mesh
        observation, made ahead in other threads (``Observed``, or the exception the tracker
        raised, so the frame is handled as if ``process`` had raised it). Three stages overlap
        then: decoding, the face mesh, and the rest in the caller's thread."""
        o = self.options
        if not o.pipelined or o.pace or self.choice.live:
            return ((frame, None) for frame in self.source)

        def located(frames: Iterator[Frame]) -> Iterator[tuple[Frame, Observed | Exception]]:
            for frame in frames:
                try:
                    yield frame, self.pipeline.locate(frame)
                except Exception as exc:  # handed to the consumer with its frame
                    yield frame, exc

        decoded = run_ahead(self.source, "drowsy-decode")
        return run_ahead(located(decoded), "drowsy-track", on_end=decoded.close)

    def _wait_while_paused(self) -> None:
        while self._paused.is_set() and not self.stop_flag.is_set() and self._seek_to is None:
            time.sleep(0.05)
            self._pace_t0 = None  # resume at the paused frame, not catching up

    def _pace(self, frame: Frame) -> None:
        if not self.options.pace or self.choice.live:
            return
        now = time.monotonic()
        speed = max(0.05, self.speed)
        if self._pace_t0 is None:
            self._pace_t0 = now - frame.timestamp_s / speed
        delay = self._pace_t0 + frame.timestamp_s / speed - now
        if delay > 0:
            self.stop_flag.wait(delay)
        elif delay < -0.5:  # fell behind (slow machine, speed change): do not race to catch up
            self._pace_t0 = now - frame.timestamp_s / speed

    def _rebased(self, frame: Frame) -> Frame:
        if self._rebase and self._last is not None:
            gap = max(time.monotonic() - self._last_wall, 1.0 / (self.source.nominal_fps or 30.0))
            self._offset_s = self._last.timestamp_s + gap - frame.timestamp_s
            self._index_offset = self._last.index + 1 - frame.index
            self._rebase = False
        if self._offset_s == 0.0 and self._index_offset == 0:
            return frame
        return Frame(
            frame.image, frame.timestamp_s + self._offset_s, frame.index + self._index_offset
        )

    def _step(self, frame: Frame, observed: Observed | BaseException | None = None) -> None:
        s = self.tally
        try:
            if isinstance(observed, BaseException):
                raise observed
            r = self.pipeline.process(frame) if observed is None else self.pipeline.decide(observed)
        except Exception as exc:
            if self.options.fail_fast:
                raise
            # live: one bad frame must not stop the monitor; reported, counted, skipped
            s.frame_errors += 1
            log.error("frame %d: %s\n%s", frame.index, exc, traceback.format_exc())
            self.listener.frame_error(f"frame {frame.index}: {exc}")
            return
        if self._segment_first is None:
            self._segment_first = frame.timestamp_s
        self._last, self._last_wall = frame, time.monotonic()
        s.frames += 1
        s.face_frames += r.signals.face_present
        s.usable_frames += r.signals.usable
        s.rolled_frames += camera_rotated(r.signals.roll)
        if r.status.perclos is not None:
            s.perclos_max = max(s.perclos_max or 0.0, r.status.perclos)
        self.outputs.frame(r)
        if self.clips is not None:
            self.clips.frame(r)
        if self.options.keep_episodes:
            s.episodes += self.pipeline.engine.take_episodes()
        if r.updates:
            self._handle_updates(r.updates, r, r.explanations)
        self.listener.result(r)
        if self.logbook is not None:
            self.logbook.heartbeat(frame.timestamp_s)

    def _handle_updates(
        self,
        updates: list[AlertUpdate],
        result: FrameResult | None,
        explanations: dict[int, Explanation],
    ) -> None:
        s = self.tally
        for u in updates:
            if u.action is AlertAction.RAISED:
                s.alerts_by_kind[str(u.alert.kind)] += 1
            kept = s.alerts.get(u.alert.uid, {})  # what the session added, kept across updates
            s.alerts[u.alert.uid] = u.alert.to_dict() | {
                "images": kept.get("images", []),
                "clip": kept.get("clip"),
                "clip_span_s": kept.get("clip_span_s"),
                "clip_error": kept.get("clip_error"),
            }
        for uid, paths in self.outputs.images(explanations).items():
            s.alerts[uid]["images"] += paths
        if not self.options.keep_episodes:  # live: memory stays flat; the log has them all
            for u in updates:
                if u.action is AlertAction.ENDED:
                    s.alerts.pop(u.alert.uid, None)
        if self.clips is not None:
            self.clips.alerts(updates)
        if self.logbook is not None:
            self.logbook.handle(updates, result, explanations)
        change = self.board.apply(updates)
        self.listener.alerts(updates, change, self.board)

    def _fault_of(self, message: str) -> None:
        """An output write failed (live): said, and cleared by the log's next good state."""
        self._fault = message
        self.listener.fault(message)

    def _log_state(self, failure: str | None) -> None:
        if failure != self._fault:
            self._fault = failure
            self.listener.fault(failure)

    # ------------------------------------------------------------------- seek, reconnect
    def _finish_stretch(self) -> None:
        """End the stretch: alerts end at the last frame time, logged with their peak-frame
        explanations; its episode counts and duration add to the session's."""
        pipeline = self._pipeline
        if pipeline is None:
            return
        updates, explanations = pipeline.finish()
        if self.options.keep_episodes:
            self.tally.episodes += pipeline.engine.take_episodes()
        for kind, st in pipeline.engine.episode_stats.items():
            total = self.tally.episode_stats.setdefault(kind, EpisodeStats())
            total.count += st.count
            total.total_s += st.total_s
        if updates:
            self._handle_updates(updates, None, explanations)
        if self._last is not None and self._segment_first is not None:
            period = 1.0 / (self.source.nominal_fps or 30.0)
            self.tally.duration_s += self._last.timestamp_s - self._segment_first + period
        self._segment_first = None

    def _do_seek(self) -> None:
        target, self._seek_to = self._seek_to or 0.0, None
        self._finish_stretch()
        if self.clips is not None:
            self.clips.seek()
        self.source.close()
        self.source = self.choice.open(target)
        self.pipeline.reset()
        self._last = None
        self._pace_t0 = None
        self.tally.seeks += 1
        self.listener.segment(target)
        self.listener.status(f"seeked to {target:.1f} s")

    def _reconnect(self, why: str) -> bool:
        """Reopen the same live source until it comes back or the session is stopped."""
        self.source.close()
        lost_at = time.monotonic()
        every = self.options.reconnect_s
        attempt = 0
        while True:
            attempt += 1
            problem = (
                f"{self.choice.label} lost ({why}); retrying every {every:g} s (attempt {attempt})"
            )
            self.listener.status(problem)
            self.listener.source_problem(problem)
            if self.stop_flag.wait(every):
                return False
            try:
                self.source = self.choice.open(0.0)
            except SourceError as exc:
                why = str(exc)
                continue
            self._rebase = True
            self.tally.reconnects += 1
            self.listener.source_problem(None)
            self.listener.status(
                f"{self.choice.label} is back after {time.monotonic() - lost_at:.0f} s"
            )
            return True

    # --------------------------------------------------------------------------- closing
    def _close(self) -> SessionSummary:
        s = self.tally
        src = self.source
        s.take_source(src)
        try:
            if self.clips is not None:
                self.clips.close()
            self.outputs.close()
            if self.logbook is not None:
                s.session_id = self.logbook.session_id
                s.log_failure = self.logbook.close(s.summary())
        finally:
            src.close()
            if self._pipeline is not None:
                self._pipeline.close()
        if s.log_failure:
            self.listener.fault(s.log_failure)
        return s.summary()
