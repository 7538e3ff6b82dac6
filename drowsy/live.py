"""``drowsy run``: the console monitor. Watches a camera (or a file, paced in real time) and
prints alerts as they are raised and end, logging each one. With no camera it says so and runs
the built-in sample video instead, so the main command works on any machine."""

from __future__ import annotations

import logging
import time

from drowsy.alertlog import AlertLog
from drowsy.analyze import run_source
from drowsy.contracts import AlertAction, AlertUpdate
from drowsy.errors import SourceError
from drowsy.inference.explain import Explanation
from drowsy.pipeline import FrameResult, Pipeline
from drowsy.sample import sample_video
from drowsy.settings import Settings, default_log_path
from drowsy.sinks import LogSink
from drowsy.sources import CameraSource, FrameSource, SourceOptions, VideoFileSource, open_source

log = logging.getLogger(__name__)


def choose_source(spec: str | None, options: SourceOptions) -> tuple[FrameSource, str]:
    """The requested source, or camera 0, or (no camera) the built-in sample."""
    if spec is not None:
        return open_source(spec, options), spec
    try:
        return CameraSource(0, options), "camera 0"
    except SourceError:
        path = sample_video()
        return VideoFileSource(path, options), f"no camera found: built-in sample video {path}"


class _PacedConsole(LogSink):
    """Log sink that also prints each change, and keeps file sources at real-time speed."""

    def __init__(self, log_: AlertLog, session: int, snapshots: bool, pace: bool) -> None:
        super().__init__(log_, session, snapshots)
        self.pace = pace
        self._t0: float | None = None

    def handle(
        self,
        updates: list[AlertUpdate],
        result: FrameResult | None = None,
        explanations: dict[int, Explanation] | None = None,
    ) -> None:
        super().handle(updates, result, explanations)
        for u in updates:
            a = u.alert
            if u.action is AlertAction.RAISED:
                print(f"[{a.start_s:7.2f}s] ALERT {a.level.upper():8} {a.kind}  {a.peak}")
            elif u.action is AlertAction.ESCALATED:
                now = result.signals.timestamp_s if result is not None else a.start_s
                print(f"[{now:7.2f}s] ESCALATED to {a.level.upper():8} {a.kind}")
            else:
                print(f"[{a.end_s or 0:7.2f}s] ended {a.kind} after {a.duration_s():.1f}s")

    def pace_to(self, timestamp_s: float) -> None:
        if not self.pace:
            return
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now - timestamp_s
        delay = self._t0 + timestamp_s - now
        if delay > 0:
            time.sleep(delay)


def run_live(
    spec: str | None, settings: Settings, seconds: float | None, fast: bool = False
) -> int:
    options = SourceOptions(end_s=seconds)
    source, label = choose_source(spec, options)
    print(f"drowsy: monitoring {label} (Ctrl+C to stop)")
    log_path = default_log_path(settings)
    with source, Pipeline(settings) as pipe, AlertLog(log_path) as db:
        session = db.start_session(label, settings.model_dump(), pipe.model_versions)
        pace = not source.live and not fast
        console = _PacedConsole(db, session, settings.log.snapshots, pace)
        try:
            summary = run_source(source, pipe, console, None, before_frame=console.pace_to)
        except KeyboardInterrupt:
            db.end_session(session, {"interrupted": True})
            raise
        summary.pop("alerts")
        db.end_session(session, summary)
    print(
        f"session {session}: {summary['frames']} frames, {summary['duration_s']:.1f}s,"
        f" face {summary['face_found_rate']:.0%}, {summary['blinks']} blinks,"
        f" alerts {summary['alerts_by_kind'] or 'none'}; log: {log_path}"
    )
    return 0
