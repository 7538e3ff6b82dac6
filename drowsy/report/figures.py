"""Plotly figures of one analysed video: the signal timeline with alert spans, and the
temporal model's attention for its alerts. Interactive (zoom, pan, hover) and drawn offline."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from drowsy.report.outputs import VideoOutputs

ALERT_COLOURS = {"warning": "rgba(230, 160, 0, 0.18)", "critical": "rgba(210, 30, 30, 0.2)"}
ROWS = (
    "eye closure",
    "PERCLOS",
    "yawn",
    "head pose (deg)",
    "gaze on road",
    "temporal model",
)


def _line(x: np.ndarray, y: np.ndarray, name: str, colour: str) -> go.Scattergl:
    return go.Scattergl(x=x, y=y, name=name, mode="lines", line={"color": colour, "width": 1.4})


def timeline(v: VideoOutputs, thresholds: dict[str, float]) -> go.Figure:
    """Every signal over the video on one shared time axis, thresholds as dashed lines and
    each alert's span shaded in every row (orange: warning, red: critical)."""
    s = v.signals
    t = s["timestamp_s"]
    fig = make_subplots(
        rows=len(ROWS), cols=1, shared_xaxes=True, vertical_spacing=0.025, subplot_titles=ROWS
    )
    fig.add_trace(_line(t, s["eye_closed_left"], "left eye closed", "#1f77b4"), 1, 1)
    fig.add_trace(_line(t, s["eye_closed_right"], "right eye closed", "#17becf"), 1, 1)
    fig.add_trace(_line(t, s["perclos"], "PERCLOS", "#9467bd"), 2, 1)
    fig.add_trace(_line(t, s["yawn"], "yawn", "#8c564b"), 3, 1)
    fig.add_trace(_line(t, s["yaw"], "head yaw", "#2ca02c"), 4, 1)
    fig.add_trace(_line(t, s["pitch"], "head pitch", "#bcbd22"), 4, 1)
    fig.add_trace(_line(t, s["on_road"], "on road (1) / off (0)", "#7f7f7f"), 5, 1)
    fig.add_trace(_line(t, s["drowsiness"], "temporal drowsiness", "#d62728"), 6, 1)
    fig.add_trace(_line(t, s["distraction"], "temporal distraction", "#ff7f0e"), 6, 1)
    limits = (
        (1, thresholds.get("closed"), "closed"),
        (2, thresholds.get("perclos"), "PERCLOS limit"),
        (3, thresholds.get("yawn"), "yawn"),
        (6, thresholds.get("temporal"), "alert"),
    )
    for row, value, label in limits:
        if value is not None:
            fig.add_hline(
                y=value,
                row=row,
                col=1,
                line={"dash": "dash", "color": "#444", "width": 1},
                annotation_text=f"{label} {value:g}",
                annotation_position="top left",
                annotation_font_size=10,
            )
    end = float(np.nanmax(t)) if t.size else 0.0
    for a in v.alerts:
        x1 = a.get("end_s") if a.get("end_s") is not None else end
        fig.add_vrect(
            x0=a["start_s"],
            x1=max(x1, a["start_s"] + 0.05),
            fillcolor=ALERT_COLOURS.get(a.get("level", ""), ALERT_COLOURS["warning"]),
            line_width=0,
            row="all",
            col=1,
        )
    for row in (1, 2, 3, 5, 6):
        fig.update_yaxes(range=[-0.05, 1.05], row=row, col=1)
    fig.update_xaxes(title_text="time (s)", row=len(ROWS), col=1)
    fig.update_layout(
        height=170 * len(ROWS),
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hovermode="x unified",
        template="plotly_white",
    )
    return fig


def attention(weights: list[float]) -> go.Figure:
    """Where in its 20 s window the temporal model looked when it raised the alert."""
    n = len(weights)
    x = [round(-20.0 + 20.0 * (i + 0.5) / n, 2) for i in range(n)]
    fig = go.Figure(go.Bar(x=x, y=weights, marker_color="#d62728"))
    fig.update_layout(
        height=160,
        margin={"l": 50, "r": 10, "t": 10, "b": 35},
        xaxis_title="seconds before the alert",
        yaxis_title="attention",
        template="plotly_white",
    )
    return fig
