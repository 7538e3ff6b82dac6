"""The alert rules, one class each: its alert kinds and their levels, its state, and
``evaluate`` (what one frame does to it). The rows of the alert table in docs/architecture.md.

A rule reads its limits from :class:`AlertSettings` and reports through the engine's
:class:`AlertBook` (``hold`` while its condition is met, ``end`` when it clears). Rules that
measure over a window of past frames also ``account`` the previous frame (it held from its
timestamp until this one). Adding a rule: a class here, its kind in ``AlertKind``, its limits
in ``AlertSettings``, and an entry in :data:`DEFAULT_RULES`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import ClassVar

from drowsy.alerts.book import AlertBook
from drowsy.alerts.condition import Condition
from drowsy.contracts import AlertKind, AlertLevel, AlertUpdate, DriverState, Episode, FrameSignals
from drowsy.settings import AlertSettings, SignalSettings

Levels = dict[AlertKind, tuple[AlertLevel, AlertLevel]]
Updates = list[AlertUpdate | None]
W, C, I = AlertLevel.WARNING, AlertLevel.CRITICAL, AlertLevel.INFO  # noqa: E741


@dataclass(slots=True)
class EngineStatus:
    """Live values for the per-frame CSV and the GUI (the rules fill them in)."""

    perclos: float | None = None
    closure_s: float = 0.0
    off_road_s: float = 0.0
    vats_off_road_s: float = 0.0
    no_face_s: float = 0.0
    yawns_in_window: int = 0


@dataclass(frozen=True, slots=True)
class Tick:
    """One frame as the rules see it: its signals, the frame before, the temporal state, and
    the three thresholded conditions several rules share."""

    t: float
    dt: float  # since the previous frame, capped (a stalled source counts as MAX_FRAME_GAP_S)
    sig: FrameSignals
    state: DriverState | None
    closed: bool
    off_road: bool
    yawning: bool


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What every rule is built with: its limits, the signal thresholds, the engine's book
    and the live status it fills in."""

    settings: AlertSettings
    signals: SignalSettings
    book: AlertBook
    status: EngineStatus


class Rule:
    """Base: a rule with no window accounting and nothing to flush."""

    levels: ClassVar[Levels] = {}

    def __init__(self, ctx: RuleContext) -> None:
        self.s = ctx.settings
        self.book = ctx.book
        self.status = ctx.status

    def account(self, t: float, dt: float, prev: FrameSignals) -> None:
        """The previous frame held for ``dt`` until ``t``: add it to the rule's window."""

    def evaluate(self, k: Tick) -> Updates:
        raise NotImplementedError

    def finish(self, t: float) -> None:
        """The stream ended at ``t``: record what is still open (episodes)."""


