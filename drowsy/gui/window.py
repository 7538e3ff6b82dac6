"""The monitor window: a thin view over the worker's FrameResults."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QThread, QTimer
from PyQt6.QtGui import QAction, QImage, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from drowsy.alerts.board import ActiveAlertBoard
from drowsy.contracts import AlertAction, AlertLevel
from drowsy.gui.alarm import Alarm
from drowsy.gui.logview import LogView
from drowsy.gui.settings_dialog import SettingsDialog
from drowsy.gui.worker import PipelineWorker
from drowsy.overlays import OverlayOptions, draw
from drowsy.pipeline import FrameResult
from drowsy.settings import Settings

WINDOW_S = 60.0
LEVEL_COLOURS = {
    AlertLevel.INFO: "#2f6fb3",
    AlertLevel.WARNING: "#d98c00",
    AlertLevel.CRITICAL: "#c62828",
}


def to_pixmap(image: np.ndarray) -> QPixmap:
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    qimg = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimg.copy())


class Plots(pg.GraphicsLayoutWidget):
    """The last 60 s of eye closure, PERCLOS, yawn and head pose."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("w")
        self.t: deque[float] = deque()
        self.series: dict[str, deque[float]] = {}
        eyes = self.addPlot(row=0, col=0, title="eyes closed / PERCLOS / yawn")
        eyes.setYRange(0, 1)
        eyes.addLegend(offset=(-5, 5), colCount=3)
        head = self.addPlot(row=1, col=0, title="head yaw / pitch (deg), last 60 s")
        head.addLegend(offset=(-5, 5), colCount=2)
        temporal = self.addPlot(row=2, col=0, title="temporal model: drowsiness / distraction")
        temporal.setYRange(0, 1)
        temporal.addLegend(offset=(-5, 5), colCount=2)
        for plot in (eyes, head, temporal):
            plot.setXRange(-WINDOW_S, 0)
            plot.showGrid(x=True, y=True, alpha=0.3)
        self.curves = {
            "eye_closed": eyes.plot(pen=pg.mkPen("#1565c0", width=2), name="eyes closed"),
            "perclos": eyes.plot(pen=pg.mkPen("#c62828", width=2), name="PERCLOS"),
            "yawn": eyes.plot(pen=pg.mkPen("#2e7d32", width=1), name="yawn"),
            "yaw": head.plot(pen=pg.mkPen("#6a1b9a", width=2), name="yaw"),
            "pitch": head.plot(pen=pg.mkPen("#ef6c00", width=2), name="pitch"),
            "drowsiness": temporal.plot(pen=pg.mkPen("#c62828", width=2), name="drowsiness"),
            "distraction": temporal.plot(pen=pg.mkPen("#6a1b9a", width=2), name="distraction"),
        }
        for k in self.curves:
            self.series[k] = deque()

    def add(self, r: FrameResult) -> None:
        s = r.signals
        values = {
            "eye_closed": s.eye_closed,
            "perclos": r.status.perclos,
            "yawn": s.yawn,
            "yaw": s.yaw,
            "pitch": s.pitch,
            "drowsiness": None if r.state is None else r.state.drowsiness,
            "distraction": None if r.state is None else r.state.distraction,
        }
        self.t.append(s.timestamp_s)
        for k, v in values.items():
            self.series[k].append(np.nan if v is None else float(v))
        while self.t and self.t[0] < s.timestamp_s - WINDOW_S:  # memory stays flat for hours
            self.t.popleft()
            for q in self.series.values():
                q.popleft()

    def reset_history(self) -> None:
        """Forget the drawn history (a seek: data before it is another stretch of video).
        Not named ``clear``: pyqtgraph binds that name to the layout's own clear."""
        self.t.clear()
        for q in self.series.values():
            q.clear()
        for curve in self.curves.values():
            curve.setData([], [])

    def redraw(self) -> None:
        if not self.t:
            return
        t = np.asarray(self.t) - self.t[-1]
        for k, curve in self.curves.items():
            curve.setData(t, np.asarray(self.series[k]), connect="finite")


