"""The pipeline in a worker thread. Widgets never read the camera or call ONNX Runtime: they
get :class:`FrameResult` objects through Qt signals (queued across threads)."""

from __future__ import annotations

import logging
import threading
import time
import traceback

from PyQt6.QtCore import QObject, pyqtSignal, pyqtSlot

from drowsy.alertlog import AlertLog
from drowsy.errors import SourceError, UserError
from drowsy.pipeline import FrameResult, Pipeline
from drowsy.sample import sample_video
from drowsy.settings import Settings, default_log_path
from drowsy.sinks import LogSink
from drowsy.sources import (
    CameraSource,
    FrameSource,
    LatestFrameSource,
    SourceOptions,
    VideoFileSource,
    open_source,
)

log = logging.getLogger(__name__)
RECONNECT_S = 2.0


class PipelineWorker(QObject):
    result = pyqtSignal(object)  # FrameResult
    status = pyqtSignal(str)  # one-line messages for the status bar / banner
    failed = pyqtSignal(str)  # an error in a stage: shown and logged, the run goes on
    source_opened = pyqtSignal(str, bool, float)  # label, is_live, duration_s (0: unknown)
    pipeline_info = pyqtSignal(dict)  # execution provider and model versions
    finished = pyqtSignal(dict)  # session summary

    def __init__(self, spec: str | None, settings: Settings) -> None:
        super().__init__()
        self.spec = spec
        self.settings = settings
        self._stop = threading.Event()
        self._paused = threading.Event()
        self.speed = 1.0
        self._seek_to: float | None = None
        self.log_path = default_log_path(settings)

    # ---------------------------------------------------------------- control (any thread)
    def stop(self) -> None:
        self._stop.set()

    def set_paused(self, paused: bool) -> None:
        (self._paused.set if paused else self._paused.clear)()

    def seek(self, seconds: float) -> None:
        self._seek_to = max(0.0, seconds)

    # --------------------------------------------------------------------- worker thread
    def _open(self, start_s: float = 0.0) -> tuple[FrameSource, str]:
        opts = SourceOptions(start_s=start_s)
        if self.spec in (None, "demo"):
            if self.spec is None:
                try:
                    return LatestFrameSource(CameraSource(0, opts)), "camera 0"
                except SourceError:
                    self.status.emit("no camera found: playing the built-in sample")
            return VideoFileSource(sample_video(), opts), "built-in sample"
        source = open_source(self.spec, opts)
        if source.live:
            return LatestFrameSource(source), f"camera {self.spec}"
        return source, self.spec

    @pyqtSlot()
    def run(self) -> None:
        summary: dict = {}
        try:
            with AlertLog(self.log_path) as db:
                summary = self._run(db)
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # last resort: never let the thread die silently
            log.error("monitor stopped: %s\n%s", exc, traceback.format_exc())
            self.failed.emit(f"monitor stopped: {exc}")
        finally:
            self.finished.emit(summary)

    def _run(self, db: AlertLog) -> dict:
        source, label = self._open()
        frames_total = source.stats.expected_frames or 0
        duration = frames_total / source.nominal_fps if source.nominal_fps else 0.0
        self.source_opened.emit(label, source.live, float(duration))
        pipeline = Pipeline(self.settings)
        self.pipeline_info.emit({"provider": pipeline.provider, "models": pipeline.model_versions})
        session = db.start_session(label, self.settings.model_dump(), pipeline.model_versions)
        sink = LogSink(db, session, self.settings.log.snapshots)
        frames = alerts = 0
        t0 = None
        try:
            while not self._stop.is_set():
                try:
                    for frame in source:
                        if self._stop.is_set():
                            break
                        while self._paused.is_set() and not self._stop.is_set():
                            time.sleep(0.05)
                        if self._seek_to is not None and not source.live:
                            break
                        if not source.live:  # files play at their own pace times speed
                            now = time.monotonic()
                            if t0 is None or frames == 0:
                                t0 = now - frame.timestamp_s / self.speed
                            delay = t0 + frame.timestamp_s / self.speed - now
                            if delay > 0:
                                time.sleep(delay)
                            elif delay < -0.5:
                                t0 = now - frame.timestamp_s / self.speed
                        result = self._process(pipeline, frame)
                        if result is None:
                            continue
                        frames += 1
                        if result.updates:
                            sink.handle(result.updates, result)
                            alerts += sum(u.action.value == "raised" for u in result.updates)
                        self.result.emit(result)
                    else:
                        if self._seek_to is None:
                            break  # the video ended
                    if self._seek_to is not None and not source.live:
                        target, self._seek_to = self._seek_to, None
                        source.close()
                        source, _ = self._open(target)
                        pipeline.close()
                        pipeline = Pipeline(self.settings)
                        t0, frames = None, 0
                except SourceError as exc:
                    if not source.live:
                        raise
                    self.status.emit(f"{exc}; reconnecting every {RECONNECT_S:.0f} s")
                    source.close()
                    source = self._reconnect()
                    if source is None:
                        break
                    self.status.emit("camera reconnected")
        finally:
            final, explanations = pipeline.finish()
            if final:
                sink.handle(final, None, explanations)
            pipeline.close()
            source.close()
        summary = {"session": session, "frames": frames, "alerts": alerts, "source": label}
        db.end_session(session, summary)
        return summary

    def _reconnect(self) -> FrameSource | None:
        while not self._stop.wait(RECONNECT_S):
            try:
                return self._open()[0]
            except SourceError:
                continue
        return None

    def _process(self, pipeline: Pipeline, frame) -> FrameResult | None:
        try:
            return pipeline.process(frame)
        except Exception as exc:  # a stage failed on this frame: report, keep running
            log.error("frame %d: %s\n%s", frame.index, exc, traceback.format_exc())
            self.failed.emit(f"frame {frame.index}: {exc}")
            return None
