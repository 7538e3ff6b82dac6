"""The alert table of docs/architecture.md, rule by rule, on generated signal sequences."""

from __future__ import annotations

import pytest

from drowsy.alerts.condition import Condition
from drowsy.alerts.engine import AlertEngine
from drowsy.contracts import AlertAction, AlertKind, AlertLevel, DriverState
from drowsy.settings import Settings, apply_override
from tests.helpers import sequence, signals_at


def run(settings: Settings, signals, states=None):
    engine = AlertEngine(settings.alerts, settings.signals)
    updates = []
    for i, s in enumerate(signals):
        updates += engine.update(s, states[i] if states else None)
    updates += engine.finish()
    # each raised alert as it last was (snapshots: its end is a later update's alert)
    latest = {u.alert.uid: u.alert for u in updates}
    raised = [latest[u.alert.uid] for u in updates if u.action is AlertAction.RAISED]
    return engine, updates, raised


def closure(start: float, end: float):
    return lambda t: {"closed": 0.95 if start <= t < end else 0.05}


def test_short_blink_is_recorded_not_alerted(settings):
    engine, _, raised = run(settings, sequence(10, 30, closure(2.0, 2.2)))
    assert raised == []
    assert [e.kind for e in engine.episodes] == ["blink"]
    assert engine.episodes[0].duration_s == pytest.approx(0.2, abs=0.04)


def test_a_face_seen_for_single_frames_between_no_face_makes_no_blink(settings):
    """A stage clip: the face is found on lone frames with no face around them, and those
    crops read closed. Nobody saw the eye open before or after: not a blink."""
    lone = {int(10 * 30 * f) for f in (0.25, 0.46, 0.7)}
    signals = [signals_at(i / 30, i, closed=0.95, usable=i in lone) for i in range(10 * 30)]
    engine, _, raised = run(settings, signals)
    assert raised == [] and list(engine.episodes) == []


def test_a_blink_next_to_a_lost_face_is_not_counted_but_one_seen_open_around_it_is(settings):
    def sig(i):
        t = i / 30
        if 2.0 <= t < 2.2:
            return signals_at(t, i, closed=0.95)
        return signals_at(t, i, closed=0.05, usable=not 2.2 <= t < 3.0)

    engine, _, _ = run(settings, [sig(i) for i in range(150)])
    assert list(engine.episodes) == []  # the face was lost as the eye "opened"
    engine, _, _ = run(settings, sequence(10, 30, closure(2.0, 2.2)))
    assert [e.kind for e in engine.episodes] == ["blink"]


def test_long_blink_between_half_and_one_second_is_not_an_alert(settings):
    engine, _, raised = run(settings, sequence(10, 30, closure(2.0, 2.7)))
    assert raised == []
    assert [e.kind for e in engine.episodes] == ["long_blink"]


def test_microsleep_fires_once_one_second_into_a_closure(settings):
    _, _updates, raised = run(settings, sequence(10, 30, closure(2.0, 3.5)))
    assert [a.kind for a in raised] == [AlertKind.MICROSLEEP]
    ms = raised[0]
    assert 1.0 <= ms.start_s - 2.0 <= 1.05
    assert ms.level is AlertLevel.WARNING
    assert ms.end_s == pytest.approx(3.5, abs=0.04)
    assert ms.peak["closure_s"] == pytest.approx(1.5, abs=0.05)


def test_sleep_supersedes_microsleep_and_unresponsive_follows(settings):
    _, _, raised = run(settings, sequence(12, 30, closure(1.0, 8.0)))
    kinds = [a.kind for a in raised]
    assert kinds == [AlertKind.MICROSLEEP, AlertKind.SLEEP, AlertKind.UNRESPONSIVE]
    micro, sleep, unresp = raised
    assert micro.end_s == pytest.approx(sleep.start_s)
    assert micro.evidence["escalated_to"] == "sleep"
    assert sleep.start_s - 1.0 == pytest.approx(3.0, abs=0.05)
    assert sleep.level is AlertLevel.CRITICAL
    assert unresp.start_s - 1.0 == pytest.approx(6.0, abs=0.05)
    assert sleep.end_s == pytest.approx(8.0, abs=0.05)


