"""The session runner in a worker thread. Widgets never read the camera or call ONNX Runtime:
they get :class:`FrameResult` objects and alert updates through Qt signals (queued across
threads). Seeks, reconnects, shutdown and log faults are the session runner's
(:mod:`drowsy.session`), the same code ``drowsy run`` and ``analyze`` use."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal, pyqtSlot

from drowsy.alertlog import AlertLog
from drowsy.alerts.board import ActiveAlertBoard, BoardChange
from drowsy.clips.store import live_clips_dir
from drowsy.contracts import AlertUpdate
from drowsy.errors import LogError, UserError
from drowsy.lifecycle import StopFlag
from drowsy.pipeline import FrameResult
from drowsy.sample import choose_source
from drowsy.session import Session, SessionListener, SessionOptions, SessionSummary
from drowsy.settings import Settings, default_log_path
from drowsy.sources import SourceOptions

log = logging.getLogger(__name__)


class _Forward(SessionListener):
    """Session events -> the worker's Qt signals."""

    def __init__(self, worker: PipelineWorker) -> None:
        self.w = worker

    def opened(self, label: str, live: bool, duration_s: float) -> None:
        self.w.source_opened.emit(label, live, duration_s)

    def info(self, provider: str, models: dict[str, str]) -> None:
        self.w.pipeline_info.emit({"provider": provider, "models": models})

    def result(self, r: FrameResult) -> None:
        self.w.result.emit(r)

    def alerts(
        self, updates: list[AlertUpdate], change: BoardChange, board: ActiveAlertBoard
    ) -> None:
        # alerts are frozen snapshots and the board is the session's own (locked): the GUI
        # thread reads both while the engine goes on
        self.w.alert_updates.emit(list(updates), change, board)

    def status(self, text: str) -> None:
        self.w.status.emit(text)

    def fault(self, text: str | None) -> None:
        self.w.fault.emit(text or "")

    def source_problem(self, text: str | None) -> None:
        self.w.source_problem.emit(text or "")

    def frame_error(self, text: str) -> None:
        self.w.failed.emit(text)

    def segment(self, start_s: float) -> None:
        self.w.segment.emit(start_s)

    def clip(self, uid: int, path: Path | None, error: str | None) -> None:
        if path is not None:
            self.w.clip_saved.emit(f"alert {uid}: clip saved")


class PipelineWorker(QObject):
    """Runs a session in a Qt worker thread and forwards its listener calls to the window as
    signals."""

    result = pyqtSignal(object)  # FrameResult
    # list[AlertUpdate] (every change incl. end of stream), BoardChange, the session's board
    alert_updates = pyqtSignal(object, object, object)
    status = pyqtSignal(str)  # one-line messages (source lost/back, seeks)
    clip_saved = pyqtSignal(str)  # an alert's clip is written (said in the status bar)
    failed = pyqtSignal(str)  # an error in a stage on one frame: shown, the run goes on
    open_failed = pyqtSignal(str)  # the source never opened
    fault = pyqtSignal(str)  # a failing alert-log write ("" when writes have recovered)
    source_problem = pyqtSignal(str)  # the camera is lost and retried ("" when it is back)
    source_opened = pyqtSignal(str, bool, float)  # label, is_live, duration_s (0: unknown)
    pipeline_info = pyqtSignal(dict)  # execution provider and model versions
    segment = pyqtSignal(float)  # a seek started a new stretch at this time
    finished = pyqtSignal(object)  # the SessionSummary, None when the source never opened

    def __init__(
        self, spec: str | None, settings: Settings, camera: SourceOptions | None = None
    ) -> None:
        super().__init__()
        self.spec = spec
        self.camera = camera or SourceOptions()
        self.settings = settings
        self.stop_flag = StopFlag()
        self.session: Session | None = None
        self._speed = 1.0
        self.log_path = default_log_path(settings)

    # ---------------------------------------------------------------- control (any thread)
    def stop(self, reason: str = "closed") -> None:
        self.stop_flag.set(reason)

    def set_paused(self, paused: bool) -> None:
        if self.session is not None:
            self.session.pause(paused)

    def seek(self, seconds: float) -> None:
        if self.session is not None:
            self.session.seek(seconds)

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        self._speed = value
        if self.session is not None:
            self.session.speed = value

    # --------------------------------------------------------------------- worker thread
    @pyqtSlot()
    def run(self) -> None:
        summary: SessionSummary | None = None
        try:
            summary = self._run()
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # last resort: never let the thread die silently
            log.error("monitor stopped: %s\n%s", exc, traceback.format_exc())
            self.failed.emit(f"monitor stopped: {exc}")
        finally:
            self.finished.emit(summary)

    def _run(self) -> SessionSummary | None:
        try:
            choice, source = choose_source(self.spec, self.camera)
        except UserError as exc:
            self.open_failed.emit(str(exc))
            return None
        try:
            db: AlertLog | None = AlertLog(self.log_path)
        except LogError as exc:  # monitoring matters more than logging
            self.fault.emit(f"{exc}; alerts are shown but not logged")
            db = None
        try:
            self.session = Session(
                self.settings,
                choice,
                source,
                db,
                SessionOptions(
                    pace=True,
                    fail_fast=False,
                    clips_dir=live_clips_dir(self.settings),
                    clips_shared=True,
                ),
                _Forward(self),
                self.stop_flag,
            )
            self.session.speed = self._speed
            if source.describe():  # what the camera really delivers, asked for or not
                self.status.emit(f"{choice.label}: {source.describe()}")
            return self.session.run()
        finally:
            if db is not None:
                db.close()
