"""Can Qt open a window here? Asked in a child process, because Qt aborts the whole process
(SIGABRT) when its platform plugin cannot start: an unreachable ``DISPLAY`` or a missing
system library such as libxcb-cursor0. The monitor falls back to the console instead."""

from __future__ import annotations

import os
import re
import subprocess
import sys

PROBE = "from PyQt6.QtWidgets import QApplication; QApplication([])"
PROBE_TIMEOUT_S = 20.0
# what Qt's xcb plugin needs beyond the wheel (README, "System packages")
SYSTEM_PACKAGES = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0")


def qt_start_problem() -> str | None:
    """None when a Qt window can be created, else one line saying why (naming the missing
    system package when that is the reason)."""
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        return None
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"Qt did not start within {PROBE_TIMEOUT_S:g} s"
    except OSError as exc:
        return f"cannot start Python to check Qt ({exc})"
    if done.returncode == 0:
        return None
    return explain(done.stderr)


def explain(stderr: str) -> str:
    """Qt's start-up complaint, said as what to do about it."""
    if "xcb-cursor0" in stderr:
        return "the system package libxcb-cursor0 is missing (apt-get install libxcb-cursor0)"
    missing = re.search(r"(lib[\w+-]+)\.so[.\d]*: cannot open shared object file", stderr)
    if missing:
        return f"the system library {missing.group(1)} is missing (README: System packages)"
    if "could not connect to display" in stderr:
        return f"cannot connect to the display {os.environ.get('DISPLAY', '')!r}"
    lines = [x.strip() for x in stderr.splitlines() if x.strip()]
    return lines[0] if lines else "Qt could not start"
