"""The review panel of the log tab: an alert's clip with play/pause/step and the reviewer's
verdict (confirmed / false alarm, a note), stored in the alert log.

Frames are decoded with PyAV (:mod:`drowsy.clips.video`) and kept scaled to the panel
(``DISPLAY_WIDTH``): a 20 s clip at 30 fps holds ~120 MB at most, freed when another alert
is chosen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from drowsy.alertlog import AlertRow
from drowsy.clips.video import ClipError, read_clip

DISPLAY_WIDTH = 480
VERDICT_WORDS = {"confirmed": "confirmed", "false_alarm": "false alarm", None: "not reviewed"}


def _pixmap(image: np.ndarray) -> QPixmap:
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


class ClipPlayer(QWidget):
    """Plays one clip: play/pause, a frame back or forward, a position slider."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.position = 0
        self.view = QLabel("select an alert to play its clip")
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setMinimumSize(320, 200)
        self.view.setStyleSheet("background:#111; color:#ddd;")
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._toggle)
        self.back = QPushButton("< frame")
        self.back.clicked.connect(lambda: self.step(-1))
        self.forward = QPushButton("frame >")
        self.forward.clicked.connect(lambda: self.step(1))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.show_frame)
        self.clock = QLabel("")
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        controls = QHBoxLayout()
        for w in (self.back, self.play, self.forward):
            controls.addWidget(w)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.clock)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        self._enable(False)

    def _enable(self, on: bool) -> None:
        for w in (self.play, self.back, self.forward, self.slider):
            w.setEnabled(on)

    def load(self, path: Path | None, missing_text: str = "") -> bool:
        """Show ``path``'s first frame (False, with ``missing_text`` shown, when there is no
        clip to play)."""
        self.play.setChecked(False)
        self.frames, self.times, self.position = [], [], 0
        if path is None or not path.is_file():
            self.view.setText(missing_text)
            self.clock.setText("")
            self._enable(False)
            return False
        try:
            video = read_clip(path)
        except ClipError as exc:
            self.view.setText(f"clip cannot be played: {exc}")
            self._enable(False)
            return False
        for image in video.frames:
            h, w = image.shape[:2]
            if w > DISPLAY_WIDTH:
                image = cv2.resize(image, (DISPLAY_WIDTH, round(h * DISPLAY_WIDTH / w)))
            self.frames.append(image)
        self.times = video.times
        self.slider.setRange(0, len(self.frames) - 1)
        self._enable(True)
        self.show_frame(0)
        return True

    def show_frame(self, index: int) -> None:
        if not self.frames:
            return
        self.position = max(0, min(index, len(self.frames) - 1))
        if self.slider.value() != self.position:
            self.slider.setValue(self.position)
        pix = _pixmap(self.frames[self.position])
        self.view.setPixmap(
            pix.scaled(
                self.view.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
        self.clock.setText(f"{self.times[self.position]:5.1f} / {self.times[-1]:.1f} s")

    def step(self, delta: int) -> None:
        self.play.setChecked(False)
        self.show_frame(self.position + delta)

    def _toggle(self, playing: bool) -> None:
        self.play.setText("Pause" if playing else "Play")
        if playing:
            if self.position >= len(self.frames) - 1:
                self.show_frame(0)
            self._schedule()
        else:
            self.timer.stop()

    def _schedule(self) -> None:
        """Wait until the next frame's own time (clips keep their frame timing)."""
        nxt = self.position + 1
        if nxt >= len(self.frames):
            self.play.setChecked(False)
            return
        gap = self.times[nxt] - self.times[self.position]
        self.timer.start(max(1, round(1000 * gap)))

    def _tick(self) -> None:
        self.timer.stop()
        self.show_frame(self.position + 1)
        if self.play.isChecked():
            self._schedule()


class ReviewPanel(QWidget):
    """The selected alert's clip and the reviewer's verdict; ``save(alert_id, verdict, note)``
    stores it (in the log) and returns an error text or None."""

    def __init__(self, save: Callable[[int, str | None, str], str | None]) -> None:
        super().__init__()
        self._save = save
        self.alert: AlertRow | None = None
        self.player = ClipPlayer()
        self.confirm = QPushButton("Confirmed")
        self.confirm.setToolTip("the driver really was drowsy / distracted as the alert says")
        self.false_alarm = QPushButton("False alarm")
        self.note = QLineEdit()
        self.note.setPlaceholderText("note (optional)")
        self.verdict = QLabel("")
        self.confirm.clicked.connect(lambda: self.mark("confirmed"))
        self.false_alarm.clicked.connect(lambda: self.mark("false_alarm"))
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>review:</b>"))
        for w in (self.confirm, self.false_alarm):
            row.addWidget(w)
        row.addWidget(self.note, 1)
        row.addWidget(self.verdict)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.player, 1)
        layout.addLayout(row)
        self.show_alert(None)

    def show_alert(self, alert: AlertRow | None) -> None:
        self.alert = alert
        for w in (self.confirm, self.false_alarm, self.note):
            w.setEnabled(alert is not None)
        if alert is None:
            self.player.load(None, "select an alert to play its clip")
            self.verdict.setText("")
            return
        if alert.clip is None:
            why = alert.clip_error or "clips were off when it was raised"
            self.player.load(None, f"no clip for this alert ({why})")
        else:
            self.player.load(
                alert.clip_path,
                f"clip missing: {Path(alert.clip).name} (deleted, or removed to keep clips"
                " within clips.max_disk_mb)",
            )
        self.note.setText(alert.review_note or "")
        self.verdict.setText(VERDICT_WORDS.get(alert.review, alert.review or ""))

    def mark(self, verdict: str) -> None:
        if self.alert is None:
            return
        error = self._save(self.alert.id, verdict, self.note.text().strip())
        self.verdict.setText(error or VERDICT_WORDS[verdict])
