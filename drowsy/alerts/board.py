"""The active-alert board: every alert in force, and which one the driver must see.

Why a board: alert updates arrive one by one (a distraction ends while a sleep alert is still
critical). Whatever drives the banner, the alarm and the console must follow the most severe
alert still in force, not the newest update; an ended alert never silences a more severe one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from drowsy.contracts import Alert, AlertAction, AlertLevel, AlertUpdate


@dataclass(frozen=True, slots=True)
class BoardChange:
    """What one batch of updates did to the board."""

    top_before: Alert | None
    top_after: Alert | None
    ended: tuple[Alert, ...] = ()

    @property
    def top_changed(self) -> bool:
        before, after = self.top_before, self.top_after
        if before is None or after is None:
            return before is not after
        return (before.uid, before.level) != (after.uid, after.level)


class ActiveAlertBoard:
    """Alerts in force by uid (the latest snapshot of each). One per session, owned by it: the
    session thread applies updates, the monitor's thread reads it and acknowledges (a lock
    keeps the two apart; the alerts themselves are frozen)."""

    def __init__(self) -> None:
        self._active: dict[int, Alert] = {}
        self._acknowledged: dict[int, AlertLevel] = {}
        self._lock = threading.Lock()

    def apply(self, updates: Iterable[AlertUpdate]) -> BoardChange:
        with self._lock:
            before = self._top()
            ended = []
            for u in updates:
                alert = u.alert
                if u.action is AlertAction.ENDED:
                    self._active.pop(alert.uid, None)
                    self._acknowledged.pop(alert.uid, None)
                    ended.append(alert)
                else:
                    self._active[alert.uid] = alert
            return BoardChange(before, self._top(), tuple(ended))

    def clear(self) -> None:
        with self._lock:
            self._active.clear()
            self._acknowledged.clear()

    @property
    def active(self) -> list[Alert]:
        """Most severe first; among equals the most recently raised first."""
        with self._lock:
            return self._sorted()

    def _sorted(self) -> list[Alert]:
        return sorted(self._active.values(), key=lambda a: (a.level.rank, a.start_s), reverse=True)

    def _top(self) -> Alert | None:
        alerts = self._sorted()
        return alerts[0] if alerts else None

    @property
    def top(self) -> Alert | None:
        alerts = self.active
        return alerts[0] if alerts else None

    def acknowledge(self) -> None:
        """The driver confirmed: silence what is active at its current level. An escalation
        or a new alert sounds again."""
        with self._lock:
            self._acknowledged = {uid: a.level for uid, a in self._active.items()}

    @property
    def alarm_level(self) -> AlertLevel | None:
        """The level the alarm should sound at: the most severe unacknowledged active alert."""
        with self._lock:
            loud = [
                a
                for uid, a in self._active.items()
                if uid not in self._acknowledged or a.level.rank > self._acknowledged[uid].rank
            ]
        return max((a.level for a in loud), key=lambda lv: lv.rank, default=None)
