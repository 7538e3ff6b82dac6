"""The active alerts and their lifecycle: raise (unless active or cooling down), keep peaks,
escalate one level per ``escalate_after_s`` up to the kind's cap, end (starting the cooldown).

Every change returns a new frozen :class:`Alert` snapshot in an :class:`AlertUpdate`; the book
keeps the latest snapshot of each active alert, never mutating one already handed out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace

from drowsy.contracts import Alert, AlertAction, AlertKind, AlertLevel, AlertUpdate, Episode
from drowsy.settings import AlertSettings

# Episodes kept for display; older ones live on only in the per-kind aggregates, so a session
# of many hours keeps flat memory (a driver blinks ~1000 times an hour).
RECENT_EPISODES = 512


@dataclass(slots=True)
class EpisodeStats:
    """Aggregates of one episode kind over the whole session (bounded memory)."""

    count: int = 0
    total_s: float = 0.0


class AlertBook:
    """Alerts in force, uids, cooldowns and episodes of one engine."""

    def __init__(
        self,
        settings: AlertSettings,
        levels: Mapping[AlertKind, tuple[AlertLevel, AlertLevel]],
        first_uid: int = 0,
    ) -> None:
        """``levels``: each kind's (level when raised, highest level while it lasts)."""
        self.settings = settings
        self.levels = levels
        self.active: dict[AlertKind, Alert] = {}
        self.uid = first_uid
        self.frame_index = 0  # the frame being evaluated: an alert's start_frame
        self._cooldown_until: dict[AlertKind, float] = {}
        self._level_since: dict[AlertKind, float] = {}
        self.episodes: deque[Episode] = deque(maxlen=RECENT_EPISODES)
        self.episode_stats: dict[str, EpisodeStats] = {}
        self.new_episodes: deque[Episode] = deque(maxlen=RECENT_EPISODES)

    # ---------------------------------------------------------------------------- alerts
    def hold(
        self,
        kind: AlertKind,
        t: float,
        peak: dict[str, float],
        evidence: Mapping[str, object] | None = None,
    ) -> list[AlertUpdate | None]:
        """The kind's condition holds at ``t``: raise it (when it may be) and track it."""
        return [self.raise_(kind, t, peak, evidence or {}), self.track(kind, t, peak)]

    def raise_(
        self, kind: AlertKind, t: float, peak: dict[str, float], evidence: Mapping[str, object]
    ) -> AlertUpdate | None:
        if kind in self.active or t < self._cooldown_until.get(kind, float("-inf")):
            return None
        self.uid += 1
        level = self.levels[kind][0]
        alert = Alert(
            uid=self.uid,
            kind=kind,
            level=level,
            start_s=t,
            start_frame=self.frame_index,
            peak={k: round(v, 4) for k, v in peak.items()},
            evidence=dict(evidence),
            levels={str(level): round(t, 3)},
        )
        self.active[kind] = alert
        self._level_since[kind] = t
        return AlertUpdate(AlertAction.RAISED, alert)

    def track(self, kind: AlertKind, t: float, peak: dict[str, float]) -> AlertUpdate | None:
        """Update peaks of an active alert; escalate it when it has held its level long enough."""
        alert = self.active.get(kind)
        if alert is None:
            return None
        higher = {k: round(v, 4) for k, v in peak.items() if v > alert.peak.get(k, float("-inf"))}
        if higher:  # a new peak is kept (in the next snapshot emitted), not announced
            alert = self.active[kind] = replace(alert, peak={**alert.peak, **higher})
        cap = self.levels[kind][1]
        if (
            alert.level.rank < cap.rank
            and t - self._level_since[kind] >= self.settings.escalate_after_s
        ):
            return self.escalate(kind, alert.level.raised(), t)
        return None

    def escalate(self, kind: AlertKind, level: AlertLevel, t: float) -> AlertUpdate:
        alert = self.active[kind]
        levels = {**alert.levels, str(level): round(t, 3)}
        alert = self.active[kind] = replace(alert, level=level, levels=levels)
        self._level_since[kind] = t
        return AlertUpdate(AlertAction.ESCALATED, alert)

    def end(self, kind: AlertKind, t: float, **evidence: object) -> AlertUpdate | None:
        alert = self.active.pop(kind, None)
        if alert is None:
            return None
        end = max(t, alert.start_s)
        alert = replace(alert, end_s=end, evidence={**alert.evidence, **evidence})
        self._cooldown_until[kind] = end + self.settings.cooldown(kind.value)
        return AlertUpdate(AlertAction.ENDED, alert)

    # -------------------------------------------------------------------------- episodes
    def add_episode(self, episode: Episode) -> None:
        self.episodes.append(episode)
        self.new_episodes.append(episode)
        stats = self.episode_stats.setdefault(episode.kind, EpisodeStats())
        stats.count += 1
        stats.total_s += episode.duration_s
