"""The session runner: the one frame loop of drowsy.

``analyze``, ``run``, the monitor's worker thread and ``evaluate blinks`` all drive their source
through :class:`Session`; none has a loop of its own. The runner owns what went wrong when every
caller had its own loop: source choice and reopening (a lost camera is retried, never replaced
by the demo; its restarted clock is rebased so the same pipeline continues), seeks (the old
stretch's alerts are ended and logged, alert ids never repeat), pacing, the pipeline's
lifetime, the sinks, explanation images, the active-alert board, heartbeats for crash
recovery, clean shutdown on SIGINT/SIGTERM and the typed session summary.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from drowsy.alertlog import AlertLog
from drowsy.alerts.board import ActiveAlertBoard, BoardChange
from drowsy.alerts.engine import EpisodeStats
from drowsy.contracts import AlertAction, AlertUpdate, Episode, Frame
from drowsy.errors import LogError, SourceError, UserError
from drowsy.inference.explain import Explanation
from drowsy.pipeline import FrameResult, Observed, Pipeline
from drowsy.settings import Settings
from drowsy.sinks import FramesCsv, LogSink, png_bytes
from drowsy.sources import (
    CameraSource,
    FrameSource,
    LatestFrameSource,
    SourceOptions,
    VideoFileSource,
    open_source,
)
from drowsy.vision.pose import CAMERA_ROTATED_ROLL_DEG, camera_rotated

log = logging.getLogger(__name__)
ROTATED_MIN_FRAMES = 10  # face frames before a rolled head is called a rotated camera
PREFETCH_FRAMES = 4  # frames each stage thread may run ahead (bounded memory: a few images)
T = TypeVar("T")


def run_ahead(
    items: Iterable[T], name: str, on_end: Callable[[], object] | None = None
) -> Generator[T]:
    """Iterate ``items`` in a thread of its own, at most ``PREFETCH_FRAMES`` items ahead of the
    caller, in order. An exception raised by ``items`` is raised here after the items before
    it. Closing this generator stops the thread and waits for it; ``on_end`` then runs in the
    thread (to close what it was iterating, from the thread that iterated it)."""
    ahead: queue.Queue = queue.Queue(maxsize=PREFETCH_FRAMES)
    done = threading.Event()
    end = object()

    def put(item: object) -> bool:
        while not done.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item,)):
                    return
            put(end)
        except BaseException as exc:  # re-raised in the caller's thread, in order
            put(exc)
        finally:
            if on_end is not None:
                on_end()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while (item := ahead.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item[0]
    finally:
        done.set()
        worker.join()


# ------------------------------------------------------------------------------ sources
@dataclass(frozen=True, slots=True)
class SourceChoice:
    """What to read and how to (re)open it: ``open(start_s)`` returns a fresh source; a camera
    ignores ``start_s``. Reopening always reopens the same thing."""

    label: str
    live: bool
    open: Callable[[float], FrameSource]
    note: str = ""  # said once to the user, e.g. why the sample plays instead of a camera


def _camera(index: int, options: SourceOptions) -> Callable[[float], FrameSource]:
    return lambda _start: LatestFrameSource(CameraSource(index, options))


def _file(
    spec: str, options: SourceOptions, make: Callable[..., FrameSource] = open_source
) -> Callable[[float], FrameSource]:
    return lambda start: make(spec, replace(options, start_s=start or options.start_s))


def choose_source(
    spec: str | None, options: SourceOptions | None = None
) -> tuple[SourceChoice, FrameSource]:
    """The requested source, opened: a camera index, a video file, an image folder, ``demo``;
    with no spec camera 0, or (none there) the built-in sample. Raises SourceError when it
    cannot be opened."""
    options = options or SourceOptions()
    if spec is None:
        try:
            opener = _camera(0, options)
            return SourceChoice("camera 0", True, opener), opener(0.0)
        except SourceError as exc:
            camera_error = str(exc)
        spec = "demo"
    else:
        camera_error = ""
    if spec == "demo":
        from drowsy import sample

        path = str(sample.sample_video())
        opener = _file(path, options)
        note = (
            f"no camera found ({camera_error}): playing the built-in sample" if camera_error else ""
        )
        return SourceChoice("built-in sample", False, opener, note), opener(options.start_s)
    if spec.isdigit():
        opener = _camera(int(spec), options)
        return SourceChoice(f"camera {spec}", True, opener), opener(0.0)
    opener = _file(spec, options)
    return SourceChoice(spec, False, opener), opener(options.start_s)


def file_choice(
    path: Path, options: SourceOptions | None = None
) -> tuple[SourceChoice, FrameSource]:
    """A video file (a folder is refused, not read as images): what ``analyze`` takes."""
    options = options or SourceOptions()
    opener = _file(str(path), options, VideoFileSource)
    return SourceChoice(str(path), False, opener), opener(options.start_s)


# ------------------------------------------------------------------------------ stopping
class StopFlag:
    """Set by a signal handler, a GUI button or a test; sessions check it between frames."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def set(self, reason: str = "stopped") -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


