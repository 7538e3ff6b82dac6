"""The monitor window: a thin view over the worker's FrameResults."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QSettings, Qt, QThread, QTimer
from PyQt6.QtGui import QAction, QActionGroup, QColor, QFontMetrics, QImage, QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMenuBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSplitter,
    QStatusBar,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from drowsy.alerts.board import ActiveAlertBoard, BoardChange
from drowsy.alerts.reasons import reason
from drowsy.contracts import Alert, AlertAction, AlertLevel
from drowsy.gui.alarm import Alarm
from drowsy.gui.banner import AlertBanner
from drowsy.gui.logview import LogView
from drowsy.gui.settings_dialog import SettingsDialog
from drowsy.gui.worker import PipelineWorker
from drowsy.overlays import OverlayOptions, draw
from drowsy.pipeline import FrameResult
from drowsy.settings import Settings
from drowsy.sources import SourceOptions
from drowsy.vision.pose import camera_rotated

WINDOW_S = 60.0
# the Source menu's camera requests: (size, fps); None = the camera's own default
CAMERA_MODES: list[tuple[tuple[int, int] | None, float | None]] = [
    (None, None),
    ((640, 480), 30.0),
    ((1280, 720), 30.0),
    ((1920, 1080), 30.0),
]
PLOT_MIN_HEIGHT = 92
INDICATOR_STYLES = {
    "ok": "color:#1b5e20;",
    "warn": "background:#d98c00; color:white;",
    "alarm": "background:#c62828; color:white;",
    "unknown": "color:#666;",
}
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


PLOT_SERIES = {  # key: (plot, label, colour)
    "eye_closed": ("eyes", "eyes closed (p)", "#1565c0"),
    "perclos": ("eyes", "PERCLOS", "#c62828"),
    "yawn": ("eyes", "yawn (p)", "#2e7d32"),
    "yaw": ("head", "yaw", "#6a1b9a"),
    "pitch": ("head", "pitch", "#ef6c00"),
    "drowsiness": ("temporal", "drowsiness", "#c62828"),
    "distraction": ("temporal", "distraction", "#6a1b9a"),
}


def _legend(title: str, items: list[tuple[str, str]]) -> str:
    """A plot title naming its curves in their colours: a legend that never covers data."""
    names = " &nbsp; ".join(f"<span style='color:{c}'>&#9644; {n}</span>" for n, c in items)
    return f"<span style='color:#333'>{title}</span> &nbsp; {names}"


class Plots(pg.GraphicsLayoutWidget):
    """The last 60 s: eye closure with the closed threshold and PERCLOS with its limit, yawn,
    head pose, the temporal model's scores. Time axes are linked; y ranges are fixed so the
    same height always means the same value; alerts are shaded on the time axis."""

    def __init__(self, closed_threshold: float = 0.5, perclos_limit: float = 0.15) -> None:
        super().__init__()
        self.setBackground("w")
        self.t: deque[float] = deque()
        self.series: dict[str, deque[float]] = {k: deque() for k in PLOT_SERIES}
        self.spans: dict[int, tuple[float, float | None, str]] = {}  # uid: start, end, colour
        titles = {
            "eyes": "eyes and mouth (probability, 0-1)",
            "head": "head pose (degrees)",
            "temporal": "temporal model (score, 0-1)",
        }
        self.plots: dict[str, pg.PlotItem] = {}
        for row, (name, title) in enumerate(titles.items()):
            items = [(lab, c) for p, lab, c in PLOT_SERIES.values() if p == name]
            plot = self.addPlot(row=row, col=0)
            plot.setTitle(_legend(title, items), size="9pt")  # a slim title: room for data
            plot.setXRange(-WINDOW_S, 0, padding=0)
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.getAxis("left").setWidth(44)
            plot.setMinimumHeight(PLOT_MIN_HEIGHT)
            self.plots[name] = plot
        # the splitter must not squeeze the plots below readable: the video gives way first
        self.setMinimumHeight(len(titles) * PLOT_MIN_HEIGHT + 40)
        self.plots["eyes"].setYRange(-0.06, 1.06, padding=0)
        self.plots["temporal"].setYRange(-0.06, 1.06, padding=0)
        self.plots["head"].setYRange(-48, 48, padding=0)
        for name in ("eyes", "head"):
            self.plots[name].setXLink(self.plots["temporal"])
            self.plots[name].getAxis("bottom").setStyle(showValues=False)
        self.plots["temporal"].setLabel("bottom", "seconds before now")
        for name, ticks in (
            ("eyes", (0, 0.5, 1)),
            ("temporal", (0, 0.5, 1)),
            ("head", (-30, 0, 30)),
        ):
            self.plots[name].getAxis("left").setTicks([[(v, f"{v:g}") for v in ticks]])
        dash = Qt.PenStyle.DashLine
        self.plots["eyes"].addItem(
            pg.InfiniteLine(
                closed_threshold, 0, pen=pg.mkPen("#1565c0", style=dash), label="closed"
            )
        )
        self.plots["eyes"].addItem(
            pg.InfiniteLine(
                perclos_limit, 0, pen=pg.mkPen("#c62828", style=dash), label="PERCLOS limit"
            )
        )
        self.curves = {
            k: self.plots[p].plot(pen=pg.mkPen(c, width=2)) for k, (p, _, c) in PLOT_SERIES.items()
        }
        # uid -> (colour, one shaded region per plot): made once, moved on each redraw
        self._regions: dict[int, tuple[str, list[pg.LinearRegionItem]]] = {}

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
        horizon = s.timestamp_s - WINDOW_S
        while self.t and self.t[0] < horizon:  # memory stays flat for hours
            self.t.popleft()
            for q in self.series.values():
                q.popleft()
        for uid in [
            u for u, (_, end, _) in self.spans.items() if end is not None and end < horizon
        ]:
            del self.spans[uid]

    def alert(self, uid: int, start_s: float, end_s: float | None, colour: str) -> None:
        """Shade an alert's time span in its level's colour (updated as it escalates and ends)."""
        self.spans[uid] = (start_s, end_s, colour)

    def reset_history(self) -> None:
        """Forget the drawn history (a seek: data before it is another stretch of video).
        Not named ``clear``: pyqtgraph binds that name to the layout's own clear."""
        self.t.clear()
        self.spans.clear()
        for q in self.series.values():
            q.clear()
        for curve in self.curves.values():
            curve.setData([], [])
        self._draw_spans(0.0)

    def _draw_spans(self, now: float) -> None:
        for uid in list(self._regions):
            colour, _ = self._regions[uid]
            if uid not in self.spans or self.spans[uid][2] != colour:  # gone, or escalated
                self._drop_regions(uid)
        for uid, (start, end, colour) in self.spans.items():
            if uid not in self._regions:
                brush = pg.mkBrush(QColor(colour).lighter(170))
                regions = []
                for plot in self.plots.values():
                    region = pg.LinearRegionItem(movable=False, brush=brush, pen=pg.mkPen(None))
                    region.setZValue(-10)
                    plot.addItem(region)
                    regions.append(region)
                self._regions[uid] = (colour, regions)
            lo, hi = start - now, (now if end is None else end) - now
            for region in self._regions[uid][1]:
                region.setRegion((lo, hi))

    def _drop_regions(self, uid: int) -> None:
        _, regions = self._regions.pop(uid)
        for plot, region in zip(self.plots.values(), regions, strict=True):
            plot.removeItem(region)

    def redraw(self) -> None:
        if not self.t:
            return
        now = self.t[-1]
        t = np.asarray(self.t) - now
        for k, curve in self.curves.items():
            curve.setData(t, np.asarray(self.series[k]), connect="finite")
        self._draw_spans(now)


