"""Alert engine: every row of the alert table in docs/architecture.md, in seconds of video time.

Each frame's signals hold from their timestamp until the next frame's, so rules measure time,
not frame counts, and 6 fps and 30 fps video raise the same alerts. Conditions end only after
being false for ``clear_s`` (time hysteresis); an ended kind waits out its cooldown before it can
fire again; active alerts escalate one level per ``escalate_after_s`` up to their kind's cap.
Every change is returned as an :class:`AlertUpdate` so the log can commit it at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace

from drowsy.contracts import (
    Alert,
    AlertAction,
    AlertKind,
    AlertLevel,
    AlertUpdate,
    DriverState,
    Episode,
    FrameSignals,
)
from drowsy.settings import AlertSettings, SignalSettings

# (level when raised, highest level it escalates to while its condition lasts); a microsleep
# that lasts to sleep_s is ended and a separate sleep alert raised
LEVELS: dict[AlertKind, tuple[AlertLevel, AlertLevel]] = {
    AlertKind.MICROSLEEP: (AlertLevel.WARNING, AlertLevel.WARNING),
    AlertKind.SLEEP: (AlertLevel.CRITICAL, AlertLevel.CRITICAL),
    AlertKind.UNRESPONSIVE: (AlertLevel.CRITICAL, AlertLevel.CRITICAL),
    AlertKind.DROWSY_PERCLOS: (AlertLevel.WARNING, AlertLevel.CRITICAL),
    AlertKind.DROWSY_YAWNS: (AlertLevel.INFO, AlertLevel.WARNING),
    AlertKind.DROWSY_TEMPORAL: (AlertLevel.WARNING, AlertLevel.CRITICAL),
    AlertKind.LONG_DISTRACTION: (AlertLevel.WARNING, AlertLevel.CRITICAL),
    AlertKind.VISUAL_TIME_SHARING: (AlertLevel.WARNING, AlertLevel.CRITICAL),
    AlertKind.MONITORING_DEGRADED: (AlertLevel.WARNING, AlertLevel.WARNING),
}

MAX_FRAME_GAP_S = 1.0  # a longer gap between frames counts as this long (source stalls)
# Episodes kept for display; older ones live on only in the per-kind aggregates, so a session
# of many hours keeps flat memory (a driver blinks ~1000 times an hour).
RECENT_EPISODES = 512


@dataclass(slots=True)
class EpisodeStats:
    """Aggregates of one episode kind over the whole session (bounded memory)."""

    count: int = 0
    total_s: float = 0.0


class Condition:
    """How long a boolean condition has held, with time hysteresis on its end.

    ``update`` returns the (start, end) of a spell that just ended; ``end`` is the time the
    condition first went false, not the time the end was confirmed."""

    def __init__(self, clear_s: float) -> None:
        self.clear_s = clear_s
        self.since: float | None = None
        self._false_since: float | None = None

    @property
    def holding(self) -> bool:
        return self.since is not None

    def held_for(self, t: float) -> float:
        if self.since is None:
            return 0.0
        return (self._false_since if self._false_since is not None else t) - self.since

    def update(self, t: float, value: bool) -> tuple[float, float] | None:
        if value:
            if self.since is None:
                self.since = t
            self._false_since = None
            return None
        if self.since is None:
            return None
        if self._false_since is None:
            self._false_since = t
        if t - self._false_since >= self.clear_s:
            spell = (self.since, self._false_since)
            self.since = self._false_since = None
            return spell
        return None

    def flush(self, t: float) -> tuple[float, float] | None:
        """End any spell at stream end."""
        if self.since is None:
            return None
        spell = (self.since, self._false_since if self._false_since is not None else t)
        self.since = self._false_since = None
        return spell


@dataclass(slots=True)
class EngineStatus:
    """Live values for the per-frame CSV and the GUI."""

    perclos: float | None = None
    closure_s: float = 0.0
    off_road_s: float = 0.0
    vats_off_road_s: float = 0.0
    no_face_s: float = 0.0
    yawns_in_window: int = 0


class AlertEngine:
    """Turns per-frame signals (and the temporal model's state) into alerts with the rules and
    regulatory limits of docs/architecture.md: raises, escalates and ends them, with
    cooldowns, and keeps blink/closure/yawn episodes."""

    def __init__(
        self, settings: AlertSettings, signals: SignalSettings, first_uid: int = 0
    ) -> None:
        """``first_uid``: alert uids continue after it, so an engine that replaces another in
        the same session (a seek) never reuses an alert uid the log already maps."""
        self.rules = settings
        self.thresholds = signals
        self.active: dict[AlertKind, Alert] = {}
        self.episodes: deque[Episode] = deque(maxlen=RECENT_EPISODES)
        self.episode_stats: dict[str, EpisodeStats] = {}
        self._new_episodes: deque[Episode] = deque(maxlen=RECENT_EPISODES)
        self.status = EngineStatus()
        self._uid = first_uid
        self._cooldown_until: dict[AlertKind, float] = {}
        self._level_since: dict[AlertKind, float] = {}
        self._last_t: float | None = None
        self._last_index = 0
        self._prev: FrameSignals | None = None
        self._closure = Condition(settings.clear_s)
        # A blink needs the eye seen open before and after it: a lone face between frames
        # without one (a face found for one frame) must not count as a blink.
        self._prev_seen_open = False
        self._open_before = self._open_after = False
        self._yawn = Condition(settings.clear_s)
        self._off_road = Condition(settings.clear_s)
        self._inattentive = Condition(settings.clear_s)
        self._degraded = Condition(settings.degraded_clear_s)
        self._drowsy_score = Condition(settings.clear_s)
        self._on_road_since: float | None = None
        # PERCLOS window: (t, dt, closed) for usable frames; and total usable time in it
        self._perclos: deque[tuple[float, float, bool]] = deque()
        self._perclos_closed = 0.0
        self._perclos_usable = 0.0
        self._yawn_starts: deque[float] = deque()
        # VATS: (t, dt) pieces of short glances away since the last reset
        self._vats: deque[tuple[float, float]] = deque()
        self._vats_current: list[tuple[float, float]] = []

    @property
    def last_uid(self) -> int:
        return self._uid

    @property
    def last_t(self) -> float | None:
        """Timestamp of the last frame fed (None before the first)."""
        return self._last_t

    def _add_episode(self, episode: Episode) -> None:
        self.episodes.append(episode)
        self._new_episodes.append(episode)
        stats = self.episode_stats.setdefault(episode.kind, EpisodeStats())
        stats.count += 1
        stats.total_s += episode.duration_s

    def take_episodes(self) -> list[Episode]:
        """Episodes finished since the last call (for sinks that keep every one, offline)."""
        out = list(self._new_episodes)
        self._new_episodes.clear()
        return out

    # ----------------------------------------------------------------- alert bookkeeping
    def _raise(
        self, kind: AlertKind, t: float, peak: dict[str, float], evidence: Mapping[str, object]
    ) -> AlertUpdate | None:
        if kind in self.active or t < self._cooldown_until.get(kind, float("-inf")):
            return None
        self._uid += 1
        alert = Alert(
            uid=self._uid,
            kind=kind,
            level=LEVELS[kind][0],
            start_s=t,
            start_frame=self._last_index,
            peak={k: round(v, 4) for k, v in peak.items()},
            evidence=dict(evidence),
            levels={str(LEVELS[kind][0]): round(t, 3)},
        )
        self.active[kind] = alert
        self._level_since[kind] = t
        return AlertUpdate(AlertAction.RAISED, alert)

    def _track(self, kind: AlertKind, t: float, peak: dict[str, float]) -> AlertUpdate | None:
        """Update peaks of an active alert; escalate it when it has held its level long enough."""
        alert = self.active.get(kind)
        if alert is None:
            return None
        higher = {k: round(v, 4) for k, v in peak.items() if v > alert.peak.get(k, float("-inf"))}
        if higher:  # a new peak is kept (in the next snapshot emitted), not announced
            alert = self.active[kind] = replace(alert, peak={**alert.peak, **higher})
        cap = LEVELS[kind][1]
        if (
            alert.level.rank < cap.rank
            and t - self._level_since[kind] >= self.rules.escalate_after_s
        ):
            return self._escalate(kind, alert.level.raised(), t)
        return None

    def _escalate(self, kind: AlertKind, level: AlertLevel, t: float) -> AlertUpdate:
        alert = self.active[kind]
        levels = {**alert.levels, str(level): round(t, 3)}
        alert = self.active[kind] = replace(alert, level=level, levels=levels)
        self._level_since[kind] = t
        return AlertUpdate(AlertAction.ESCALATED, alert)

    def _end(self, kind: AlertKind, t: float, **evidence: object) -> AlertUpdate | None:
        alert = self.active.pop(kind, None)
        if alert is None:
            return None
        end = max(t, alert.start_s)
        alert = replace(alert, end_s=end, evidence={**alert.evidence, **evidence})
        self._cooldown_until[kind] = end + self.rules.cooldown(kind.value)
        return AlertUpdate(AlertAction.ENDED, alert)

    # ----------------------------------------------------------------------- main entry
    def update(self, sig: FrameSignals, state: DriverState | None = None) -> list[AlertUpdate]:
        """Feed one frame (in time order); returns the alert changes it caused."""
        t = sig.timestamp_s
        if self._last_t is not None and t <= self._last_t:
            raise ValueError(f"timestamps must increase: {t} after {self._last_t}")
        dt = 0.0 if self._last_t is None else min(t - self._last_t, MAX_FRAME_GAP_S)
        prev = self._prev
        self._last_t, self._last_index, self._prev = t, sig.index, sig
        out: list[AlertUpdate | None] = []

        eyes = sig.eye_closed
        closed = sig.usable and eyes is not None and eyes >= self.thresholds.closed_threshold
        off_road = sig.on_road is False
        yawning = sig.usable and sig.yawn is not None and sig.yawn >= self.thresholds.yawn_threshold

        if prev is not None:
            self._account_perclos(t, dt, prev)
            self._account_vats(t, dt, prev)
        out += self._closure_rules(t, sig, closed)
        out += self._unresponsive_rule(t, closed or off_road)
        out += self._distraction_rules(t, sig, off_road)
        out += self._perclos_rule(t)
        out += self._yawn_rules(t, sig, yawning)
        out += self._temporal_rule(t, state)
        out += self._degraded_rule(t, sig)
        return [u for u in out if u is not None]

    def finish(self) -> list[AlertUpdate]:
        """End everything at the last timestamp (end of a video or session)."""
        if self._last_t is None:
            return []
        t = self._last_t
        spell = self._closure.flush(t)
        if spell:
            self._record_closure(*spell)
        spell = self._yawn.flush(t)
        if spell and spell[1] - spell[0] >= self.rules.yawn_min_s:
            self._add_episode(Episode("yawn", *spell))
        return [
            u for kind in list(self.active) if (u := self._end(kind, t, ended_by="end_of_stream"))
        ]

    # --------------------------------------------------------------------------- rules
    def _record_closure(self, start: float, end: float) -> None:
        d = end - start
        if d < self.rules.blink_max_s:
            kind = "blink"
        else:
            kind = "long_blink" if d < self.rules.microsleep_s else "closure"
        if kind != "closure" and not (self._open_before and self._open_after):
            return  # not seen open on both sides: a closure nobody saw begin or end
        self._add_episode(Episode(kind, start, end))

    def _closure_rules(self, t: float, sig: FrameSignals, closed: bool) -> list[AlertUpdate | None]:
        out: list[AlertUpdate | None] = []
        seen_open = sig.usable and sig.eye_closed is not None and not closed
        if closed and not self._closure.holding:
            self._open_before, self._open_after = self._prev_seen_open, False
        elif self._closure.holding:
            self._open_after = seen_open or (self._open_after and not closed)
        self._prev_seen_open = seen_open
        spell = self._closure.update(t, closed)
        held = self._closure.held_for(t)
        self.status.closure_s = held
        if spell:
            self._record_closure(*spell)
            for kind in (AlertKind.MICROSLEEP, AlertKind.SLEEP):
                out.append(self._end(kind, spell[1], closure_s=round(spell[1] - spell[0], 3)))
            return out
        if not self._closure.holding:
            return out
        peak = {"closure_s": held, "eye_closed": sig.eye_closed or 0.0}
        evidence = {"closure_start_s": round(self._closure.since or t, 3)}
        if held >= self.rules.sleep_s:
            if AlertKind.MICROSLEEP in self.active:
                out.append(self._end(AlertKind.MICROSLEEP, t, escalated_to="sleep"))
            out.append(self._raise(AlertKind.SLEEP, t, peak, evidence))
            out.append(self._track(AlertKind.SLEEP, t, peak))
        elif held >= self.rules.microsleep_s:
            out.append(self._raise(AlertKind.MICROSLEEP, t, peak, evidence))
            out.append(self._track(AlertKind.MICROSLEEP, t, peak))
        return out

    def _unresponsive_rule(self, t: float, inattentive: bool) -> list[AlertUpdate | None]:
        spell = self._inattentive.update(t, inattentive)
        if spell:
            return [self._end(AlertKind.UNRESPONSIVE, spell[1])]
        held = self._inattentive.held_for(t)
        if held >= self.rules.unresponsive_s:
            peak = {"inattentive_s": held}
            return [
                self._raise(AlertKind.UNRESPONSIVE, t, peak, {}),
                self._track(AlertKind.UNRESPONSIVE, t, peak),
            ]
        return []

    def _distraction_rules(
        self, t: float, sig: FrameSignals, off_road: bool
    ) -> list[AlertUpdate | None]:
        out: list[AlertUpdate | None] = []
        spell = self._off_road.update(t, off_road)
        held = self._off_road.held_for(t)
        self.status.off_road_s = held
        if spell:
            out.append(self._end(AlertKind.LONG_DISTRACTION, spell[1]))
        elif held >= self.rules.distraction_s:
            peak = {"off_road_s": held}
            if sig.gaze_yaw is not None and sig.gaze_pitch is not None:
                peak["abs_gaze_yaw"] = abs(sig.gaze_yaw)
                peak["abs_gaze_pitch"] = abs(sig.gaze_pitch)
            evidence = {"off_road_start_s": round(self._off_road.since or t, 3)}
            out.append(self._raise(AlertKind.LONG_DISTRACTION, t, peak, evidence))
            out.append(self._track(AlertKind.LONG_DISTRACTION, t, peak))

        # Visual time sharing: glances shorter than a long distraction, summed in the window
        # until the driver has looked at the road for vats_reset_on_road_s without a break.
        if sig.on_road:
            self._on_road_since = self._on_road_since if self._on_road_since is not None else t
            if t - self._on_road_since >= self.rules.vats_reset_on_road_s:
                self._vats.clear()
                self._vats_current.clear()
                out.append(self._end(AlertKind.VISUAL_TIME_SHARING, t, reset_by="on_road"))
        else:
            self._on_road_since = None
        total = self.status.vats_off_road_s
        if total >= self.rules.vats_off_road_s:
            peak = {"off_road_in_window_s": total}
            ev = {"window_s": self.rules.vats_window_s, "glance_pieces": len(self._vats)}
            out.append(self._raise(AlertKind.VISUAL_TIME_SHARING, t, peak, ev))
            out.append(self._track(AlertKind.VISUAL_TIME_SHARING, t, peak))
        return out

    def _account_vats(self, t: float, dt: float, prev: FrameSignals) -> None:
        if prev.on_road is False:
            self._vats_current.append((prev.timestamp_s, dt))
            if sum(d for _, d in self._vats_current) >= self.rules.distraction_s:
                self._vats_current.clear()  # a long distraction, not time sharing
        elif self._vats_current:
            self._vats.extend(self._vats_current)
            self._vats_current.clear()
        horizon = t - self.rules.vats_window_s
        while self._vats and self._vats[0][0] < horizon:
            self._vats.popleft()
        self.status.vats_off_road_s = sum(d for _, d in self._vats) + sum(
            d for _, d in self._vats_current
        )

    def _account_perclos(self, t: float, dt: float, prev: FrameSignals) -> None:
        if prev.usable and prev.eye_closed is not None:
            closed = prev.eye_closed >= self.thresholds.closed_threshold
            self._perclos.append((prev.timestamp_s, dt, closed))
            self._perclos_usable += dt
            self._perclos_closed += dt if closed else 0.0
        horizon = t - self.rules.perclos_window_s
        while self._perclos and self._perclos[0][0] < horizon:
            _, d, c = self._perclos.popleft()
            self._perclos_usable -= d
            self._perclos_closed -= d if c else 0.0
        enough = (
            self._perclos_usable >= self.rules.perclos_min_coverage * self.rules.perclos_window_s
        )
        self.status.perclos = (
            max(0.0, self._perclos_closed) / self._perclos_usable if enough else None
        )

    def _perclos_rule(self, t: float) -> list[AlertUpdate | None]:
        p = self.status.perclos
        if p is None:
            return []
        if AlertKind.DROWSY_PERCLOS in self.active and p < 0.8 * self.rules.perclos_threshold:
            return [self._end(AlertKind.DROWSY_PERCLOS, t)]
        if p > self.rules.perclos_threshold:
            peak = {"perclos": p}
            ev = {
                "window_s": self.rules.perclos_window_s,
                "threshold": self.rules.perclos_threshold,
            }
            out = [
                self._raise(AlertKind.DROWSY_PERCLOS, t, peak, ev),
                self._track(AlertKind.DROWSY_PERCLOS, t, peak),
            ]
            alert = self.active.get(AlertKind.DROWSY_PERCLOS)
            if alert and p >= self.rules.perclos_critical and alert.level != AlertLevel.CRITICAL:
                out.append(self._escalate(AlertKind.DROWSY_PERCLOS, AlertLevel.CRITICAL, t))
            return out
        return []

    def _yawn_rules(self, t: float, sig: FrameSignals, yawning: bool) -> list[AlertUpdate | None]:
        spell = self._yawn.update(t, yawning)
        if spell and spell[1] - spell[0] >= self.rules.yawn_min_s:
            self._add_episode(Episode("yawn", *spell))
        # a yawn counts as soon as the mouth has been wide open for yawn_min_s
        if self._yawn.holding and self._yawn.held_for(t) >= self.rules.yawn_min_s:
            start = self._yawn.since
            if not self._yawn_starts or self._yawn_starts[-1] != start:
                self._yawn_starts.append(start)  # type: ignore[arg-type]
        while self._yawn_starts and self._yawn_starts[0] < t - self.rules.yawn_window_s:
            self._yawn_starts.popleft()
        n = len(self._yawn_starts)
        self.status.yawns_in_window = n
        if n >= self.rules.yawn_count:
            peak = {"yawns_in_window": float(n)}
            ev = {"yawn_starts_s": [round(x, 3) for x in self._yawn_starts]}
            return [
                self._raise(AlertKind.DROWSY_YAWNS, t, peak, ev),
                self._track(AlertKind.DROWSY_YAWNS, t, peak),
            ]
        if AlertKind.DROWSY_YAWNS in self.active:
            return [self._end(AlertKind.DROWSY_YAWNS, t)]
        return []

    def _temporal_rule(self, t: float, state: DriverState | None) -> list[AlertUpdate | None]:
        # no state is no evidence (no usable face, head out of range, window filling): the
        # condition is false, so an alert the model raised ends after the hysteresis
        high = state is not None and state.drowsiness >= self.rules.temporal_threshold
        spell = self._drowsy_score.update(t, high)
        if spell:
            return [self._end(AlertKind.DROWSY_TEMPORAL, spell[1])]
        if state is not None and self._drowsy_score.held_for(t) >= self.rules.temporal_min_s:
            peak = {"drowsiness": state.drowsiness}
            ev = {"attention": [round(a, 4) for a in state.attention]}
            return [
                self._raise(AlertKind.DROWSY_TEMPORAL, t, peak, ev),
                self._track(AlertKind.DROWSY_TEMPORAL, t, peak),
            ]
        return []

    def _degraded_rule(self, t: float, sig: FrameSignals) -> list[AlertUpdate | None]:
        spell = self._degraded.update(t, not sig.usable)
        held = self._degraded.held_for(t)
        self.status.no_face_s = held
        if spell:
            return [self._end(AlertKind.MONITORING_DEGRADED, spell[1])]
        if held >= self.rules.degraded_s:
            peak = {"no_usable_face_s": held}
            ev = {"face_present": sig.face_present}
            return [
                self._raise(AlertKind.MONITORING_DEGRADED, t, peak, ev),
                self._track(AlertKind.MONITORING_DEGRADED, t, peak),
            ]
        return []
