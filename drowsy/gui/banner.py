"""The alert banner: the level word first and whole, the detail after it wrapped and elided.

A driver glances at it from a metre away, so the level ("CRITICAL") is never cut: it is its
own label sized to its text, and only the explanation after it gives way on a narrow window
(two lines, then an ellipsis; the full text is the tooltip). An unacknowledged critical alert
flashes the whole banner so it cannot be missed.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QFontMetrics, QResizeEvent
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy

FLASH_MS = 500
DETAIL_LINES = 2
IDLE_BACKGROUND = "#e0e0e0"


class AlertBanner(QFrame):
    def __init__(self) -> None:
        super().__init__()
        self.level = QLabel("")
        self.level.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)
        row = self._row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.setSpacing(14)
        row.addWidget(self.level)
        row.addWidget(self.detail, 1)
        self._full = ""
        self._colour = IDLE_BACKGROUND
        self._inverted = False
        self._flash = QTimer(self)
        self._flash.setInterval(FLASH_MS)
        self._flash.timeout.connect(self._toggle)
        self.show_message("no alerts")

    # ------------------------------------------------------------------ what it shows
    def show_alert(self, level: str, detail: str, colour: str, flash: bool) -> None:
        """An alert: ``level`` in large capitals, then ``detail``; ``flash`` alternates the
        colours twice a second (an unacknowledged critical alert)."""
        self.level.setText(level.upper())
        self.level.show()
        self._colour = colour
        self._set_detail(detail)
        if flash and not self._flash.isActive():
            self._flash.start()
        elif not flash:
            self._flash.stop()
            self._inverted = False
        self._restyle()

    def show_message(self, text: str, colour: str | None = None) -> None:
        """No alert: a message (status, the last alert that ended, a source problem) on grey,
        or on ``colour`` in white for a problem."""
        self._flash.stop()
        self._inverted = False
        self.level.setText("")
        self.level.hide()
        self._colour = colour or IDLE_BACKGROUND
        self._set_detail(text)
        self._restyle()

    def text(self) -> str:
        """What the banner says, level first (for tests and screen readers)."""
        level = self.level.text()
        return f"{level}: {self._full}" if level else self._full

    @property
    def flashing(self) -> bool:
        return self._flash.isActive()

    # ------------------------------------------------------------------ drawing
    def _set_detail(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def _elide(self) -> None:
        # from the banner's own width: the detail label may not be laid out yet
        m = self._row.contentsMargins()
        level = self.level.sizeHint().width() + 14 if self.level.isVisibleTo(self) else 0
        width = max(40, self.width() - m.left() - m.right() - level)
        metrics = QFontMetrics(self.detail.font())
        budget = width * DETAIL_LINES - metrics.averageCharWidth() * 4  # wrapping loses some
        self.detail.setText(metrics.elidedText(self._full, Qt.TextElideMode.ElideRight, budget))

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._elide()

    def _toggle(self) -> None:
        self._inverted = not self._inverted
        self._restyle()

    def _restyle(self) -> None:
        idle = self._colour == IDLE_BACKGROUND
        fg, bg = ("black", self._colour) if idle else ("white", self._colour)
        if self._inverted:
            fg, bg = bg, fg
        self.setStyleSheet(f"AlertBanner {{ background:{bg}; }}")
        self.level.setStyleSheet(f"color:{fg}; font-size:28px; font-weight:900;")
        weight = "normal" if idle else "bold"
        self.detail.setStyleSheet(f"color:{fg}; font-size:17px; font-weight:{weight};")
