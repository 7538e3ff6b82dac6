"""Alert log viewer: the SQLite log as a filterable table, details with the stored images,
and export to CSV/JSON."""

from __future__ import annotations

import html
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from drowsy.alertlog import AlertFilter, AlertLog, AlertRow
from drowsy.contracts import AlertKind
from drowsy.errors import UserError
from drowsy.gui.player import ReviewPanel
from drowsy.logtext import alert_filter, export_alerts
from drowsy.settings import Settings, default_log_path

COLUMNS = (
    "id",
    "session_id",
    "raised_at",
    "level",
    "kind",
    "start_s",
    "duration_s",
    "review",
    "source",
)
HEADERS = (
    "id",
    "session",
    "raised (local time)",
    "level",
    "kind",
    "at (s)",
    "lasted (s)",
    "review",
    "source",
)


class _ClickableLabel(QLabel):
    """A label that calls ``on_click`` when clicked (the alert images enlarge)."""

    def __init__(self, on_click: Callable[[], None]) -> None:
        super().__init__()
        self._on_click = on_click

    def mousePressEvent(self, ev) -> None:
        self._on_click()


class LogView(QWidget):
    """The alert log tab: sessions and alerts (live), their evidence and images, export."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.rows: list[AlertRow] = []
        self.kind = QComboBox()
        self.kind.addItems(["all kinds", *[k.value for k in AlertKind]])
        self.level = QComboBox()
        self.level.addItems(["all levels", "info", "warning", "critical"])
        self.session = QLineEdit()
        self.session.setPlaceholderText("session id")
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        exports = [QPushButton("Export CSV"), QPushButton("Export JSON")]
        exports[0].clicked.connect(lambda: self.export("csv"))
        exports[1].clicked.connect(lambda: self.export("json"))
        for combo in (self.kind, self.level):
            combo.currentIndexChanged.connect(self.refresh)
        self.session.editingFinished.connect(self.refresh)
        filters = QHBoxLayout()
        for w in (QLabel("filter:"), self.kind, self.level, self.session, refresh, *exports):
            filters.addWidget(w)
        filters.addStretch(1)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self.show_details)
        rows_header = self.table.verticalHeader()
        if rows_header is not None:
            rows_header.setVisible(False)  # the id column already numbers rows
        self.details = QTextEdit()
        self.details.setReadOnly(True)
        self.images = _ClickableLabel(self.enlarge)
        self.images.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.images.setToolTip("click to enlarge")
        scroll = QScrollArea()
        scroll.setWidget(self.images)
        scroll.setWidgetResizable(True)
        self.review = ReviewPanel(self.save_review)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.review)
        right.addWidget(self.details)
        right.addWidget(scroll)
        right.setSizes([380, 140, 260])
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(right)
        split.setSizes([700, 500])
        self.message = QLabel("")
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(split, 1)
        layout.addWidget(self.message)

    def _filter(self) -> AlertFilter:
        session = self.session.text().strip()
        return alert_filter(
            session=int(session) if session.isdigit() else None,
            kind=None if self.kind.currentIndex() == 0 else self.kind.currentText(),
            level=None if self.level.currentIndex() == 0 else self.level.currentText(),
        )

    def _open(self) -> AlertLog | None:
        path = default_log_path(self.settings)
        if not path.exists():
            self.message.setText(f"no alert log yet at {path}")
            return None
        try:
            return AlertLog(path, readonly=True)
        except UserError as exc:
            self.message.setText(str(exc))
            return None

    def refresh(self) -> None:
        db = self._open()
        if db is None:
            return
        try:
            with db:
                self.rows = db.alerts(self._filter())
        except sqlite3.Error as exc:  # being created or written right now: next refresh
            self.message.setText(f"alert log busy ({exc}); retrying")
            return
        shown = self.review.alert.id if self.review.alert is not None else None
        self.table.blockSignals(True)  # a refresh every 2 s must not restart the clip
        self.table.setRowCount(len(self.rows))
        for i, row in enumerate(self.rows):
            for j, col in enumerate(COLUMNS):
                value = getattr(row, col)
                if col == "duration_s" and value is None:
                    text = "active"
                elif col == "review":
                    text = {"confirmed": "confirmed", "false_alarm": "false alarm"}.get(
                        str(value), ""
                    )
                elif col == "raised_at":
                    text = local_time(str(value))
                elif col == "kind":
                    text = str(value).replace("_", " ")
                elif col == "source":
                    text = Path(str(value)).name or str(value)
                elif isinstance(value, float):
                    text = f"{value:.2f}"
                else:
                    text = "" if value is None else str(value)
                self.table.setItem(i, j, QTableWidgetItem(text))
            if row.id == shown:
                self.table.selectRow(i)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()
        self.message.setText(f"{len(self.rows)} alerts in {default_log_path(self.settings)}")

    def show_details(self) -> None:
        selected = self.table.selectedItems()
        if not selected:
            return
        cell = self.table.item(selected[0].row(), 0)
        if cell is None:
            return
        alert_id = int(cell.text())
        db = self._open()
        if db is None:
            return
        try:
            with db:
                alert = db.alert(alert_id)
                images = db.images(alert_id)
                if alert is not None and (
                    self.review.alert is None or self.review.alert.id != alert_id
                ):
                    self.review.show_alert(alert)
        except sqlite3.Error as exc:
            self.message.setText(f"alert log busy ({exc}); try again")
            return
        if alert is None:
            return
        self.details.setHtml(evidence_table(alert))
        decoded = [
            cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR) for png in images.values()
        ]
        decoded = [d for d in decoded if d is not None]
        if decoded:
            width = max(d.shape[1] for d in decoded)
            stack = np.vstack(
                [
                    cv2.copyMakeBorder(d, 0, 4, 0, width - d.shape[1], cv2.BORDER_CONSTANT)
                    for d in decoded
                ]
            )
            rgb = cv2.cvtColor(stack, cv2.COLOR_BGR2RGB)
            h, w = rgb.shape[:2]
            self.images.setPixmap(
                QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())
            )
        else:
            self.images.setText("no images stored for this alert")

    def save_review(self, alert_id: int, verdict: str | None, note: str) -> str | None:
        """Store a reviewer's verdict in the log (opened for writing just for it); the table
        shows it at once. Returns why it could not be stored, or None."""
        try:
            with AlertLog(default_log_path(self.settings)) as db:
                db.review(alert_id, verdict, note)
                alert = db.alert(alert_id)
        except (UserError, sqlite3.Error) as exc:
            self.message.setText(f"review not saved: {exc}")
            return f"not saved: {exc}"
        self.review.alert = alert
        self.refresh()
        return None

    def enlarge(self) -> None:
        """The alert's images at full size in their own window."""
        pix = self.images.pixmap()
        if pix is None or pix.isNull():
            return
        dialog = QDialog(self)
        dialog.setWindowTitle("alert images")
        label = QLabel()
        label.setPixmap(pix)
        scroll = QScrollArea()
        scroll.setWidget(label)
        QVBoxLayout(dialog).addWidget(scroll)
        dialog.resize(min(pix.width() + 40, 1600), min(pix.height() + 40, 1000))
        dialog.show()
        self._enlarged = dialog

    def export(self, fmt: str, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export alerts", f"alerts.{fmt}")
        if not path:
            return
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(export_alerts(self.rows, fmt))
            self.message.setText(f"exported {len(self.rows)} alerts to {path}")
        except OSError as exc:
            self.message.setText(f"cannot write {path}: {exc.strerror}")


def local_time(iso_utc: str) -> str:
    """The log stores UTC; people read their own clock."""
    try:
        return datetime.fromisoformat(iso_utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso_utc


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list):
        return (
            "[" + ", ".join(_num(v) for v in value[:8]) + (", ..." if len(value) > 8 else "") + "]"
        )
    return str(value)


def describe_alert(a: AlertRow) -> str:
    """One alert for a person: what, when, how long, its peak values and evidence, rounded."""
    lasted = "still active" if a.duration_s is None else f"lasted {a.duration_s:.2f} s"
    lines = [
        f"{a.kind.replace('_', ' ')} ({a.level}) - alert {a.id}, session "
        f"{a.session_id}, {a.source}",
        f"raised {a.raised_at} (UTC), at {a.start_s:.2f} s of video, {lasted}",
    ]
    if a.peak:
        lines.append("peak: " + ", ".join(f"{k} {_num(v)}" for k, v in a.peak.items()))
    if a.evidence:
        lines.append("evidence: " + ", ".join(f"{k} {_num(v)}" for k, v in a.evidence.items()))
    return "\n".join(lines)


def evidence_table(a: AlertRow) -> str:
    """The alert's summary line and its peak values and evidence as a table (HTML)."""
    head, when, *_ = describe_alert(a).split("\n")
    rows = [("peak " + k, _num(v)) for k, v in a.peak.items()]
    rows += [(k, _num(v)) for k, v in a.evidence.items()]
    cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (
        f"<b>{html.escape(head)}</b><br>{html.escape(when)}"
        f"<table border='1' cellspacing='0' cellpadding='3'>{cells}</table>"
    )
