"""``drowsy run``: the console monitor. Watches a camera (or a file, paced in real time) and
prints alerts as they are raised, escalate and end, logging each one. With no camera it says
so and runs the built-in sample video instead, so the main command works on any machine. A lost
camera is retried (never replaced by the sample); Ctrl+C or SIGTERM end the session cleanly."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from drowsy.alertlog import AlertLog
from drowsy.alerts.board import ActiveAlertBoard, BoardChange
from drowsy.clips.store import live_clips_dir
from drowsy.contracts import AlertAction, AlertUpdate
from drowsy.errors import LogError
from drowsy.lifecycle import StopFlag, exit_code, stop_on_signals
from drowsy.sample import choose_source
from drowsy.session import Session, SessionListener, SessionOptions
from drowsy.settings import Settings, default_log_path
from drowsy.sources import SourceOptions


class ConsoleListener(SessionListener):
    """Prints each alert change, and the alert in force whenever the most severe one changes
    (an ended alert never hides a more severe one still active)."""

    def __init__(self, out=None) -> None:
        self.out = out or sys.stdout

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def alerts(
        self, updates: list[AlertUpdate], change: BoardChange, board: ActiveAlertBoard
    ) -> None:
        for u in updates:
            a = u.alert
            if u.action is AlertAction.RAISED:
                self._print(f"[{a.start_s:7.2f}s] ALERT {a.level.upper():8} {a.kind}  {a.peak}")
            elif u.action is AlertAction.ESCALATED:
                self._print(
                    f"[{a.level_start_s:7.2f}s] ESCALATED to {a.level.upper():8} {a.kind}"
                    f"  (raised at {a.start_s:.2f}s)"
                )
            else:
                closure = a.evidence.get("closure_s")
                what = f"eyes closed {closure:.2f} s" if closure else f"{a.duration_s():.1f} s"
                self._print(f"[{a.end_s or 0:7.2f}s] ended {a.kind} ({what})")
        if change.top_changed and updates:
            top = change.top_after
            now = "nothing active" if top is None else f"{top.level.upper()} {top.kind}"
            self._print(f"           in force: {now}")

    def status(self, text: str) -> None:
        self._print(f"drowsy: {text}")

    def clip(self, uid: int, path: Path | None, error: str | None) -> None:
        if path is not None:
            self._print(f"           clip of alert {uid}: {path}")

    def fault(self, text: str | None) -> None:
        print(
            f"drowsy: WARNING {text}" if text else "drowsy: alert log writes recovered",
            file=sys.stderr,
            flush=True,
        )

    def frame_error(self, text: str) -> None:
        print(f"drowsy: error {text}", file=sys.stderr, flush=True)


def run_live(
    spec: str | None,
    settings: Settings,
    seconds: float | None,
    fast: bool = False,
    camera: SourceOptions | None = None,
) -> int:
    """``camera``: the size and frame rate to ask a camera for (SourceOptions fields)."""
    base = camera or SourceOptions()
    choice, source = choose_source(spec, replace(base, end_s=seconds))
    delivered = f", {source.describe()}" if source.describe() else ""
    print(f"drowsy: monitoring {choice.label}{delivered} (Ctrl+C to stop)")
    log_path = default_log_path(settings)
    try:
        alert_log: AlertLog | None = AlertLog(log_path)
    except LogError as exc:  # monitoring matters more than logging
        print(f"drowsy: WARNING {exc}; alerts are shown but not logged", file=sys.stderr)
        alert_log = None
    options = SessionOptions(
        pace=not fast,
        fail_fast=False,
        clips_dir=live_clips_dir(settings),
        clips_shared=True,
    )
    with stop_on_signals(StopFlag()) as stop:
        session = Session(settings, choice, source, alert_log, options, ConsoleListener(), stop)
        try:
            summary = session.run()
        finally:
            if alert_log is not None:
                alert_log.close()
    s = summary
    ended = f"interrupted ({s.stop_reason})" if s.interrupted else "ended"
    print(
        f"session {s.session_id} {ended}: {s.frames} frames, {s.duration_s:.1f} s,"
        f" face {s.face_found_rate:.0%}, {s.blinks} blink{'' if s.blinks == 1 else 's'},"
        f" alerts {', '.join(f'{k} x{n}' for k, n in s.alerts_by_kind.items()) or 'none'};"
        f" log: {log_path}"
    )
    # the convention of every command (analyze too): 130 after SIGINT, 143 after SIGTERM
    return exit_code(summary.stop_reason if summary.interrupted else None)