@contextmanager
def stop_on_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """SIGINT and SIGTERM (what Ctrl+C, ``systemctl stop`` and ``kill`` send) set ``flag`` so
    the session ends cleanly: alerts end at the last frame, the session is closed as
    interrupted, a partial summary is written. A second SIGINT stops at once. Only the main
    thread can install handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if flag.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set(name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


SIGNAL_REASONS = ("SIGINT", "SIGTERM")


def exit_code(reason: str | None) -> int:
    """The conventional exit status of a process ended by a signal (128 + its number)."""
    if reason in SIGNAL_REASONS:
        return 128 + int(signal.Signals[reason])
    return 0


# ---------------------------------------------------------------------- listener, options
class SessionListener:
    """What a front end hears from a session (all no-ops here). Called on the session's
    thread: the GUI forwards them as queued Qt signals."""

    def opened(self, label: str, live: bool, duration_s: float) -> None: ...

    def info(self, provider: str, models: dict[str, str]) -> None: ...

    def result(self, r: FrameResult) -> None: ...

    def alerts(
        self, updates: list[AlertUpdate], change: BoardChange, board: ActiveAlertBoard
    ) -> None: ...

    def status(self, text: str) -> None: ...

    def source_problem(self, text: str | None) -> None:
        """The source is lost and being retried (text), or is back (None)."""

    def fault(self, text: str | None) -> None:
        """A write is failing (text) or all failed writes have landed (None)."""

    def frame_error(self, text: str) -> None: ...

    def segment(self, start_s: float) -> None:
        """A new stretch begins (after a seek): plots restart."""


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How a session runs: pacing, failure policy, outputs, what it keeps, reconnects and
    heartbeats."""

    pace: bool = False  # files at their own pace (times ``Session.speed``); live never waits
    fail_fast: bool = True  # offline: a failed output write ends the session with an error
    images_dir: Path | None = None  # explanation PNGs (analyze)
    frames_csv: Path | None = None
    # offline: every episode and alert in the summary; live keeps aggregates (flat memory)
    keep_episodes: bool = False
    progress: bool = False
    reconnect_s: float = 2.0
    heartbeat_s: float = 5.0
    # recorded video, unpaced: decoding and the face mesh run a few frames ahead, each in a
    # thread of its own (see Session._frames)
    pipelined: bool = True


