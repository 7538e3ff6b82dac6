"""The monitor's model: what the desktop monitor shows, worked out without Qt.

The window (:mod:`drowsy.gui.window`) only renders a :class:`MonitorModel`: the indicator
states in words and a colour state, the banner's text, level and colour, whether it flashes,
the alarm level, the frame rate, the "why" line of the latest explained alert and the status
line. The model is fed by the session listener's calls (results, alert batches with the
session's board, session end); it keeps no alert state of its own beyond the board it is
handed. Being Qt-free, each of these is unit-tested without a display.
"""

from __future__ import annotations

from dataclasses import dataclass

from drowsy.alerts.board import ActiveAlertBoard, BoardChange
from drowsy.alerts.reasons import reason
from drowsy.contracts import Alert, AlertLevel, AlertUpdate, FrameSignals
from drowsy.pipeline import FrameResult
from drowsy.settings import Settings
from drowsy.summary import SessionSummary
from drowsy.vision.pose import camera_rotated

LEVEL_COLOURS = {
    AlertLevel.INFO: "#2f6fb3",
    AlertLevel.WARNING: "#d98c00",
    AlertLevel.CRITICAL: "#c62828",
}
NOT_MONITORING_COLOUR = "#b71c1c"
INDICATORS = ("eyes", "mouth", "head", "attention", "calibration", "tracking")
STAGE_WORDS = {
    "raise": "the frame that raised it",
    "peak": "its strongest frame",
    "attention": "when in the last 20 s the evidence was",
}


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator: its state in words, and ``state`` (ok, warn, alarm, unknown) for its
    colour: never colour alone."""

    text: str
    state: str


@dataclass(frozen=True, slots=True)
class Banner:
    """What the banner says: an alert (``level`` set, in its colour, ``flash`` while critical
    and not acknowledged) or a message (``level`` None)."""

    text: str
    level: AlertLevel | None = None
    colour: str | None = None
    flash: bool = False


def indicators(s: FrameSignals, settings: Settings) -> dict[str, Indicator]:
    """The six indicators for one frame's signals."""
    th = settings.signals
    out: dict[str, Indicator] = {}
    if s.eye_closed is None:
        out["eyes"] = Indicator("no face", "unknown")
    else:
        shut = s.eye_closed >= th.closed_threshold
        out["eyes"] = Indicator("CLOSED" if shut else "open", "alarm" if shut else "ok")
    if s.yawn is None:
        out["mouth"] = Indicator("-", "unknown")
    else:
        yawning = s.yawn >= th.yawn_threshold
        out["mouth"] = Indicator("YAWN" if yawning else "normal", "warn" if yawning else "ok")
    if s.yaw is None:
        out["head"] = Indicator("-", "unknown")
    elif camera_rotated(s.roll):
        out["head"] = Indicator(f"roll {s.roll:+.0f}: camera rotated?", "warn")
    else:
        out["head"] = Indicator(f"yaw {s.yaw:+.0f}  pitch {s.pitch:+.0f}  roll {s.roll:+.0f}", "ok")
    out["attention"] = Indicator(
        {True: "on road", False: "OFF ROAD", None: "unknown"}[s.on_road],
        {True: "ok", False: "warn", None: "unknown"}[s.on_road],
    )
    out["calibration"] = (
        Indicator("done", "ok") if s.calibrated else Indicator("calibrating...", "unknown")
    )
    if not s.face_present:
        out["tracking"] = Indicator("LOST", "warn")
    elif camera_rotated(s.roll):  # such a face measures nothing (vision.tracker)
        out["tracking"] = Indicator("not measured: camera rotated", "warn")
    else:
        quality = "good" if s.usable else "poor quality"
        out["tracking"] = Indicator(
            f"{quality} (IOD {s.iod_px:.0f}px)", "ok" if s.usable else "warn"
        )
    return out


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