class ClosureRule(Rule):
    """Eye closures: blinks and long blinks as episodes; a microsleep alert from
    ``microsleep_s``, ended and replaced by a sleep alert at ``sleep_s``."""

    levels: ClassVar[Levels] = {AlertKind.MICROSLEEP: (W, W), AlertKind.SLEEP: (C, C)}

    def __init__(self, ctx: RuleContext) -> None:
        super().__init__(ctx)
        self.closure = Condition(self.s.clear_s)
        # A blink needs the eye seen open before and after it: a lone face between frames
        # without one (a face found for one frame) must not count as a blink.
        self._prev_seen_open = False
        self._open_before = self._open_after = False

    def _record(self, start: float, end: float) -> None:
        d = end - start
        if d < self.s.blink_max_s:
            kind = "blink"
        else:
            kind = "long_blink" if d < self.s.microsleep_s else "closure"
        if kind != "closure" and not (self._open_before and self._open_after):
            return  # not seen open on both sides: a closure nobody saw begin or end
        self.book.add_episode(Episode(kind, start, end))

    def evaluate(self, k: Tick) -> Updates:
        t, sig, closed, book = k.t, k.sig, k.closed, self.book
        seen_open = sig.usable and sig.eye_closed is not None and not closed
        if closed and not self.closure.holding:
            self._open_before, self._open_after = self._prev_seen_open, False
        elif self.closure.holding:
            self._open_after = seen_open or (self._open_after and not closed)
        self._prev_seen_open = seen_open
        spell = self.closure.update(t, closed)
        held = self.closure.held_for(t)
        self.status.closure_s = held
        if spell:
            self._record(*spell)
            lasted = round(spell[1] - spell[0], 3)
            return [book.end(kind, spell[1], closure_s=lasted) for kind in self.levels]
        if not self.closure.holding:
            return []
        peak = {"closure_s": held, "eye_closed": sig.eye_closed or 0.0}
        evidence = {"closure_start_s": round(self.closure.since or t, 3)}
        if held >= self.s.sleep_s:
            out: Updates = []
            if AlertKind.MICROSLEEP in book.active:
                out.append(book.end(AlertKind.MICROSLEEP, t, escalated_to="sleep"))
            return out + book.hold(AlertKind.SLEEP, t, peak, evidence)
        if held >= self.s.microsleep_s:
            return book.hold(AlertKind.MICROSLEEP, t, peak, evidence)
        return []

    def finish(self, t: float) -> None:
        spell = self.closure.flush(t)
        if spell:
            self._record(*spell)


class UnresponsiveRule(Rule):
    """Eyes closed or off the road, without a break, for ``unresponsive_s``."""

    levels: ClassVar[Levels] = {AlertKind.UNRESPONSIVE: (C, C)}

    def __init__(self, ctx: RuleContext) -> None:
        super().__init__(ctx)
        self.inattentive = Condition(self.s.clear_s)

    def evaluate(self, k: Tick) -> Updates:
        spell = self.inattentive.update(k.t, k.closed or k.off_road)
        if spell:
            return [self.book.end(AlertKind.UNRESPONSIVE, spell[1])]
        held = self.inattentive.held_for(k.t)
        if held >= self.s.unresponsive_s:
            return self.book.hold(AlertKind.UNRESPONSIVE, k.t, {"inattentive_s": held})
        return []


class LongDistractionRule(Rule):
    """One glance away from the road of ``distraction_s`` or longer."""

    levels: ClassVar[Levels] = {AlertKind.LONG_DISTRACTION: (W, C)}

    def __init__(self, ctx: RuleContext) -> None:
        super().__init__(ctx)
        self.off_road = Condition(self.s.clear_s)

    def evaluate(self, k: Tick) -> Updates:
        spell = self.off_road.update(k.t, k.off_road)
        held = self.off_road.held_for(k.t)
        self.status.off_road_s = held
        if spell:
            return [self.book.end(AlertKind.LONG_DISTRACTION, spell[1])]
        if held < self.s.distraction_s:
            return []
        peak = {"off_road_s": held}
        if k.sig.gaze_yaw is not None and k.sig.gaze_pitch is not None:
            peak["abs_gaze_yaw"] = abs(k.sig.gaze_yaw)
            peak["abs_gaze_pitch"] = abs(k.sig.gaze_pitch)
        evidence = {"off_road_start_s": round(self.off_road.since or k.t, 3)}
        return self.book.hold(AlertKind.LONG_DISTRACTION, k.t, peak, evidence)