@dataclass(slots=True)
class SessionSummary:
    """What a session did; ``to_dict()`` is summary.json and the log's session summary."""

    source: str
    session_id: int | None = None
    frames: int = 0
    duration_s: float = 0.0
    face_frames: int = 0
    usable_frames: int = 0
    rolled_frames: int = 0  # face frames with the head rolled beyond CAMERA_ROTATED_ROLL_DEG
    source_rotation_deg: int = 0
    perclos_max: float | None = None
    episode_stats: dict[str, EpisodeStats] = field(default_factory=dict)
    episodes: list[Episode] = field(default_factory=list)
    alerts: dict[int, dict] = field(default_factory=dict)  # live: only the active ones
    alerts_by_kind: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    interrupted: bool = False
    stop_reason: str | None = None
    reconnects: int = 0
    seeks: int = 0
    frame_errors: int = 0
    source_fps: float | None = None
    skipped_frames: int = 0
    repaired_timestamps: int = 0
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    log_failure: str | None = None

    def count(self, kind: str) -> int:
        stats = self.episode_stats.get(kind)
        return stats.count if stats else 0

    @property
    def alerts_raised(self) -> int:
        return sum(self.alerts_by_kind.values())

    def to_dict(self) -> dict:
        blinks = self.episode_stats.get("blink")
        minutes = self.duration_s / 60.0
        wall = self.wall_s
        return {
            "frames": self.frames,
            "duration_s": round(self.duration_s, 3),
            "face_found_rate": round(self.face_frames / self.frames, 4) if self.frames else 0.0,
            "usable_face_rate": round(self.usable_frames / self.frames, 4) if self.frames else 0.0,
            "blinks": self.count("blink"),
            "blink_rate_per_min": round(self.count("blink") / minutes, 2) if minutes > 0 else None,
            "mean_blink_duration_s": (
                round(blinks.total_s / blinks.count, 4) if blinks and blinks.count else None
            ),
            "long_blinks": self.count("long_blink"),
            "yawns": self.count("yawn"),
            "perclos_max": None if self.perclos_max is None else round(self.perclos_max, 4),
            # the running count: a live session keeps only its active alerts in ``alerts``
            "alerts_by_kind": dict(sorted(self.alerts_by_kind.items())),
            "processing_fps": round(self.frames / wall, 2) if wall > 0 else None,
            "realtime_factor": round(self.duration_s / wall, 2) if wall > 0 else None,
            "interrupted": self.interrupted,
            **({"stop_reason": self.stop_reason} if self.stop_reason else {}),
            "reconnects": self.reconnects,
            "seeks": self.seeks,
            "frame_errors": self.frame_errors,
            "source_rotation_deg": self.source_rotation_deg,
            "warnings": list(self.warnings),
            **({"log_failure": self.log_failure} if self.log_failure else {}),
        }


