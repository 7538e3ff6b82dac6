"""Scenario scripts, the renderer's realism, and end-to-end alert checks against the script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drowsy.cli import main
from drowsy.contracts import Frame
from drowsy.errors import UserError
from drowsy.scenario.check import check
from drowsy.scenario.render import actor, pose_at
from drowsy.scenario.script import DEFAULT, Event, Expected, Script, expected_alerts
from drowsy.scenario.warp import render_face
from drowsy.settings import AlertSettings, Settings
from drowsy.vision.tracker import FaceTracker, TrackerOptions

SHORT = Script(
    duration_s=34.0,
    fps=10.0,
    size=(480, 360),
    events=(
        Event("blink", 2.0, 2.2),
        Event("blink", 5.5, 5.7),
        Event("blink", 9.0, 9.2),
        Event("closure", 12.0, 13.5),  # microsleep
        Event("blink", 15.5, 15.7),
        Event("glance", 17.0, 21.0, yaw_deg=40.0),  # long distraction
        Event("away", 22.0, 33.5),  # monitoring degraded
    ),
)


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


def test_rendered_faces_stay_tracked_and_read_right():
    """Realism: MediaPipe finds every rendered face, turned heads read as turned, open jaws
    as open mouths, painted lids as closed eyes."""
    cast = actor(None)
    s = Settings()
    with FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze, static_images=True)) as tr:

        def obs(mesh, **kw):
            o = tr.process(Frame(render_face(mesh, **kw), 0.0, 0))
            assert o.present, kw
            return o

        neutral = obs(cast.open_eyes)
        assert obs(cast.open_eyes, yaw=40.0).gaze.yaw > neutral.gaze.yaw + 25
        assert obs(cast.open_eyes, yaw=-40.0).gaze.yaw < neutral.gaze.yaw - 20
        assert obs(cast.open_eyes, pitch=-12.0).pose.pitch < neutral.pose.pitch - 5
        assert obs(cast.open_eyes, mouth=0.5).mar > neutral.mar + 0.2
        closed = obs(cast.closed_eyes)
        assert closed.ear_left < 0.5 * neutral.ear_left


@pytest.mark.parametrize("estimator", ["geometric", "auto"])
def test_short_scenario_raises_exactly_the_scripted_alerts(tmp_path, estimator):
    """A 34 s scenario: each scripted event raises its alert within the rule's tolerance, and
    blinking raises nothing. With the shipped models (auto) and with the geometric estimate."""
    script = tmp_path / "short.json"
    script.write_text(SHORT.to_json())
    code = main(
        [
            "demo",
            "--check",
            "--script",
            str(script),
            "--out",
            str(tmp_path / "out"),
            "--set",
            f"runtime.estimator={estimator}",
            "--log",
            str(tmp_path / "l.db"),
        ]
    )
    report = json.loads((tmp_path / "out" / "check.json").read_text())
    assert report["missed"] == [] and report["false_alarms"] == [], report
    assert code == 0
    assert report["realism"]["face_found_in_view"] >= 0.95
    assert report["realism"]["closed_agreement"] >= 0.9
    assert report["realism"]["open_agreement"] >= 0.97


def test_a_rendered_video_comes_with_its_truth(tmp_path):
    from drowsy.scenario.render import render, truth_path

    tiny = Script(duration_s=1.0, fps=5.0, size=(160, 120), events=(Event("blink", 0.2, 0.4),))
    video = render(tiny, tmp_path / "tiny.avi")
    truth = json.loads(truth_path(video).read_text())
    assert truth["events"][0]["kind"] == "blink" and truth["expected_alerts"] == []
    import cv2

    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 5  # 1 s at 5 fps


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


def test_demo_output_goes_to_the_cache_dir_not_the_working_dir(tmp_path, monkeypatch):
    """`drowsy demo` used to write demo-out/ into whatever folder it was run from (a checkout
    ended up committing it)."""
    import platformdirs

    monkeypatch.chdir(tmp_path)
    script = tmp_path / "short.json"
    script.write_text(SHORT.to_json())
    args = ["demo", "--check", "--script", str(script), "--log", str(tmp_path / "l.db")]
    main([*args, "--set", "runtime.estimator=geometric"])
    assert not (tmp_path / "demo-out").exists()
    assert (Path(platformdirs.user_cache_dir("drowsy")) / "demo-out" / "check.json").is_file()