class VisualTimeSharingRule(Rule):
    """Glances shorter than a long distraction, summed over ``vats_window_s`` until the
    driver has looked at the road for ``vats_reset_on_road_s`` without a break."""

    levels: ClassVar[Levels] = {AlertKind.VISUAL_TIME_SHARING: (W, C)}

    def __init__(self, ctx: RuleContext) -> None:
        super().__init__(ctx)
        self._on_road_since: float | None = None
        self._pieces: deque[tuple[float, float]] = deque()  # (t, dt) of short glances away
        self._current: list[tuple[float, float]] = []  # the glance going on

    def account(self, t: float, dt: float, prev: FrameSignals) -> None:
        if prev.on_road is False:
            self._current.append((prev.timestamp_s, dt))
            if sum(d for _, d in self._current) >= self.s.distraction_s:
                self._current.clear()  # a long distraction, not time sharing
        elif self._current:
            self._pieces.extend(self._current)
            self._current.clear()
        horizon = t - self.s.vats_window_s
        while self._pieces and self._pieces[0][0] < horizon:
            self._pieces.popleft()
        self.status.vats_off_road_s = sum(d for _, d in self._pieces) + sum(
            d for _, d in self._current
        )

    def evaluate(self, k: Tick) -> Updates:
        out: Updates = []
        if k.sig.on_road:
            self._on_road_since = self._on_road_since if self._on_road_since is not None else k.t
            if k.t - self._on_road_since >= self.s.vats_reset_on_road_s:
                self._pieces.clear()
                self._current.clear()
                out.append(self.book.end(AlertKind.VISUAL_TIME_SHARING, k.t, reset_by="on_road"))
        else:
            self._on_road_since = None
        total = self.status.vats_off_road_s
        if total >= self.s.vats_off_road_s:
            peak = {"off_road_in_window_s": total}
            ev = {"window_s": self.s.vats_window_s, "glance_pieces": len(self._pieces)}
            out += self.book.hold(AlertKind.VISUAL_TIME_SHARING, k.t, peak, ev)
        return out


class PerclosRule(Rule):
    """The share of ``perclos_window_s`` with the eyes closed (usable frames only, once they
    cover ``perclos_min_coverage`` of it) above ``perclos_threshold``; critical at once from
    ``perclos_critical``; ends below ``perclos_release`` x the threshold."""

    levels: ClassVar[Levels] = {AlertKind.DROWSY_PERCLOS: (W, C)}

    def __init__(self, ctx: RuleContext) -> None:
        super().__init__(ctx)
        self.closed_threshold = ctx.signals.closed_threshold
        self._window: deque[tuple[float, float, bool]] = deque()  # (t, dt, closed)
        self._closed = 0.0
        self._usable = 0.0

    def account(self, t: float, dt: float, prev: FrameSignals) -> None:
        if prev.usable and prev.eye_closed is not None:
            closed = prev.eye_closed >= self.closed_threshold
            self._window.append((prev.timestamp_s, dt, closed))
            self._usable += dt
            self._closed += dt if closed else 0.0
        horizon = t - self.s.perclos_window_s
        while self._window and self._window[0][0] < horizon:
            _, d, c = self._window.popleft()
            self._usable -= d
            self._closed -= d if c else 0.0
        enough = self._usable >= self.s.perclos_min_coverage * self.s.perclos_window_s
        self.status.perclos = max(0.0, self._closed) / self._usable if enough else None

    def evaluate(self, k: Tick) -> Updates:
        p, kind, book = self.status.perclos, AlertKind.DROWSY_PERCLOS, self.book
        if p is None:
            return []
        if kind in book.active and p < self.s.perclos_release * self.s.perclos_threshold:
            return [book.end(kind, k.t)]
        if p <= self.s.perclos_threshold:
            return []
        ev = {"window_s": self.s.perclos_window_s, "threshold": self.s.perclos_threshold}
        out = book.hold(kind, k.t, {"perclos": p}, ev)
        alert = book.active.get(kind)
        if alert and p >= self.s.perclos_critical and alert.level != AlertLevel.CRITICAL:
            out.append(book.escalate(kind, AlertLevel.CRITICAL, k.t))
        return out


