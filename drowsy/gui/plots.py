"""The monitor's plots of the last 60 s (pyqtgraph)."""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor

from drowsy.pipeline import FrameResult

WINDOW_S = 60.0
PLOT_MIN_HEIGHT = 92


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