class MonitorWindow(QMainWindow):
    def __init__(self, settings: Settings, source: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("drowsy - driver monitor")
        self.resize(1280, 800)
        self.settings = settings
        self.source_spec = source
        self.latest: FrameResult | None = None
        self.latest_alert_images: dict[str, np.ndarray] = {}
        self.fps = 0.0
        self._last_t: float | None = None
        self.worker: PipelineWorker | None = None
        self.info: dict = {}
        self.thread: QThread | None = None
        self.alarm = Alarm()
        self._alarm_level: AlertLevel | None = None
        self._sound_note_shown = False
        self.board = ActiveAlertBoard()
        self.last_ended: str = ""
        self.open_error: str | None = None
        self.stop_reason = "closed"  # or the signal that closed the window
        self.overlay_opts = OverlayOptions()
        self._build()
        self.timer = QTimer(self)  # repaint at 20 Hz, whatever the frame rate
        self.timer.timeout.connect(self._repaint)
        self.timer.start(50)
        self.start(source)

    # ---------------------------------------------------------------------------- layout
    def _build(self) -> None:
        tabs = QTabWidget()
        self.setCentralWidget(tabs)
        monitor = QWidget()
        tabs.addTab(monitor, "Monitor")
        self.log_view = LogView(self.settings)
        tabs.addTab(self.log_view, "Alert log")
        tabs.currentChanged.connect(lambda i: i == 1 and self.log_view.refresh())

        self.banner = QLabel("no alerts")
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setStyleSheet("background:#e0e0e0; font-size:18px; padding:8px;")
        self.ack = QPushButton("Acknowledge")
        self.ack.clicked.connect(self._acknowledge)
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.ack)
        self.fault_label = QLabel("")
        self.fault_label.setWordWrap(True)
        self.fault_label.setStyleSheet(
            "background:#b71c1c; color:white; font-size:15px; font-weight:bold; padding:6px;"
        )
        self.fault_label.hide()

        self.video = QLabel("starting...")
        self.video.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.video.setMinimumSize(480, 360)
        self.video.setStyleSheet("background:#111; color:#ddd;")

        self.indicators: dict[str, QLabel] = {}
        grid = QGridLayout()
        for i, name in enumerate(("eyes", "mouth", "head", "attention", "calibration", "tracking")):
            grid.addWidget(QLabel(f"<b>{name}</b>"), i, 0)
            self.indicators[name] = QLabel("-")
            grid.addWidget(self.indicators[name], i, 1)
        self.gradcam = QLabel("Grad-CAM of the latest alert appears here")
        self.gradcam.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.gradcam.setMinimumHeight(200)
        self.gradcam.setWordWrap(True)
        side = QVBoxLayout()
        side.addLayout(grid)
        side.addWidget(QLabel("<b>Why: latest alert</b>"))
        side.addWidget(self.gradcam, 1)
        side_w = QWidget()
        side_w.setLayout(side)

        top = QSplitter()
        top.addWidget(self.video)
        top.addWidget(side_w)
        top.setSizes([800, 480])
        self.plots = Plots()
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(self.plots)
        body.setSizes([420, 400])

        controls = QHBoxLayout()
        self.play = QPushButton("Pause")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._toggle_pause)
        self.speed = QComboBox()
        self.speed.addItems(["0.25x", "0.5x", "1x", "2x", "4x"])
        self.speed.setCurrentText("1x")
        self.speed.currentTextChanged.connect(self._set_speed)
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setRange(0, 600)
        self.seek.sliderReleased.connect(
            lambda: self.worker and self.worker.seek(self.seek.value())
        )
        controls.addWidget(self.play)
        controls.addWidget(QLabel("speed"))
        controls.addWidget(self.speed)
        controls.addWidget(QLabel("seek (s)"))
        controls.addWidget(self.seek, 1)
        for label, attr in (
            ("landmarks", "landmarks"),
            ("crops", "crops"),
            ("pose", "pose"),
            ("gaze", "gaze"),
        ):
            box = QCheckBox(label)
            box.setChecked(True)
            box.toggled.connect(lambda on, a=attr: self._set_overlay(a, on))
            controls.addWidget(box)

        layout = QVBoxLayout(monitor)
        layout.addLayout(banner_row)
        layout.addWidget(self.fault_label)
        layout.addWidget(body, 1)
        layout.addLayout(controls)

        self.status_label = QLabel("")
        self.statusBar().addPermanentWidget(self.status_label)
        menu = self.menuBar().addMenu("&Source")
        for text, slot in (
            ("Open video...", self._open_video),
            ("Demo", lambda: self.start("demo")),
        ):
            act = QAction(text, self)
            act.triggered.connect(slot)
            menu.addAction(act)
        self.camera_menu = menu.addMenu("Camera")
        for index in list_cameras():
            act = QAction(f"camera {index}", self)
            act.triggered.connect(lambda _=False, i=index: self.start(str(i)))
            self.camera_menu.addAction(act)
        if self.camera_menu.isEmpty():
            self.camera_menu.addAction("no cameras found").setEnabled(False)
        settings_act = QAction("&Settings...", self)
        settings_act.triggered.connect(self._edit_settings)
        self.menuBar().addAction(settings_act)

    # -------------------------------------------------------------------------- worker
    def start(self, source: str | None) -> None:
        self.stop()
        self.source_spec = source
        self.worker = PipelineWorker(source, self.settings)
        self.thread = QThread(self)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.result.connect(self._on_result)
        self.worker.alert_updates.connect(self._on_alert_updates)
        self.worker.open_failed.connect(self._on_open_failed)
        self.worker.fault.connect(self._on_fault)
        self.worker.segment.connect(lambda _t: self.plots.reset_history())
        self.worker.status.connect(self._on_status)
        self.worker.failed.connect(self._on_failed)
        self.worker.source_opened.connect(self._on_source)
        self.worker.pipeline_info.connect(self._on_info)
        self.worker.finished.connect(self._on_finished)
        self.worker.finished.connect(self.thread.quit)
        self.thread.start()

    def stop(self) -> None:
        self.board.clear()
        self._show_board()
        if self.worker is not None and self.thread is not None:
            self.worker.stop(self.stop_reason)
            self.thread.quit()
            self.thread.wait(5000)
        self.worker = self.thread = None

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self.stop()
        self.alarm.stop()
        super().closeEvent(event)

    # --------------------------------------------------------------------------- slots
    def _on_result(self, r: FrameResult) -> None:
        if self._last_t is not None and r.signals.timestamp_s > self._last_t:
            inst = 1.0 / max(1e-3, r.signals.timestamp_s - self._last_t)
            self.fps = 0.9 * self.fps + 0.1 * inst if self.fps else inst
        self._last_t = r.signals.timestamp_s
        self.latest = r
        self.plots.add(r)
        for exp in r.explanations.values():
            self.latest_alert_images = exp.images
        for u in r.updates:
            att = u.alert.evidence.get("attention")
            if u.action is AlertAction.RAISED and att:
                self.latest_alert_images = {"attention": attention_strip(att)}

    def _on_alert_updates(self, updates: list) -> None:
        """The banner and the alarm follow the board: the most severe alert still in force,
        never just the newest update."""
        change = self.board.apply(updates)
        for a in change.ended:
            closure = a.evidence.get("closure_s")
            what = f"eyes closed {closure:.2f} s" if closure else f"{a.duration_s():.1f} s"
            self.last_ended = f"{a.kind.replace('_', ' ')} ended ({what})"
        self._show_board()

    def _show_board(self) -> None:
        top = self.board.top
        if top is None:
            self.banner.setText(
                f"no alert active{' - last: ' + self.last_ended if self.last_ended else ''}"
            )
            self.banner.setStyleSheet("background:#e0e0e0; font-size:18px; padding:8px;")
        else:
            more = len(self.board.active) - 1
            extra = f"  (+{more} more active)" if more else ""
            kind = top.kind.replace("_", " ")
            self.banner.setText(f"{top.level.upper()}: {kind} since {top.start_s:.1f} s{extra}")
            self.banner.setStyleSheet(
                f"background:{LEVEL_COLOURS[top.level]}; color:white; font-size:20px;"
                " font-weight:bold; padding:8px;"
            )
        level = self.board.alarm_level
        if level != self._alarm_level:
            self._alarm_level = level
            if level is None:
                self.alarm.stop()
            else:
                self.alarm.play(level)
                if self.alarm.unavailable and not self._sound_note_shown:
                    self._sound_note_shown = True
                    self.statusBar().showMessage("sound unavailable: visual alerts only", 8000)

    def _on_open_failed(self, text: str) -> None:
        self.open_error = text
        self.video.setText(f"cannot open the source\n{text}")
        self.banner.setText(f"NOT MONITORING: {text}")
        self.banner.setStyleSheet(
            "background:#b71c1c; color:white; font-size:18px; font-weight:bold; padding:8px;"
        )

    def _on_fault(self, text: str) -> None:
        self.fault_label.setText(text)
        self.fault_label.setVisible(bool(text))

    def _on_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)
        if self.board.top is None:
            self.banner.setText(text)

    def _on_failed(self, text: str) -> None:
        self.statusBar().showMessage(f"error: {text}", 15000)

    def _on_source(self, label: str, live: bool, duration_s: float) -> None:
        self.setWindowTitle(f"drowsy - {label}")
        if duration_s > 0:
            self.seek.setRange(0, int(duration_s))
        for w in (self.play, self.speed, self.seek):
            w.setEnabled(not live)

    def _on_info(self, info: dict) -> None:
        self.info = info

    def _on_finished(self, summary: dict) -> None:
        if summary:
            self.banner.setText(
                f"session {summary.get('session')} ended: {summary.get('frames')} frames, "
                f"{summary.get('alerts')} alerts"
            )
        self.log_view.refresh()

    def _acknowledge(self) -> None:
        """Silence the alarm for the alerts in force; an escalation or a new alert sounds again.
        The banner keeps showing what is active."""
        self.board.acknowledge()
        self._show_board()

    def _toggle_pause(self, paused: bool) -> None:
        self.play.setText("Play" if paused else "Pause")
        if self.worker:
            self.worker.set_paused(paused)

    def _set_speed(self, text: str) -> None:
        if self.worker:
            self.worker.speed = float(text.rstrip("x"))

    def _set_overlay(self, attr: str, on: bool) -> None:
        from dataclasses import replace

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
            self.settings = dialog.settings
            self.log_view.settings = self.settings
            self.start(self.source_spec)

    # -------------------------------------------------------------------------- repaint
    def _repaint(self) -> None:
        r = self.latest
        if r is None:
            return
        image = draw(r.frame.image, r.observation, self.overlay_opts)
        pix = to_pixmap(image).scaled(
            self.video.size(),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.video.setPixmap(pix)
        self.plots.redraw()
        s = r.signals
        ind = self.indicators
        ind["eyes"].setText(
            "no face"
            if s.eye_closed is None
            else f"{'CLOSED' if s.eye_closed >= 0.5 else 'open'} ({s.eye_closed:.2f})"
        )
        ind["mouth"].setText(
            "-" if s.yawn is None else f"{'YAWN' if s.yawn >= 0.5 else 'normal'} ({s.yawn:.2f})"
        )
        ind["head"].setText(
            "-" if s.yaw is None else f"yaw {s.yaw:+.0f}  pitch {s.pitch:+.0f}  roll {s.roll:+.0f}"
        )
        ind["attention"].setText({True: "on road", False: "OFF ROAD", None: "unknown"}[s.on_road])
        ind["calibration"].setText("done" if s.calibrated else "calibrating...")
        ind["tracking"].setText(
            "lost"
            if not s.face_present
            else ("good" if s.usable else "poor quality") + f" (IOD {s.iod_px:.0f}px)"
        )
        if self.latest_alert_images:
            panels = [img for role, img in self.latest_alert_images.items() if "face" not in role]
            width = max(p.shape[1] for p in panels) if panels else 0
            stack = [
                cv2.copyMakeBorder(p, 0, 2, 0, width - p.shape[1], cv2.BORDER_CONSTANT)
                for p in panels
            ]
            if stack:
                self.gradcam.setPixmap(
                    to_pixmap(np.vstack(stack)).scaled(
                        self.gradcam.size(),
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )
        total = sum(r.timings_ms.values())
        self.status_label.setText(
            f"{self.fps:4.1f} fps | {total:5.1f} ms/frame | provider {self.info.get('provider')}"
            f" | models {json.dumps(self.info.get('models', {}))}"
        )


def list_cameras(max_index: int = 4) -> list[int]:
    """Indices of the cameras that open (quietly)."""
    from drowsy.errors import SourceError
    from drowsy.sources import CameraSource

    found = []
    for i in range(max_index):
        if not Path(f"/dev/video{i}").exists() and Path("/dev").exists():
            continue
        try:
            CameraSource(i).close()
            found.append(i)
        except SourceError:
            continue
    return found


def attention_strip(weights: list[float], width: int = 640, height: int = 60) -> np.ndarray:
    """The temporal model's attention over its window as a heat strip (oldest left): when in
    the window the evidence for the alert was."""
    w = np.asarray(weights, np.float32)
    w = w / w.max() if w.max() > 0 else w
    strip = cv2.resize(
        (w[None, :] * 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
    )
    img = cv2.applyColorMap(strip, cv2.COLORMAP_INFERNO)
    cv2.putText(
        img,
        f"attention over the last {len(weights)} s (now at right)",
        (6, 16),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return img
