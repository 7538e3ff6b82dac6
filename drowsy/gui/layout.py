"""The monitor window's widgets and their layout (the window's ``setupUi``): the banner row,
the video beside the indicators and explanation panel, the plots, the playback controls, the
status bar and the Source menu. Behaviour lives in :mod:`drowsy.gui.window`."""

from __future__ import annotations

from PyQt6.QtCore import QObject, Qt, QTimer
from PyQt6.QtGui import QAction, QActionGroup
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
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

from drowsy.gui.banner import AlertBanner
from drowsy.gui.logview import LogView
from drowsy.gui.plots import Plots
from drowsy.monitor import INDICATORS
from drowsy.settings import Settings
from drowsy.sources import SourceOptions

# the Source menu's camera requests: (size, fps); None = the camera's own default
CAMERA_MODES: list[tuple[tuple[int, int] | None, float | None]] = [
    (None, None),
    ((640, 480), 30.0),
    ((1280, 720), 30.0),
    ((1920, 1080), 30.0),
]


def disabled_action(text: str, parent: QObject) -> QAction:
    """A menu line that says something and does nothing."""
    act = QAction(text, parent)
    act.setEnabled(False)
    return act


class MonitorLayout(QMainWindow):
    """Builds the widgets; the window connects them to its slots."""

    def _build(self, settings: Settings, camera: SourceOptions) -> None:
        tabs = QTabWidget()
        self.setCentralWidget(tabs)
        monitor = QWidget()
        tabs.addTab(monitor, "Monitor")
        self.log_view = LogView(settings)
        tabs.addTab(self.log_view, "Alert log")
        self.tabs = tabs
        self.log_timer = QTimer(self)  # the open log tab follows new and ending alerts

        self.banner = AlertBanner()
        self.ack = QPushButton("Acknowledge")
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
        for i, name in enumerate(INDICATORS):
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
        self.plots = Plots(settings.signals.closed_threshold, settings.alerts.perclos_threshold)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(self.plots)
        body.setSizes([330, 470])

        controls = QHBoxLayout()
        self.play = QPushButton("Pause")
        self.play.setCheckable(True)
        self.speed = QComboBox()
        self.speed.addItems(["0.25x", "0.5x", "1x", "2x", "4x"])
        self.speed.setCurrentText("1x")
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setRange(0, 600)
        controls.addWidget(self.play)
        controls.addWidget(QLabel("speed"))
        controls.addWidget(self.speed)
        controls.addWidget(QLabel("seek (s)"))
        controls.addWidget(self.seek, 1)
        self.clock = QLabel("")
        self.clock.setMinimumWidth(110)
        controls.addWidget(self.clock)
        self.overlay_boxes: dict[str, QCheckBox] = {}  # OverlayOptions field: its box
        for name in ("landmarks", "crops", "pose", "gaze"):
            box = self.overlay_boxes[name] = QCheckBox(name)
            box.setChecked(True)
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
        self.open_video_act = QAction("Open video...", self)
        self.demo_act = QAction("Demo", self)
        menu.addAction(self.open_video_act)
        menu.addAction(self.demo_act)
        self.camera_menu = QMenu("Camera", self)
        menu.addMenu(self.camera_menu)
        self.camera_menu.addAction(disabled_action("looking for cameras...", self))
        # what to ask a camera for; the status bar says what it delivers
        self.camera_modes = QMenu("Camera resolution", self)
        menu.addMenu(self.camera_modes)
        exclusive = QActionGroup(self)  # one mode checked at a time, kept so by Qt
        self.camera_mode_acts: list[tuple[tuple[tuple[int, int] | None, float | None], QAction]]
        self.camera_mode_acts = []
        for size, fps in CAMERA_MODES:
            text = "camera default" if size is None else f"{size[0]}x{size[1]} at {fps:g} fps"
            act = QAction(text, self)
            act.setCheckable(True)
            act.setChecked((size, fps) == (camera.camera_size, camera.camera_fps))
            exclusive.addAction(act)
            self.camera_modes.addAction(act)
            self.camera_mode_acts.append(((size, fps), act))
        self.settings_act = QAction("&Settings...", self)
        menubar.addAction(self.settings_act)
