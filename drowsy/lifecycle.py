"""Stopping a session cleanly: a stop flag, SIGINT/SIGTERM handlers that set it, and the exit
status a signal-ended process returns."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopFlag:
    """Set by a signal handler, a GUI button or a test; sessions check it between frames."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def set(self, reason: str = "stopped") -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


@contextmanager
def stop_on_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """SIGINT and SIGTERM (what Ctrl+C, ``systemctl stop`` and ``kill`` send) set ``flag`` so
    the session ends cleanly: alerts end at the last frame, the session is closed as
    interrupted, a partial summary is written. A second SIGINT stops at once. Only the main
    thread can install handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if flag.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set(name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


SIGNAL_REASONS = ("SIGINT", "SIGTERM")


def exit_code(reason: str | None) -> int:
    """The conventional exit status of a process ended by a signal (128 + its number)."""
    if reason in SIGNAL_REASONS:
        return 128 + int(signal.Signals[reason])
    return 0
