"""The monitor window: renders the Qt-free :class:`~drowsy.monitor.MonitorModel` (indicators,
banner, alarm level, why line, status) and the session's frames, plots and explanation images.
The window decides nothing itself; the worker feeds the model through queued signals."""

from __future__ import annotations

import threading
from dataclasses import replace

import cv2
import numpy as np
from PyQt6.QtCore import QObject, QSettings, Qt, QThread, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QFontMetrics, QImage, QPixmap
from PyQt6.QtWidgets import (
    QFileDialog,
    QLabel,
)

from drowsy.alerts.board import ActiveAlertBoard, BoardChange
from drowsy.contracts import Alert, AlertAction, AlertLevel
from drowsy.gui.alarm import Alarm
from drowsy.gui.layout import MonitorLayout, disabled_action
from drowsy.gui.settings_dialog import SettingsDialog
from drowsy.gui.worker import PipelineWorker
from drowsy.monitor import LEVEL_COLOURS, Indicator, MonitorModel
from drowsy.overlays import OverlayOptions, attention_strip, draw
from drowsy.pipeline import FrameResult
from drowsy.settings import Settings
from drowsy.sources import SourceOptions
from drowsy.sources.camera import list_cameras
from drowsy.sources.choice import camera_index
from drowsy.summary import SessionSummary

INDICATOR_STYLES = {
    "ok": "color:#1b5e20;",
    "warn": "background:#d98c00; color:white;",
    "alarm": "background:#c62828; color:white;",
    "unknown": "color:#666;",
}


def to_pixmap(image: np.ndarray) -> QPixmap:
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    qimg = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimg.copy())


