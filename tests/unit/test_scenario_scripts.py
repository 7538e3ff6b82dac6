"""Scenario scripts, the renderer's realism, and end-to-end alert checks against the script."""

from __future__ import annotations

import json

import pytest

from drowsy.errors import UserError
from drowsy.scenario.check import check
from drowsy.scenario.render import pose_at
from drowsy.scenario.script import DEFAULT, Event, Expected, Script, expected_alerts
from drowsy.settings import AlertSettings
from tests.helpers import SHORT_SCRIPT as SHORT


def test_script_round_trip_and_bad_scripts(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(SHORT.to_json())
    assert Script.load(path) == SHORT
    bad = json.loads(SHORT.to_json())
    bad["events"].append({"kind": "dance", "start_s": 1, "end_s": 2})
    path.write_text(json.dumps(bad))
    with pytest.raises(UserError, match="unknown event kind 'dance'"):
        Script.load(path)
    bad["events"][-1] = {"kind": "blink", "start_s": 40, "end_s": 41}
    path.write_text(json.dumps(bad))
    with pytest.raises(UserError, match="outside"):
        Script.load(path)
    path.write_text("{not json")
    with pytest.raises(UserError, match="not a valid script"):
        Script.load(path)


def test_expected_alerts_follow_the_rules():
    truth = expected_alerts(DEFAULT, AlertSettings())
    kinds = [e.kind for e in truth.expected_alerts if e.required]
    optional = [e for e in truth.expected_alerts if not e.required]
    assert {e.kind for e in optional} == {"drowsy_temporal"} and len(optional) == 2
    assert kinds == [
        "microsleep",
        "long_distraction",
        "drowsy_yawns",
        "microsleep",
        "sleep",
        "monitoring_degraded",
    ]
    micro = truth.expected_alerts[0]
    assert (micro.earliest_s, micro.latest_s) == pytest.approx((16.0, 16.35))
    slower = expected_alerts(DEFAULT, AlertSettings(microsleep_s=2.0))
    assert [e.kind for e in slower.expected_alerts].count("microsleep") == 1  # 1.5 s is short now


def test_check_scores_precision_and_recall():
    expected = [Expected("microsleep", 1.0, 1.3), Expected("sleep", 3.0, 3.3)]
    alerts = [{"kind": "microsleep", "start_s": 1.1}, {"kind": "long_distraction", "start_s": 5}]
    report = check(alerts, expected)
    assert (report.precision, report.recall) == (0.5, 0.5)
    assert (
        report.missed[0]["kind"] == "sleep" and report.false_alarms[0]["kind"] == "long_distraction"
    )
    assert check(
        [{"kind": "sleep", "start_s": 3.1}, {"kind": "microsleep", "start_s": 1.0}], expected
    ).perfect


def test_pose_at_ramps_and_combines():
    script = Script(events=(Event("glance", 1.0, 3.0, yaw_deg=40.0), Event("blink", 2.0, 2.2)))
    assert pose_at(script, 0.5).yaw == 0.0
    assert pose_at(script, 2.1).yaw == 40.0 and pose_at(script, 2.1).closed
    assert 0 < pose_at(script, 1.1).yaw < 40.0


def test_the_default_scenario_scripts_every_kind_of_alert():
    """The built-in sample (the main command's input without a camera) must show each rule:
    its script expects a microsleep, a sleep, a yawning spell, a long distraction and lost
    monitoring, each as a required alert."""
    from drowsy.scenario.script import DEFAULT, expected_alerts
    from drowsy.settings import AlertSettings

    truth = expected_alerts(DEFAULT, AlertSettings())
    required = {e.kind for e in truth.expected_alerts if e.required}
    assert {
        "microsleep",
        "sleep",
        "drowsy_yawns",
        "long_distraction",
        "monitoring_degraded",
    } <= required
    assert DEFAULT.duration_s >= 60


def test_allowed_alerts_are_neither_false_alarms_nor_misses():
    expected = [
        Expected("microsleep", 1.0, 1.3),
        Expected("drowsy_temporal", 1.0, 30.0, required=False),
    ]
    with_temporal = [
        {"kind": "microsleep", "start_s": 1.1},
        {"kind": "drowsy_temporal", "start_s": 9},
    ]
    assert check(with_temporal, expected).perfect
    assert check(with_temporal[:1], expected).perfect
    late = [{"kind": "microsleep", "start_s": 1.1}, {"kind": "drowsy_temporal", "start_s": 40}]
    assert check(late, expected).precision == 0.5
