"""Alert engine: every row of the alert table in docs/architecture.md, in seconds of video time.

Each frame's signals hold from their timestamp until the next frame's, so rules measure time,
not frame counts, and 6 fps and 30 fps video raise the same alerts. Conditions end only after
being false for ``clear_s`` (time hysteresis); an ended kind waits out its cooldown before it can
fire again; active alerts escalate one level per ``escalate_after_s`` up to their kind's cap.
Every change is returned as an :class:`AlertUpdate` so the log can commit it at once.

The rules are units (:mod:`drowsy.alerts.rules`); the alerts they raise live in an
:class:`~drowsy.alerts.book.AlertBook`. The engine feeds each frame to every rule in order.
"""

from __future__ import annotations

from collections import deque

from drowsy.alerts.book import RECENT_EPISODES, AlertBook, EpisodeStats
from drowsy.alerts.rules import DEFAULT_RULES, EngineStatus, Rule, RuleContext, Tick
from drowsy.contracts import Alert, AlertKind, AlertUpdate, DriverState, Episode, FrameSignals
from drowsy.settings import AlertSettings, SignalSettings

__all__ = ["RECENT_EPISODES", "AlertEngine", "EngineStatus", "EpisodeStats"]

MAX_FRAME_GAP_S = 1.0  # a longer gap between frames counts as this long (source stalls)


class AlertEngine:
    """Turns per-frame signals (and the temporal model's state) into alerts: raises, escalates
    and ends them, with cooldowns, and keeps blink/closure/yawn episodes."""

    def __init__(
        self,
        settings: AlertSettings,
        signals: SignalSettings,
        first_uid: int = 0,
        rules: tuple[type[Rule], ...] = DEFAULT_RULES,
    ) -> None:
        """``first_uid``: alert uids continue after it, so an engine that replaces another in
        the same session (a seek) never reuses an alert uid the log already maps."""
        self.thresholds = signals
        levels = {kind: lv for rule in rules for kind, lv in rule.levels.items()}
        missing = set(AlertKind) - set(levels)
        if missing and rules is DEFAULT_RULES:
            raise ValueError(f"no rule raises {sorted(missing)}")
        self.book = AlertBook(settings, levels, first_uid)
        self.status = EngineStatus()
        ctx = RuleContext(settings, signals, self.book, self.status)
        self.rules = [rule(ctx) for rule in rules]
        self._last_t: float | None = None
        self._prev: FrameSignals | None = None

    @property
    def active(self) -> dict[AlertKind, Alert]:
        return self.book.active

    @property
    def last_uid(self) -> int:
        return self.book.uid

    @property
    def episodes(self) -> deque[Episode]:
        return self.book.episodes

    @property
    def episode_stats(self) -> dict[str, EpisodeStats]:
        return self.book.episode_stats

    def take_episodes(self) -> list[Episode]:
        """Episodes finished since the last call (for sinks that keep every one, offline)."""
        out = list(self.book.new_episodes)
        self.book.new_episodes.clear()
        return out

    def update(self, sig: FrameSignals, state: DriverState | None = None) -> list[AlertUpdate]:
        """Feed one frame (in time order); returns the alert changes it caused."""
        t = sig.timestamp_s
        if self._last_t is not None and t <= self._last_t:
            raise ValueError(f"timestamps must increase: {t} after {self._last_t}")
        dt = 0.0 if self._last_t is None else min(t - self._last_t, MAX_FRAME_GAP_S)
        prev = self._prev
        self._last_t, self._prev = t, sig
        self.book.frame_index = sig.index
        th = self.thresholds
        eyes, yawn = sig.eye_closed, sig.yawn
        tick = Tick(
            t=t,
            dt=dt,
            sig=sig,
            state=state,
            closed=sig.usable and eyes is not None and eyes >= th.closed_threshold,
            off_road=sig.on_road is False,
            yawning=sig.usable and yawn is not None and yawn >= th.yawn_threshold,
        )
        if prev is not None:
            for rule in self.rules:
                rule.account(t, dt, prev)
        return [u for rule in self.rules for u in rule.evaluate(tick) if u is not None]

    def finish(self) -> list[AlertUpdate]:
        """End everything at the last timestamp (end of a video or session)."""
        if self._last_t is None:
            return []
        t = self._last_t
        for rule in self.rules:
            rule.finish(t)
        ended = (self.book.end(kind, t, ended_by="end_of_stream") for kind in list(self.active))
        return [u for u in ended if u is not None]