# ------------------------------------------------------------------------------ session
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
        self.summary = SessionSummary(source=choice.label)
        self.sink: LogSink | None = None
        self._csv: FramesCsv | None = None
        # time rebasing after a camera reconnect: new clock + offset continues the old one
        self._offset_s = 0.0
        self._index_offset = 0
        self._rebase = False
        self._last: Frame | None = None
        self._last_wall = 0.0
        self._segment_first: float | None = None
        self._next_heartbeat = 0.0
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
        s = self.summary
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
            if self.options.frames_csv is not None:
                path = self.options.frames_csv
                made = self._output(lambda: FramesCsv(path), path)
                self._csv = made if isinstance(made, FramesCsv) else None
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
            self._close()
        return s

    def _open_log(self, pipeline: Pipeline) -> None:
        if self.alert_log is None:
            return
        db = self.alert_log

        def start() -> int:
            sid = db.start_session(
                self.choice.label, self.settings.model_dump(), pipeline.model_versions
            )
            self.summary.session_id = sid
            return sid

        try:
            sid = start()
        except LogError:
            if self.options.fail_fast:
                raise
            sid = None
        self.sink = LogSink(db, sid, self.settings.log.snapshots, start_session=start)
        if sid is None:
            self.sink.retry()
            self._report_fault()

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
                    yield frame, self.pipeline.observe(frame)
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
        s = self.summary
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
        if self._csv is not None:
            csv_out = self._csv
            if self._output(lambda: csv_out.write(r)) is False:
                self._csv = None  # live: stop writing it, keep monitoring
        if self.options.keep_episodes:
            self.summary.episodes += self.pipeline.engine.take_episodes()
        if r.updates:
            self._handle_updates(r.updates, r, r.explanations)
        self.listener.result(r)
        self._heartbeat(frame.timestamp_s)

    def _handle_updates(
        self,
        updates: list[AlertUpdate],
        result: FrameResult | None,
        explanations: dict[int, Explanation],
    ) -> None:
        s = self.summary
        for u in updates:
            if u.action is AlertAction.RAISED:
                s.alerts_by_kind[str(u.alert.kind)] += 1
            s.alerts[u.alert.uid] = u.alert.to_dict() | {
                "images": s.alerts.get(u.alert.uid, {}).get("images", [])
            }
        self._save_images(explanations)
        if not self.options.keep_episodes:  # live: memory stays flat; the log has them all
            for u in updates:
                if u.action is AlertAction.ENDED:
                    s.alerts.pop(u.alert.uid, None)
        if self.sink is not None:
            self.sink.handle(updates, result, explanations)
            self._report_fault()
        change = self.board.apply(updates)
        self.listener.alerts(updates, change, self.board)

    def _save_images(self, explanations: dict[int, Explanation]) -> None:
        folder = self.options.images_dir
        if folder is None:
            return
        for uid, exp in explanations.items():
            for role, image in exp.images.items():
                name = f"alert{uid:03d}_{role}.png"

                def write(name: str = name, image=image) -> None:
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_bytes(png_bytes(image))

                if self._output(write, folder / name) is not False:
                    self.summary.alerts[uid]["images"].append(f"{folder.name}/{name}")

    def _output(self, write: Callable[[], object], path: Path | None = None) -> object:
        """Run one output write. Offline a failure is the end (a one-line error); live it is
        reported and monitoring goes on."""
        try:
            return write()
        except OSError as exc:
            where = path or self.options.frames_csv or self.options.images_dir
            message = f"cannot write {where}: {exc.strerror or exc}"
            if self.options.fail_fast:
                raise UserError(message) from exc
            self._fault = message
            self.listener.fault(message)
            return False

    def _heartbeat(self, t: float) -> None:
        now = time.monotonic()
        if now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.options.heartbeat_s
        if self.sink is None:
            return
        self.sink.retry()  # a disk that came back gets the queued alerts now
        if self.sink.session_id is not None:
            try:
                self.alert_log.heartbeat(self.sink.session_id, t)  # type: ignore[union-attr]
            except LogError as exc:
                if not self.sink.failure:
                    self.sink.failure = str(exc)
        self._report_fault()

    def _report_fault(self) -> None:
        failure = self.sink.failure if self.sink is not None else None
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
            self.summary.episodes += pipeline.engine.take_episodes()
        for kind, st in pipeline.engine.episode_stats.items():
            total = self.summary.episode_stats.setdefault(kind, EpisodeStats())
            total.count += st.count
            total.total_s += st.total_s
        if updates:
            self._handle_updates(updates, None, explanations)
        if self._last is not None and self._segment_first is not None:
            period = 1.0 / (self.source.nominal_fps or 30.0)
            self.summary.duration_s += self._last.timestamp_s - self._segment_first + period
        self._segment_first = None

    def _do_seek(self) -> None:
        target, self._seek_to = self._seek_to or 0.0, None
        self._finish_stretch()
        self.source.close()
        self.source = self.choice.open(target)
        self.pipeline.reset()
        self._last = None
        self._pace_t0 = None
        self.summary.seeks += 1
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
            self.summary.reconnects += 1
            self.listener.source_problem(None)
            self.listener.status(
                f"{self.choice.label} is back after {time.monotonic() - lost_at:.0f} s"
            )
            return True

    # --------------------------------------------------------------------------- closing
    def _close(self) -> None:
        s = self.summary
        src = self.source
        stats = src.stats
        s.source_fps = round(src.nominal_fps, 3) if src.nominal_fps else None
        s.skipped_frames += stats.skipped
        s.repaired_timestamps += stats.repaired_timestamps
        s.truncated = s.truncated or stats.truncated
        s.warnings += [w for w in stats.warnings if w not in s.warnings]
        s.source_rotation_deg = stats.rotation_deg
        if s.face_frames >= ROTATED_MIN_FRAMES and s.rolled_frames >= s.face_frames / 2:
            s.warnings.append(
                f"the head is rolled beyond {CAMERA_ROTATED_ROLL_DEG:g} degrees in"
                f" {s.rolled_frames} of {s.face_frames} face frames: camera rotated? Mount the"
                " camera upright (or rotate the video); drowsiness is not scored on such frames"
            )
        if self._csv is not None:
            csv_out = self._csv
            self._output(csv_out.close)
        try:
            if self.sink is not None:
                self.sink.retry()
                s.log_failure = self.sink.final_failure()
                if self.sink.session_id is not None:
                    self.alert_log.end_session(  # type: ignore[union-attr]
                        self.sink.session_id, s.to_dict(), interrupted=s.interrupted
                    )
        except LogError as exc:
            s.log_failure = str(exc)
        finally:
            src.close()
            if self._pipeline is not None:
                self._pipeline.close()
        if s.log_failure:
            self.listener.fault(s.log_failure)

    def episodes_dicts(self) -> list[dict]:
        return [
            {
                "kind": e.kind,
                "start_s": round(e.start_s, 3),
                "end_s": round(e.end_s, 3),
                "duration_s": round(e.duration_s, 3),
            }
            for e in self.summary.episodes
        ]
