"""``drowsy monitor``: open the window, optionally leave after a while and save a screenshot
(for tests and documentation)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from drowsy.settings import Settings


def run_monitor(
    settings: Settings, source: str | None, exit_after: float | None, screenshot: Path | None
) -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QTimer, qInstallMessageHandler
    from PyQt6.QtWidgets import QApplication

    from drowsy.gui.window import MonitorWindow

    qInstallMessageHandler(_qt_messages)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MonitorWindow(settings, source)
    window.show()
    if exit_after is not None:

        def leave() -> None:
            if screenshot is not None:
                window.grab().save(str(screenshot))
            window.close()
            app.quit()

        QTimer.singleShot(int(exit_after * 1000), leave)
    code = app.exec()
    if window.open_error:
        print(f"error: {window.open_error}", file=sys.stderr)
        return 2
    return 0 if code == 0 else 1


_QT_NOISE = ("propagateSizeHints",)


def _qt_messages(mode, context, message: str) -> None:
    """Qt's own chatter (the offscreen platform's unsupported-feature notes) is not for users."""
    if not any(n in message for n in _QT_NOISE):
        sys.stderr.write(message + "\n")