class MonitorWindow(QMainWindow):
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
        self.source_spec = source
        self.latest: FrameResult | None = None
        self.latest_alert_images: dict[str, np.ndarray] = {}
        self.fps = 0.0
        self._last_t: float | None = None
        self.worker: PipelineWorker | None = None
        self.info: dict = {}
        self.worker_thread: QThread | None = None  # not ``thread``: QObject.thread() exists
        self.alarm = Alarm()
        self.duration_s = 0.0
        self._alarm_level: AlertLevel | None = None
        self._sound_note_shown = False
        # the running session's board (alerts in force), handed over with each alert batch;
        # the window keeps no alert state of its own
        self.board: ActiveAlertBoard | None = None
        self.last_ended: str = ""
        self.open_error: str | None = None
        self.stop_reason = "closed"  # or the signal that closed the window
        self.source_problem: str | None = None  # a lost camera being retried
        self.overlay_opts = OverlayOptions()
        self._build()
        self.timer = QTimer(self)  # repaint at 20 Hz, whatever the frame rate
        self.timer.timeout.connect(self._repaint)
        self.timer.start(50)
        geometry = QSettings("drowsy", "monitor").value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.start(source)

    # ---------------------------------------------------------------------------- layout
    def _build(self) -> None:
        tabs = QTabWidget()
        self.setCentralWidget(tabs)
        monitor = QWidget()
        tabs.addTab(monitor, "Monitor")
        self.log_view = LogView(self.settings)
        tabs.addTab(self.log_view, "Alert log")
        tabs.currentChanged.connect(self._on_tab)
        self.tabs = tabs
        self.log_timer = QTimer(self)  # the open log tab follows new and ending alerts
        self.log_timer.timeout.connect(self._refresh_open_log)
        self.log_timer.start(2000)

        self.banner = AlertBanner()
        self.ack = QPushButton("Acknowledge")
        self.ack.clicked.connect(self._acknowledge)
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.ack)
        # one line however long the fault: it must not push the plots off a small screen;
        # the whole text is its tooltip and in the log view's status
        self.fault_label = QLabel("")
        self.fault_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.fault_label.setStyleSheet(
            "background:#b71c1c; color:white; font-size:15px; font-weight:bold; padding:6px;"
        )
        self.fault_label.hide()

        self.video = QLabel("starting...")
        self.video.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.video.setMinimumSize(320, 200)
        self.video.setStyleSheet("background:#111; color:#ddd;")

        self.indicators: dict[str, QLabel] = {}
        grid = QGridLayout()
        for i, name in enumerate(("eyes", "mouth", "head", "attention", "calibration", "tracking")):
            grid.addWidget(QLabel(f"<b>{name}</b>"), i, 0)
            self.indicators[name] = QLabel("-")
            grid.addWidget(self.indicators[name], i, 1)
        self.gradcam = QLabel("Grad-CAM of the latest alert appears here")
        self.gradcam.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.gradcam.setMinimumHeight(60)
        self.gradcam.setWordWrap(True)
        side = QVBoxLayout()
        side.addLayout(grid)
        self.why = QLabel("<b>Why:</b> no alert explained yet")
        self.why.setWordWrap(True)
        side.addWidget(self.why)
        side.addWidget(self.gradcam, 1)
        side_panel = QWidget()
        side_panel.setLayout(side)
        # on a small screen the panel scrolls rather than squeezing the plots off the window
        side_w = QScrollArea()
        side_w.setWidget(side_panel)
        side_w.setWidgetResizable(True)
        side_w.setFrameShape(QFrame.Shape.NoFrame)

        top = QSplitter()
        top.addWidget(self.video)
        top.addWidget(side_w)
        top.setSizes([800, 480])
        self.plots = Plots(
            self.settings.signals.closed_threshold, self.settings.alerts.perclos_threshold
        )
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(self.plots)
        body.setSizes([330, 470])

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
        self.seek.sliderReleased.connect(self._on_seek_released)
        controls.addWidget(self.play)
        controls.addWidget(QLabel("speed"))
        controls.addWidget(self.speed)
        controls.addWidget(QLabel("seek (s)"))
        controls.addWidget(self.seek, 1)
        self.clock = QLabel("")
        self.clock.setMinimumWidth(110)
        controls.addWidget(self.clock)
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
        self.status_bar = QStatusBar(self)
        self.setStatusBar(self.status_bar)
        self.status_bar.addPermanentWidget(self.status_label)
        menubar = QMenuBar(self)
        self.setMenuBar(menubar)
        menu = QMenu("&Source", self)
        menubar.addMenu(menu)
        for text, slot in (
            ("Open video...", self._open_video),
            ("Demo", lambda: self.start("demo")),
        ):
            act = QAction(text, self)
            act.triggered.connect(slot)
            menu.addAction(act)
        self.camera_menu = QMenu("Camera", self)
        menu.addMenu(self.camera_menu)
        for index in list_cameras():
            act = QAction(f"camera {index}", self)
            act.triggered.connect(lambda _=False, i=index: self.start(str(i)))
            self.camera_menu.addAction(act)
        if self.camera_menu.isEmpty():
            none = QAction("no cameras found", self)
            none.setEnabled(False)
            self.camera_menu.addAction(none)
        # what to ask a camera for; the status bar says what it delivers
        self.camera_modes = QMenu("Camera resolution", self)
        menu.addMenu(self.camera_modes)
        exclusive = QActionGroup(self)  # one mode checked at a time, kept so by Qt
        for size, fps in CAMERA_MODES:
            text = "camera default" if size is None else f"{size[0]}x{size[1]} at {fps:g} fps"
            act = QAction(text, self)
            act.setCheckable(True)
            act.setChecked((size, fps) == (self.camera.camera_size, self.camera.camera_fps))
            act.triggered.connect(lambda _=False, m=(size, fps): self._set_camera_mode(*m))
            exclusive.addAction(act)
            self.camera_modes.addAction(act)
        settings_act = QAction("&Settings...", self)
        settings_act.triggered.connect(self._edit_settings)
        menubar.addAction(settings_act)

    def _set_camera_mode(self, size: tuple[int, int] | None, fps: float | None) -> None:
        """Ask the camera for ``size`` at ``fps`` from now on; a running camera restarts."""
        self.camera = replace(self.camera, camera_size=size, camera_fps=fps)
        spec = self.source_spec
        if spec is None or spec.isdigit():
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
        self.source_spec = source
        self.worker = PipelineWorker(source, self.settings, self.camera)
        thread = self.worker_thread = QThread(self)
        self.worker.moveToThread(thread)
        thread.started.connect(self.worker.run)
        self.worker.result.connect(self._on_result)
        self.worker.alert_updates.connect(self._on_alert_updates)
        self.worker.open_failed.connect(self._on_open_failed)
        self.worker.fault.connect(self._on_fault)
        self.worker.source_problem.connect(self._on_source_problem)
        # bound methods, not lambdas: Qt drops a bound slot when the window is destroyed, while a
        # queued lambda from the worker thread would run on a deleted window (a crash)
        self.worker.segment.connect(self._on_segment)
        self.worker.status.connect(self._on_status)
        self.worker.failed.connect(self._on_failed)
        self.worker.source_opened.connect(self._on_source)
        self.worker.pipeline_info.connect(self._on_info)
        self.worker.finished.connect(self._on_finished)
        self.worker.finished.connect(thread.quit)
        thread.start()

    def stop(self) -> None:
        self.board = None
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
        if self._last_t is not None and r.signals.timestamp_s > self._last_t:
            inst = 1.0 / max(1e-3, r.signals.timestamp_s - self._last_t)
            self.fps = 0.9 * self.fps + 0.1 * inst if self.fps else inst
        self._last_t = r.signals.timestamp_s
        self.latest = r
        self._show_video()
        self.plots.add(r)
        by_uid = {u.alert.uid: u.alert for u in r.updates}
        for uid, exp in r.explanations.items():
            self.latest_alert_images = exp.images
            self._explain_title(by_uid.get(uid), exp.moment)
        for u in r.updates:
            att = u.alert.evidence.get("attention")
            if u.action is AlertAction.RAISED and isinstance(att, list) and att:
                self.latest_alert_images = {"attention": attention_strip(att)}
                self._explain_title(u.alert, "attention")

    def _explain_title(self, alert, stage: str) -> None:
        if alert is None:
            return
        what = {
            "raise": "the frame that raised it",
            "peak": "its strongest frame",
            "attention": "when in the last 20 s the evidence was",
        }.get(stage, stage)
        self.why.setText(
            f"<b>Why: {alert.kind.replace('_', ' ')}</b>, raised as {alert.level} at "
            f"{alert.start_s:.1f} s: {reason(alert, self.settings.alerts)}. Images: {what}"
            + ("; red = where the networks looked" if stage != "attention" else "")
        )

    def _on_alert_updates(
        self, updates: list, change: BoardChange, board: ActiveAlertBoard
    ) -> None:
        """The banner and the alarm follow the board: the most severe alert still in force,
        never just the newest update."""
        self.board = board
        for u in updates:
            a = u.alert
            self.plots.alert(a.uid, a.start_s, a.end_s, LEVEL_COLOURS[a.level])
        for a in change.ended:
            closure = a.evidence.get("closure_s")
            what = f"eyes closed {closure:.2f} s" if closure else f"{a.duration_s():.1f} s"
            self.last_ended = f"{a.kind.replace('_', ' ')} ended ({what})"
        self._show_board()

    @property
    def top_alert(self) -> Alert | None:
        """The most severe alert in force (None before the first alert of a session)."""
        return None if self.board is None else self.board.top

    def _show_board(self) -> None:
        board = self.board
        top = None if board is None else board.top
        level = None if board is None else board.alarm_level
        if top is None:
            self.banner.show_message(
                f"no alert active{' - last: ' + self.last_ended if self.last_ended else ''}"
            )
        else:
            more = len(board.active) - 1 if board is not None else 0
            extra = f"  (+{more} more active)" if more else ""
            kind = top.kind.replace("_", " ")
            why = reason(top, self.settings.alerts)
            self.banner.show_alert(
                top.level,
                f"{kind} - {why}{extra}",
                LEVEL_COLOURS[top.level],
                flash=top.level == AlertLevel.CRITICAL and level is not None,
            )
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
        self.open_error = text
        self.video.setText(f"cannot open the source\n{text}")
        self.banner.show_message(f"NOT MONITORING: {text}", colour="#b71c1c")

    def _indicate(self, name: str, text: str, state: str) -> None:
        """A state in words and colour (never colour alone), big enough at arm's length."""
        label = self.indicators[name]
        label.setText(text)
        label.setStyleSheet(
            f"font-size:15px; font-weight:bold; padding:0 4px; {INDICATOR_STYLES[state]}"
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
            self.banner.show_message(text)

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
        self.info = info

    def _on_finished(self, summary: dict) -> None:
        if summary and self.top_alert is None:  # an alert still in force keeps the banner
            sid = summary.get("session")
            name = "session (not logged)" if sid is None else f"session {sid}"
            self.banner.show_message(
                f"{name} ended: {summary.get('frames')} frames, {summary.get('alerts')} alerts"
            )
        self.log_view.refresh()

    def _acknowledge(self) -> None:
        """Silence the alarm for the alerts in force; an escalation or a new alert sounds again.
        The banner keeps showing what is active."""
        if self.board is not None:
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
    def _show_video(self) -> None:
        """The newest frame with its overlays, as soon as it arrives (not on the 20 Hz timer:
        measured, waiting for the timer added 25 ms median from capture to screen)."""
        r = self.latest
        if r is None or self.source_problem:
            return
        image = draw(r.frame.image, r.observation, self.overlay_opts)
        pix = to_pixmap(image).scaled(
            self.video.size(),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.video.setPixmap(pix)

    def _repaint(self) -> None:
        """Plots, indicators and explanations at 20 Hz, whatever the frame rate."""
        if self.source_problem:
            self.video.setText(f"NOT MONITORING\n{self.source_problem}")
            return
        r = self.latest
        if r is None:
            return
        self.plots.redraw()
        s = r.signals
        sig = self.settings.signals
        if s.eye_closed is None:
            self._indicate("eyes", "no face", "unknown")
        else:
            shut = s.eye_closed >= sig.closed_threshold
            self._indicate("eyes", "CLOSED" if shut else "open", "alarm" if shut else "ok")
        if s.yawn is None:
            self._indicate("mouth", "-", "unknown")
        else:
            yawning = s.yawn >= sig.yawn_threshold
            self._indicate("mouth", "YAWN" if yawning else "normal", "warn" if yawning else "ok")
        if s.yaw is None:
            self._indicate("head", "-", "unknown")
        elif camera_rotated(s.roll):
            self._indicate("head", f"roll {s.roll:+.0f}: camera rotated?", "warn")
        else:
            pose = f"yaw {s.yaw:+.0f}  pitch {s.pitch:+.0f}  roll {s.roll:+.0f}"
            self._indicate("head", pose, "ok")
        self._indicate(
            "attention",
            {True: "on road", False: "OFF ROAD", None: "unknown"}[s.on_road],
            {True: "ok", False: "warn", None: "unknown"}[s.on_road],
        )
        self._indicate(
            "calibration",
            "done" if s.calibrated else "calibrating...",
            "ok" if s.calibrated else "unknown",
        )
        if not s.face_present:
            self._indicate("tracking", "LOST", "warn")
        else:
            good = s.usable
            text = ("good" if good else "poor quality") + f" (IOD {s.iod_px:.0f}px)"
            self._indicate("tracking", text, "ok" if good else "warn")
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
            f"{self.fps:4.1f} fps | {total:5.1f} ms/frame | "
            f"{describe_models(self.info.get('models', {}), self.info.get('provider'))}"
        )
        t = r.frame.timestamp_s
        if self.seek.isEnabled() and not self.seek.isSliderDown():
            self.seek.setValue(int(t))
        total_s = f" / {self.duration_s:.0f} s" if self.duration_s else " s"
        self.clock.setText(f"{t:6.1f}{total_s}")


def describe_models(models: dict[str, str], provider: str | None) -> str:
    """Model versions for people: 'eyes v3, yawn v3 (hard voting), temporal v1 on CPU'."""
    if not models:
        return "models: -"
    if models.get("state") == "geometric":
        text = "geometric estimate (no networks)"
    else:
        text = f"eyes v{models.get('eyes', '?')}, yawn v{models.get('yawn', '?')}"
        if models.get("voting"):
            text += f" (voting: {models['voting']})"
    temporal = models.get("temporal", "none")
    text += ", no temporal model" if temporal == "none" else f", temporal v{temporal}"
    where = (provider or "").replace("ExecutionProvider", "")
    return f"models: {text}" + (f" on {where}" if where and where != "none" else "")


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