class MonitorModel:
    """The monitor's state between the session and the window (the GUI thread only)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.board: ActiveAlertBoard | None = None  # the running session's, handed over
        self.latest: FrameResult | None = None
        self.fps = 0.0
        self.last_ended = ""
        self.message = ""  # the latest status or end-of-session line
        self.not_monitoring: str | None = None  # the source never opened
        self.why = "<b>Why:</b> no alert explained yet"
        self.info: dict = {}
        self._last_t: float | None = None

    # -------------------------------------------------------------------------- inputs
    def result(self, r: FrameResult) -> None:
        t = r.signals.timestamp_s
        if self._last_t is not None and t > self._last_t:
            inst = 1.0 / max(1e-3, t - self._last_t)
            self.fps = 0.9 * self.fps + 0.1 * inst if self.fps else inst
        self._last_t = t
        self.latest = r

    def alerts(self, change: BoardChange, board: ActiveAlertBoard) -> None:
        self.board = board
        self.message = ""  # the board speaks now
        for a in change.ended:
            closure = a.evidence.get("closure_s")
            what = f"eyes closed {closure:.2f} s" if closure else f"{a.duration_s():.1f} s"
            self.last_ended = f"{a.kind.replace('_', ' ')} ended ({what})"

    def explained(self, alert: Alert | None, stage: str) -> None:
        """The window shows images of ``alert`` made at ``stage``: say why it was raised."""
        if alert is None:
            return
        what = STAGE_WORDS.get(stage, stage)
        self.why = (
            f"<b>Why: {alert.kind.replace('_', ' ')}</b>, raised as {alert.level} at "
            f"{alert.start_s:.1f} s: {reason(alert, self.settings.alerts)}. Images: {what}"
            + ("; red = where the networks looked" if stage != "attention" else "")
        )

    def status(self, text: str) -> None:
        self.message = text

    def open_failed(self, text: str) -> None:
        self.not_monitoring = text

    def finished(self, summary: SessionSummary | None) -> None:
        if summary is not None:
            sid = summary.session_id
            name = "session (not logged)" if sid is None else f"session {sid}"
            self.message = f"{name} ended: {summary.frames} frames, {summary.alerts_raised} alerts"

    def started(self) -> None:
        """A new source is starting: what the last one said no longer holds."""
        self.board = None
        self.message = ""
        self.not_monitoring = None

    def stopped(self) -> None:
        """The session is replaced or closed: its alerts are no longer in force here."""
        self.board = None
        self.message = ""

    def acknowledge(self) -> None:
        if self.board is not None:
            self.board.acknowledge()

    # ------------------------------------------------------------------------- outputs
    @property
    def top_alert(self) -> Alert | None:
        """The most severe alert in force (None before the first alert of a session)."""
        return None if self.board is None else self.board.top

    @property
    def alarm_level(self) -> AlertLevel | None:
        return None if self.board is None else self.board.alarm_level

    def banner(self) -> Banner:
        """The most severe alert still in force, never just the newest update; else the
        latest message, else the last alert that ended."""
        if self.not_monitoring is not None:
            return Banner(f"NOT MONITORING: {self.not_monitoring}", colour=NOT_MONITORING_COLOUR)
        top = self.top_alert
        if top is None:
            if self.message:
                return Banner(self.message)
            last = f" - last: {self.last_ended}" if self.last_ended else ""
            return Banner(f"no alert active{last}")
        more = len(self.board.active) - 1 if self.board is not None else 0
        extra = f"  (+{more} more active)" if more else ""
        text = f"{top.kind.replace('_', ' ')} - {reason(top, self.settings.alerts)}{extra}"
        flash = top.level == AlertLevel.CRITICAL and self.alarm_level is not None
        return Banner(text, top.level, LEVEL_COLOURS[top.level], flash)

    def indicators(self) -> dict[str, Indicator] | None:
        return None if self.latest is None else indicators(self.latest.signals, self.settings)

    def status_line(self) -> str:
        r = self.latest
        total = 0.0 if r is None else sum(r.timings_ms.values())
        models = describe_models(self.info.get("models", {}), self.info.get("provider"))
        return f"{self.fps:4.1f} fps | {total:5.1f} ms/frame | {models}"

    @staticmethod
    def span(u: AlertUpdate) -> tuple[int, float, float | None, str]:
        """An alert's shaded span on the plots: uid, start, end (None: active), colour."""
        a = u.alert
        return a.uid, a.start_s, a.end_s, LEVEL_COLOURS[a.level]
