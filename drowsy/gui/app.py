"""``drowsy monitor``: open the window, optionally leave after a while and save a screenshot
(for tests and documentation)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from drowsy.settings import Settings
from drowsy.sources import SourceOptions

if TYPE_CHECKING:  # Qt is imported when the monitor starts (after QT_QPA_PLATFORM is set)
    from PyQt6.QtCore import QMessageLogContext, QtMsgType


def run_monitor(
    settings: Settings,
    source: str | None,
    exit_after: float | None,
    screenshot: Path | None,
    camera: SourceOptions | None = None,
) -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6 import sip
    from PyQt6.QtCore import QTimer, qInstallMessageHandler
    from PyQt6.QtWidgets import QApplication

    from drowsy.gui.window import MonitorWindow

    qInstallMessageHandler(_qt_messages)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    holder: dict = {}
    _close_on_signals(app, holder)  # before the window starts its session
    window = MonitorWindow(settings, source, camera)
    holder["window"] = window
    window.show()
    if "signal" in holder:  # it came while the window was being built
        window.stop_reason = holder["signal"]
        window.close()
        return 0
    if exit_after is not None:

        def leave() -> None:
            if screenshot is not None:
                window.grab().save(str(screenshot))
            window.close()
            app.quit()

        QTimer.singleShot(int(exit_after * 1000), leave)
    code = app.exec()
    open_error = window.open_error
    # Tear down in order while Qt is still whole: the wake-up timer, then the window (and its
    # plots), then the app; left to interpreter exit, the order is arbitrary and can crash.
    holder["timer"].stop()
    holder.clear()
    window.close()
    sip.delete(window)
    if open_error:
        print(f"error: {open_error}", file=sys.stderr)
        return 2
    return 0 if code == 0 else 1


def _close_on_signals(app, holder: dict) -> None:
    """SIGTERM (``systemctl stop``) and SIGINT close the window like the user would: the
    worker finishes the session (alerts ended, ``ended_at`` written). Qt's event loop does not
    run Python code by itself, so a timer wakes the interpreter to notice the signal."""
    import signal

    from PyQt6.QtCore import QTimer

    def handler(signum: int, _frame: object) -> None:
        holder["signal"] = signal.Signals(signum).name
        window = holder.get("window")
        if window is not None:
            window.stop_reason = signal.Signals(signum).name
            window.close()
        app.quit()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(200)
    holder["timer"] = timer


_QT_NOISE = ("propagateSizeHints",)


def _qt_messages(mode: QtMsgType, context: QMessageLogContext, message: str | None) -> None:
    """Qt's own chatter (the offscreen platform's unsupported-feature notes) is not for users."""
    if message and not any(n in message for n in _QT_NOISE):
        sys.stderr.write(message + "\n")