def test_a_one_frame_flicker_does_not_split_a_closure(settings):
    def state(t):
        flicker = 2.0 <= t < 2.04
        return {"closed": 0.05 if flicker else (0.95 if 1.0 <= t < 2.6 else 0.05)}

    engine, _, raised = run(settings, sequence(6, 30, state))
    assert [a.kind for a in raised] == [AlertKind.MICROSLEEP]
    assert [e.kind for e in engine.episodes] == ["closure"]


def test_long_distraction_fires_at_three_seconds_and_escalates(settings):
    signals = sequence(15, 30, lambda t: {"on_road": not (1.0 <= t < 10.0)})
    _, updates, raised = run(settings, signals)
    assert AlertKind.LONG_DISTRACTION in [a.kind for a in raised]
    ld = next(a for a in raised if a.kind is AlertKind.LONG_DISTRACTION)
    assert ld.start_s - 1.0 == pytest.approx(3.0, abs=0.05)
    escalations = [u for u in updates if u.action is AlertAction.ESCALATED]
    assert [u.alert.kind for u in escalations] == [AlertKind.LONG_DISTRACTION]
    assert ld.level is AlertLevel.CRITICAL
    assert ld.end_s == pytest.approx(10.0, abs=0.05)
    # each level's start is kept: the escalation came escalate_after_s after the raise
    assert ld.levels["warning"] == pytest.approx(ld.start_s)
    after = settings.alerts.escalate_after_s
    assert ld.levels["critical"] == pytest.approx(ld.start_s + after, abs=0.05)
    assert ld.level_start_s == ld.levels["critical"]
    # what was emitted at the raise is a snapshot: the escalation did not change it
    first = next(u.alert for u in updates if u.action is AlertAction.RAISED and u.alert is not ld)
    assert first.uid == ld.uid and first.level is AlertLevel.WARNING
    assert first.levels == {"warning": ld.levels["warning"]} and first.end_s is None


def test_short_glance_raises_nothing(settings):
    _, _, raised = run(settings, sequence(10, 30, lambda t: {"on_road": not (2.0 <= t < 4.5)}))
    assert raised == []


def test_visual_time_sharing_from_repeated_short_glances(settings):
    # 1.5 s away, 1.0 s back, repeated: never a long distraction, 10 s away within ~17 s
    signals = sequence(30, 30, lambda t: {"on_road": (t % 2.5) >= 1.5})
    _, _, raised = run(settings, signals)
    kinds = [a.kind for a in raised]
    assert kinds == [AlertKind.VISUAL_TIME_SHARING]
    assert raised[0].peak["off_road_in_window_s"] >= 10.0


def test_visual_time_sharing_resets_after_two_seconds_on_road(settings):
    signals = sequence(60, 30, lambda t: {"on_road": (t % 4.0) >= 1.5})  # 2.5 s back each time
    _, _, raised = run(settings, signals)
    assert raised == []


def test_perclos_alert_when_eyes_closed_more_than_fifteen_percent(settings):
    # a 0.4 s closure every 2 s = 20 % closed (6 of every 30 frames at 15 fps)
    signals = sequence(90, 15, lambda t: {"closed": 0.95 if round(t * 15) % 30 < 6 else 0.05})
    engine, _, raised = run(settings, signals)
    assert [a.kind for a in raised] == [AlertKind.DROWSY_PERCLOS]
    # needs half a window of data before it speaks
    assert raised[0].start_s >= 30.0
    assert engine.status.perclos == pytest.approx(0.2, abs=0.015)
    assert raised[0].peak["perclos"] == pytest.approx(0.2, abs=0.04)


def test_normal_blinking_keeps_perclos_low(settings):
    signals = sequence(90, 15, lambda t: {"closed": 0.95 if (t % 4.0) < 0.2 else 0.05})
    engine, _, raised = run(settings, signals)
    assert raised == []
    assert engine.status.perclos == pytest.approx(0.05, abs=0.02)


def test_three_yawns_in_five_minutes(settings):
    def yawns(starts):
        return lambda t: {"yawn": 0.9 if any(s <= t < s + 2.5 for s in starts) else 0.1}

    engine, _, raised = run(settings, sequence(60, 10, yawns([5, 20, 40])))
    assert [a.kind for a in raised] == [AlertKind.DROWSY_YAWNS]
    assert raised[0].start_s == pytest.approx(42.0, abs=0.15)
    assert [e.kind for e in engine.episodes] == ["yawn"] * 3
    # short mouth openings (talking) are not yawns
    engine, _, raised = run(settings, sequence(60, 10, lambda t: {"yawn": 0.9 if t % 5 < 1 else 0}))
    assert raised == []
    assert list(engine.episodes) == []