def fit(label: QLabel, image: np.ndarray) -> None:
    """Show ``image`` in ``label``, scaled to it with its aspect ratio kept."""
    label.setPixmap(
        to_pixmap(image).scaled(
            label.size(),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    )


class CameraProbe(QObject):
    """Finds the cameras that open in a thread of its own (opening one can take a second;
    the window never touches a camera itself) and says which (``found``)."""

    found = pyqtSignal(list)

    def start(self) -> None:
        threading.Thread(target=lambda: self.found.emit(list_cameras()), daemon=True).start()


class MonitorWindow(MonitorLayout):
    """The desktop monitor: video with overlays, indicators, linked plots, the alert banner and
    alarm, explanations and the log."""

    def __init__(
        self,
        settings: Settings,
        source: str | None = None,
        camera: SourceOptions | None = None,
    ) -> None:
        self.camera = camera or SourceOptions()
        super().__init__()
        self.setWindowTitle("drowsy - driver monitor")
        self.setMinimumSize(960, 640)  # fits a 1024x768 screen with its panels
        display = self.screen()
        screen = display.availableGeometry() if display is not None else None
        # a small screen gets all of itself, a large one 85 % (1024x768 laptop to 4K display)
        width = 1280 if screen is None else screen.width()
        height = 800 if screen is None else screen.height()
        if width > 1366 or height > 900:
            width, height = int(0.85 * width), int(0.85 * height)
        self.resize(max(960, width), max(640, height))
        self.settings = settings
        self.model = MonitorModel(settings)
        self.source_spec = source
        self.latest_alert_images: dict[str, np.ndarray] = {}
        self.worker: PipelineWorker | None = None
        self.worker_thread: QThread | None = None  # not ``thread``: QObject.thread() exists
        self.alarm = Alarm()
        self.duration_s = 0.0
        self._alarm_level: AlertLevel | None = None
        self._sound_note_shown = False
        self.stop_reason = "closed"  # or the signal that closed the window
        self.source_problem: str | None = None  # a lost camera being retried
        self.overlay_opts = OverlayOptions()
        self._build(settings, self.camera)
        self._connect_controls()
        self.timer = QTimer(self)  # repaint at 20 Hz, whatever the frame rate
        self.timer.timeout.connect(self._repaint)
        self.timer.start(50)
        geometry = QSettings("drowsy", "monitor").value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.start(source)

    @property
    def latest(self) -> FrameResult | None:
        return self.model.latest

    @property
    def top_alert(self) -> Alert | None:
        """The most severe alert in force (None before the first alert of a session)."""
        return self.model.top_alert

    @property
    def open_error(self) -> str | None:
        return self.model.not_monitoring

    def _connect_controls(self) -> None:
        self.tabs.currentChanged.connect(self._on_tab)
        self.log_timer.timeout.connect(self._refresh_open_log)
        self.log_timer.start(2000)
        self.ack.clicked.connect(self._acknowledge)
        self.play.toggled.connect(self._toggle_pause)
        self.speed.currentTextChanged.connect(self._set_speed)
        self.seek.sliderReleased.connect(self._on_seek_released)
        for name, box in self.overlay_boxes.items():
            box.toggled.connect(lambda on, a=name: self._set_overlay(a, on))
        self.open_video_act.triggered.connect(self._open_video)
        self.demo_act.triggered.connect(lambda: self.start("demo"))
        for mode, act in self.camera_mode_acts:
            act.triggered.connect(lambda _=False, m=mode: self._set_camera_mode(*m))
        self.settings_act.triggered.connect(self._edit_settings)
        self._probe = CameraProbe()
        self._probe.found.connect(self._on_cameras)
        self._probe.start()

    def _on_cameras(self, indices: list[int]) -> None:
        self.camera_menu.clear()
        for index in indices:
            act = QAction(f"camera {index}", self)
            act.triggered.connect(lambda _=False, i=index: self.start(str(i)))
            self.camera_menu.addAction(act)
        if not indices:
            self.camera_menu.addAction(disabled_action("no cameras found", self))

    def _set_camera_mode(self, size: tuple[int, int] | None, fps: float | None) -> None:
        """Ask the camera for ``size`` at ``fps`` from now on; a running camera restarts."""
        self.camera = replace(self.camera, camera_size=size, camera_fps=fps)
        spec = self.source_spec
        if spec is None or camera_index(spec) is not None:
            self.start(spec)

    # -------------------------------------------------------------------------- worker
    def _on_tab(self, index: int) -> None:
        if index == 1:
            self.log_view.refresh()

    def _on_seek_released(self) -> None:
        if self.worker is not None:
            self.worker.seek(self.seek.value())

    def start(self, source: str | None) -> None:
        self.stop()
        self.model.started()
        self.source_spec = source
        self.worker = PipelineWorker(source, self.settings, self.camera)
        thread = self.worker_thread = QThread(self)
        self.worker.moveToThread(thread)
        thread.started.connect(self.worker.run)
        # bound methods, not lambdas: Qt drops a bound slot when the window is destroyed, while a
        # queued lambda from the worker thread would run on a deleted window (a crash)
        for signal, slot in (
            (self.worker.result, self._on_result),
            (self.worker.alert_updates, self._on_alert_updates),
            (self.worker.open_failed, self._on_open_failed),
            (self.worker.fault, self._on_fault),
            (self.worker.source_problem, self._on_source_problem),
            (self.worker.segment, self._on_segment),
            (self.worker.status, self._on_status),
            (self.worker.clip_saved, self._on_clip_saved),
            (self.worker.failed, self._on_failed),
            (self.worker.source_opened, self._on_source),
            (self.worker.pipeline_info, self._on_info),
            (self.worker.finished, self._on_finished),
            (self.worker.finished, thread.quit),
        ):
            signal.connect(slot)
        thread.start()

    def stop(self) -> None:
        self.model.stopped()
        self._show_board()
        if self.worker is not None and self.worker_thread is not None:
            self.worker.stop(self.stop_reason)
            self.worker_thread.quit()
            self.worker_thread.wait(5000)
        self.worker = self.worker_thread = None

    def closeEvent(self, event) -> None:
        QSettings("drowsy", "monitor").setValue("geometry", self.saveGeometry())
        self.timer.stop()
        self.stop()
        self.alarm.stop()
        super().closeEvent(event)

    # --------------------------------------------------------------------------- slots
    def _on_result(self, r: FrameResult) -> None:
        self.model.result(r)
        self._show_video()
        self.plots.add(r)
        by_uid = {u.alert.uid: u.alert for u in r.updates}
        for uid, exp in r.explanations.items():
            self.latest_alert_images = exp.images
            self.model.explained(by_uid.get(uid), exp.moment)
        for u in r.updates:
            att = u.alert.evidence.get("attention")
            if u.action is AlertAction.RAISED and isinstance(att, list) and att:
                self.latest_alert_images = {"attention": attention_strip(att)}
                self.model.explained(u.alert, "attention")
        self.why.setText(self.model.why)

    def _on_alert_updates(
        self, updates: list, change: BoardChange, board: ActiveAlertBoard
    ) -> None:
        """The banner and the alarm follow the session's board."""
        self.model.alerts(change, board)
        for u in updates:
            self.plots.alert(*self.model.span(u))
        self._show_board()

    def _show_board(self) -> None:
        b = self.model.banner()
        if b.level is None:
            self.banner.show_message(b.text, colour=b.colour)
        else:
            self.banner.show_alert(b.level, b.text, b.colour or LEVEL_COLOURS[b.level], b.flash)
        level = self.model.alarm_level
        if level != self._alarm_level:
            self._alarm_level = level
            if level is None:
                self.alarm.stop()
            else:
                self.alarm.play(level)
                if self.alarm.unavailable and not self._sound_note_shown:
                    self._sound_note_shown = True
                    self.status_bar.showMessage("sound unavailable: visual alerts only", 8000)

    def _on_segment(self, _start_s: float) -> None:
        self.plots.reset_history()

    def _refresh_open_log(self) -> None:
        if self.tabs.currentIndex() == 1:
            self.log_view.refresh()

    def _on_open_failed(self, text: str) -> None:
        self.model.open_failed(text)
        self.video.setText(f"cannot open the source\n{text}")
        self._show_board()

    def _indicate(self, name: str, ind: Indicator) -> None:
        """A state in words and colour (never colour alone), big enough at arm's length."""
        label = self.indicators[name]
        label.setText(ind.text)
        label.setStyleSheet(
            f"font-size:15px; font-weight:bold; padding:0 4px; {INDICATOR_STYLES[ind.state]}"
        )

    def _on_source_problem(self, text: str) -> None:
        """A lost camera being retried is said where the driver looks, until it is back."""
        self.source_problem = text or None

    def _on_fault(self, text: str) -> None:
        metrics = QFontMetrics(self.fault_label.font())
        width = max(200, self.width() - 40)
        self.fault_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))
        self.fault_label.setToolTip(text)
        self.fault_label.setVisible(bool(text))

    def _on_status(self, text: str) -> None:
        self.status_bar.showMessage(text, 10000)
        if self.top_alert is None:
            self.model.status(text)
            self._show_board()

    def _on_clip_saved(self, text: str) -> None:
        self.status_bar.showMessage(text, 6000)
        self._refresh_open_log()  # the log tab can play it now

    def _on_failed(self, text: str) -> None:
        self.status_bar.showMessage(f"error: {text}", 15000)

    def _on_source(self, label: str, live: bool, duration_s: float) -> None:
        self.setWindowTitle(f"drowsy - {label}")
        self.duration_s = duration_s
        if duration_s > 0:
            self.seek.setRange(0, int(duration_s))
        for w in (self.play, self.speed, self.seek):
            w.setEnabled(not live)

    def _on_info(self, info: dict) -> None:
        self.model.info = info

    def _on_finished(self, summary: SessionSummary | None) -> None:
        if self.top_alert is None:  # an alert still in force keeps the banner
            self.model.finished(summary)
            self._show_board()
        self.log_view.refresh()

    def _acknowledge(self) -> None:
        """Silence the alarm for the alerts in force; an escalation or a new alert sounds again.
        The banner keeps showing what is active."""
        self.model.acknowledge()
        self._show_board()

    def _toggle_pause(self, paused: bool) -> None:
        self.play.setText("Play" if paused else "Pause")
        if self.worker:
            self.worker.set_paused(paused)

    def _set_speed(self, text: str) -> None:
        if self.worker:
            self.worker.speed = float(text.rstrip("x"))

    def _set_overlay(self, attr: str, on: bool) -> None:
        self.overlay_opts = replace(self.overlay_opts, **{attr: on})

    def _open_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open video", "", "Videos (*.mp4 *.avi *.mov *.mkv)"
        )
        if path:
            self.start(path)

    def _edit_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.settings = self.model.settings = dialog.settings
            self.log_view.settings = self.settings
            self.start(self.source_spec)

    # -------------------------------------------------------------------------- repaint
    def _show_video(self) -> None:
        """The newest frame with its overlays, as soon as it arrives (not on the 20 Hz timer:
        measured, waiting for the timer added 25 ms median from capture to screen)."""
        r = self.latest
        if r is None or self.source_problem:
            return
        fit(self.video, draw(r.frame.image, r.observation, self.overlay_opts))

    def _repaint(self) -> None:
        """Plots, indicators and explanations at 20 Hz, whatever the frame rate."""
        if self.source_problem:
            self.video.setText(f"NOT MONITORING\n{self.source_problem}")
            return
        r = self.latest
        if r is None:
            return
        self.plots.redraw()
        for name, ind in (self.model.indicators() or {}).items():
            self._indicate(name, ind)
        panels = [img for role, img in self.latest_alert_images.items() if "face" not in role]
        if panels:
            width = max(p.shape[1] for p in panels)
            fit(
                self.gradcam,
                np.vstack(
                    [
                        cv2.copyMakeBorder(p, 0, 2, 0, width - p.shape[1], cv2.BORDER_CONSTANT)
                        for p in panels
                    ]
                ),
            )
        self.status_label.setText(self.model.status_line())
        t = r.frame.timestamp_s
        if self.seek.isEnabled() and not self.seek.isSliderDown():
            self.seek.setValue(int(t))
        total_s = f" / {self.duration_s:.0f} s" if self.duration_s else " s"
        self.clock.setText(f"{t:6.1f}{total_s}")
