"""The monitor's model without Qt: banner, alarm level, indicators and texts."""

from __future__ import annotations

from dataclasses import replace

from drowsy.alerts.board import ActiveAlertBoard
from drowsy.contracts import Alert, AlertAction, AlertKind, AlertLevel, AlertUpdate
from drowsy.monitor import LEVEL_COLOURS, MonitorModel, describe_models, indicators
from drowsy.settings import Settings
from drowsy.summary import SessionSummary
from tests.helpers import signals_at


def send(model: MonitorModel, board: ActiveAlertBoard, *updates: AlertUpdate) -> None:
    """What the session does: apply the batch to its board and hand both over."""
    model.alerts(board.apply(list(updates)), board)


def test_the_banner_and_alarm_follow_the_most_severe_alert_in_force():
    model, board = MonitorModel(Settings()), ActiveAlertBoard()
    temporal = Alert(1, AlertKind.DROWSY_TEMPORAL, AlertLevel.CRITICAL, 25.0, 0)
    distraction = Alert(2, AlertKind.LONG_DISTRACTION, AlertLevel.WARNING, 31.0, 0)
    send(model, board, AlertUpdate(AlertAction.RAISED, temporal))
    send(model, board, AlertUpdate(AlertAction.RAISED, distraction))
    b = model.banner()
    assert b.level is AlertLevel.CRITICAL and b.text.startswith("drowsy temporal")
    assert "(+1 more active)" in b.text and b.colour == LEVEL_COLOURS[AlertLevel.CRITICAL]
    assert b.flash and model.alarm_level is AlertLevel.CRITICAL
    send(model, board, AlertUpdate(AlertAction.ENDED, replace(distraction, end_s=31.5)))
    assert model.banner().level is AlertLevel.CRITICAL  # the newest update is not the banner
    model.acknowledge()
    assert model.alarm_level is None and not model.banner().flash  # silenced, still shown
    assert model.banner().level is AlertLevel.CRITICAL
    send(model, board, AlertUpdate(AlertAction.ENDED, replace(temporal, end_s=40.0)))
    assert model.banner().text == "no alert active - last: drowsy temporal ended (15.0 s)"


def test_messages_never_hide_an_alert_and_the_board_replaces_them():
    model, board = MonitorModel(Settings()), ActiveAlertBoard()
    model.status("seeked to 10.0 s")
    assert model.banner().text == "seeked to 10.0 s"
    closure = Alert(1, AlertKind.MICROSLEEP, AlertLevel.WARNING, 3.0, 0)
    send(model, board, AlertUpdate(AlertAction.RAISED, closure))
    assert model.banner().level is AlertLevel.WARNING
    ended = replace(closure, end_s=4.2, evidence={"closure_s": 1.2})
    send(model, board, AlertUpdate(AlertAction.ENDED, ended))
    assert model.banner().text == "no alert active - last: microsleep ended (eyes closed 1.20 s)"
    model.finished(SessionSummary(source="v.avi", frames=3, session_id=None))
    assert model.banner().text == "session (not logged) ended: 3 frames, 0 alerts"
    model.open_failed("camera 0 could not be opened")
    assert model.banner().text.startswith("NOT MONITORING: camera 0")
    model.started()
    assert model.banner().text == "no alert active - last: microsleep ended (eyes closed 1.20 s)"


def test_indicators_say_the_state_in_words():
    s = Settings()
    got = indicators(signals_at(1.0, 10, closed=0.9, yawn=0.8, on_road=False), s)
    assert (got["eyes"].text, got["eyes"].state) == ("CLOSED", "alarm")
    assert (got["mouth"].text, got["attention"].text) == ("YAWN", "OFF ROAD")
    assert got["tracking"].text == "good (IOD 60px)"
    lost = indicators(signals_at(1.0, 10, usable=False), s)
    assert lost["eyes"].text == "no face" and lost["tracking"].text == "LOST"
    rolled = indicators(replace(signals_at(1.0, 10), roll=92.0), s)
    assert (rolled["head"].text, rolled["head"].state) == ("roll +92: camera rotated?", "warn")
    assert rolled["tracking"].text == "not measured: camera rotated"


def test_model_versions_and_the_status_line():
    models = {"eyes": "4", "yawn": "4", "temporal": "1", "voting": "soft"}
    assert describe_models(models, "CPUExecutionProvider") == (
        "models: eyes v4, yawn v4 (voting: soft), temporal v1 on CPU"
    )
    model = MonitorModel(Settings())
    model.info = {"models": models, "provider": "CPUExecutionProvider"}
    assert model.status_line().endswith("temporal v1 on CPU")