def test_monitoring_degraded_after_ten_seconds_without_a_face(settings):
    signals = sequence(25, 15, lambda t: {"usable": not (5.0 <= t < 18.0)})
    _, _, raised = run(settings, signals)
    assert [a.kind for a in raised] == [AlertKind.MONITORING_DEGRADED]
    assert raised[0].start_s - 5.0 == pytest.approx(10.0, abs=0.1)
    assert raised[0].end_s == pytest.approx(18.0, abs=0.1)


def test_cooldown_blocks_a_repeat_of_the_same_kind(settings):
    # two face losses of 11 s separated by 2 s
    def state(t):
        return {"usable": not (0 <= t < 11 or 13 <= t < 24.5)}

    long_cooldown = apply_override(settings, 'alerts.cooldown_s={"monitoring_degraded": 30}')
    _, _, raised = run(long_cooldown, sequence(30, 10, state))
    assert [a.kind for a in raised] == [AlertKind.MONITORING_DEGRADED]
    no_cooldown = apply_override(settings, 'alerts.cooldown_s={"monitoring_degraded": 0}')
    _, _, raised = run(no_cooldown, sequence(30, 10, state))
    assert [a.kind for a in raised] == [AlertKind.MONITORING_DEGRADED] * 2


def test_temporal_model_alert_carries_attention_evidence(settings):
    signals = sequence(12, 10, lambda t: {})
    states = [
        DriverState(s.timestamp_s, 0.9 if 2 <= s.timestamp_s < 9 else 0.1, 0.0, (0.25,) * 4)
        for s in signals
    ]
    _, _, raised = run(settings, signals, states)
    assert [a.kind for a in raised] == [AlertKind.DROWSY_TEMPORAL]
    assert raised[0].start_s == pytest.approx(7.0, abs=0.11)
    assert raised[0].evidence["attention"] == [0.25] * 4


@pytest.mark.parametrize("fps", [6, 15, 30])
def test_alert_times_do_not_depend_on_frame_rate(settings, fps):
    _, _, raised = run(settings, sequence(12, fps, closure(2.0, 6.0)))
    assert [a.kind for a in raised] == [AlertKind.MICROSLEEP, AlertKind.SLEEP]
    assert raised[0].start_s == pytest.approx(3.0, abs=1.0 / fps + 1e-6)
    assert raised[1].start_s == pytest.approx(5.0, abs=1.0 / fps + 1e-6)


def test_timestamps_must_increase(settings):
    engine = AlertEngine(settings.alerts, settings.signals)
    engine.update(signals_at(1.0, 0))
    with pytest.raises(ValueError, match="increase"):
        engine.update(signals_at(1.0, 1))


def test_condition_reports_end_at_first_false_time():
    c = Condition(clear_s=0.3)
    assert c.update(0.0, True) is None
    assert c.update(1.0, False) is None
    assert c.update(1.2, False) is None
    assert c.update(1.31, False) == (0.0, 1.0)
    assert not c.holding


def test_the_console_prints_an_escalation_at_the_time_it_happened():
    """Before: `drowsy run` printed "[20.93s] ESCALATED" for an escalation at 25.9 s."""
    import io

    from drowsy.alerts.board import ActiveAlertBoard
    from drowsy.contracts import Alert, AlertUpdate
    from drowsy.live import ConsoleListener

    out = io.StringIO()
    levels = {"warning": 20.93, "critical": 25.9}
    alert = Alert(1, AlertKind.DROWSY_TEMPORAL, AlertLevel.CRITICAL, 20.93, 209, levels=levels)
    board = ActiveAlertBoard()
    updates = [AlertUpdate(AlertAction.ESCALATED, alert)]
    ConsoleListener(out).alerts(updates, board.apply(updates), board)
    assert out.getvalue().startswith("[  25.90s] ESCALATED to CRITICAL")
    assert "raised at 20.93s" in out.getvalue()
