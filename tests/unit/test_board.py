"""The active-alert board: the most severe alert in force drives banner, alarm and console."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from drowsy.alerts.board import ActiveAlertBoard
from drowsy.contracts import Alert, AlertAction, AlertKind, AlertLevel, AlertUpdate

R, E, X = AlertAction.RAISED, AlertAction.ESCALATED, AlertAction.ENDED


def upd(action, uid, kind, level, start, end=None):
    return AlertUpdate(action, Alert(uid, kind, level, start, 0, end_s=end))


def test_an_ended_alert_never_silences_a_more_severe_active_one():
    """The demo's case: drowsy_temporal is critical while a long_distraction ends at ~32 s;
    before, the banner went grey and the alarm stopped."""
    board = ActiveAlertBoard()
    board.apply([upd(R, 1, AlertKind.DROWSY_TEMPORAL, AlertLevel.WARNING, 25.0)])
    board.apply([upd(E, 1, AlertKind.DROWSY_TEMPORAL, AlertLevel.CRITICAL, 25.0)])
    change = board.apply([upd(R, 2, AlertKind.LONG_DISTRACTION, AlertLevel.WARNING, 31.0)])
    assert not change.top_changed  # a warning does not displace a critical alert
    change = board.apply([upd(X, 2, AlertKind.LONG_DISTRACTION, AlertLevel.WARNING, 31.0, 31.5)])
    assert board.top.kind is AlertKind.DROWSY_TEMPORAL and board.top.level is AlertLevel.CRITICAL
    assert board.alarm_level is AlertLevel.CRITICAL
    assert [a.kind for a in change.ended] == [AlertKind.LONG_DISTRACTION]
    change = board.apply([upd(X, 1, AlertKind.DROWSY_TEMPORAL, AlertLevel.CRITICAL, 25.0, 34.9)])
    assert board.top is None and board.alarm_level is None and change.top_changed


def test_most_severe_then_newest_first_and_acknowledge_until_escalation():
    board = ActiveAlertBoard()
    board.apply(
        [
            upd(R, 1, AlertKind.DROWSY_YAWNS, AlertLevel.INFO, 1.0),
            upd(R, 2, AlertKind.MICROSLEEP, AlertLevel.WARNING, 2.0),
            upd(R, 3, AlertKind.LONG_DISTRACTION, AlertLevel.WARNING, 3.0),
        ]
    )
    assert [a.uid for a in board.active] == [3, 2, 1]
    board.acknowledge()
    assert board.alarm_level is None and board.top.uid == 3  # silenced, still shown
    board.apply([upd(E, 1, AlertKind.DROWSY_YAWNS, AlertLevel.WARNING, 1.0)])
    assert board.alarm_level is AlertLevel.WARNING  # the escalated one sounds again
    board.apply([upd(R, 4, AlertKind.SLEEP, AlertLevel.CRITICAL, 4.0)])
    assert board.top.uid == 4 and board.alarm_level is AlertLevel.CRITICAL


def test_board_keeps_snapshots_not_the_engines_objects():
    board = ActiveAlertBoard()
    alert = Alert(1, AlertKind.LONG_DISTRACTION, AlertLevel.WARNING, 1.0, 0)
    board.apply([AlertUpdate(R, alert)])
    with pytest.raises(FrozenInstanceError):  # nobody can change a snapshot under the board
        alert.level = AlertLevel.CRITICAL
    assert board.top.level is AlertLevel.WARNING