class YawnRule(Rule):
    """Yawns (mouth open ``yawn_min_s``) as episodes; ``yawn_count`` of them within
    ``yawn_window_s`` raise an alert."""

    levels: ClassVar[Levels] = {AlertKind.DROWSY_YAWNS: (I, W)}

    def __init__(self, ctx: RuleContext) -> None:
        super().__init__(ctx)
        self.yawn = Condition(self.s.clear_s)
        self._starts: deque[float] = deque()

    def evaluate(self, k: Tick) -> Updates:
        t = k.t
        spell = self.yawn.update(t, k.yawning)
        if spell and spell[1] - spell[0] >= self.s.yawn_min_s:
            self.book.add_episode(Episode("yawn", *spell))
        # a yawn counts as soon as the mouth has been wide open for yawn_min_s
        start = self.yawn.since
        counted = bool(self._starts) and self._starts[-1] == start
        if start is not None and self.yawn.held_for(t) >= self.s.yawn_min_s and not counted:
            self._starts.append(start)
        while self._starts and self._starts[0] < t - self.s.yawn_window_s:
            self._starts.popleft()
        n = len(self._starts)
        self.status.yawns_in_window = n
        if n >= self.s.yawn_count:
            peak = {"yawns_in_window": float(n)}
            ev = {"yawn_starts_s": [round(x, 3) for x in self._starts]}
            return self.book.hold(AlertKind.DROWSY_YAWNS, t, peak, ev)
        return [self.book.end(AlertKind.DROWSY_YAWNS, t)]

    def finish(self, t: float) -> None:
        spell = self.yawn.flush(t)
        if spell and spell[1] - spell[0] >= self.s.yawn_min_s:
            self.book.add_episode(Episode("yawn", *spell))


class TemporalRule(Rule):
    """The temporal model's drowsiness score at or above ``temporal_threshold`` for
    ``temporal_min_s``. No state is no evidence (no usable face, head out of range, window
    filling): the condition is false, so an alert the model raised ends after the hysteresis."""

    levels: ClassVar[Levels] = {AlertKind.DROWSY_TEMPORAL: (W, C)}

    def __init__(self, ctx: RuleContext) -> None:
        super().__init__(ctx)
        self.high = Condition(self.s.clear_s)

    def evaluate(self, k: Tick) -> Updates:
        state = k.state
        high = state is not None and state.drowsiness >= self.s.temporal_threshold
        spell = self.high.update(k.t, high)
        if spell:
            return [self.book.end(AlertKind.DROWSY_TEMPORAL, spell[1])]
        if state is not None and self.high.held_for(k.t) >= self.s.temporal_min_s:
            peak = {"drowsiness": state.drowsiness}
            ev = {"attention": [round(a, 4) for a in state.attention]}
            return self.book.hold(AlertKind.DROWSY_TEMPORAL, k.t, peak, ev)
        return []


class DegradedRule(Rule):
    """No usable face for ``degraded_s``: the monitor cannot see the driver."""

    levels: ClassVar[Levels] = {AlertKind.MONITORING_DEGRADED: (W, W)}

    def __init__(self, ctx: RuleContext) -> None:
        super().__init__(ctx)
        self.degraded = Condition(self.s.degraded_clear_s)

    def evaluate(self, k: Tick) -> Updates:
        spell = self.degraded.update(k.t, not k.sig.usable)
        held = self.degraded.held_for(k.t)
        self.status.no_face_s = held
        if spell:
            return [self.book.end(AlertKind.MONITORING_DEGRADED, spell[1])]
        if held >= self.s.degraded_s:
            peak = {"no_usable_face_s": held}
            ev = {"face_present": k.sig.face_present}
            return self.book.hold(AlertKind.MONITORING_DEGRADED, k.t, peak, ev)
        return []


# evaluation order = the order of the updates a frame returns
DEFAULT_RULES: tuple[type[Rule], ...] = (
    ClosureRule,
    UnresponsiveRule,
    LongDistractionRule,
    VisualTimeSharingRule,
    PerclosRule,
    YawnRule,
    TemporalRule,
    DegradedRule,
)
