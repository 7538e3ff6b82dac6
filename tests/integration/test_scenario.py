"""Scenario scripts, the renderer's realism, and end-to-end alert checks against the script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drowsy.cli import main
from drowsy.contracts import Frame
from drowsy.scenario.render import actor
from drowsy.scenario.script import Event, Script
from drowsy.scenario.warp import render_face
from drowsy.settings import Settings
from drowsy.vision.tracker import FaceTracker, TrackerOptions
from tests.helpers import SHORT_SCRIPT as SHORT
from tests.helpers import assert_clip_covers


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


@pytest.mark.slow
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
    folder = tmp_path / "out" / "scenario"
    events = json.loads((folder / "events.json").read_text())
    assert len(list((folder / "clips").iterdir())) == len(events["alerts"]) >= 3
    for alert in events["alerts"]:  # one clip per alert, each covering its alert
        assert_clip_covers(folder, alert, 5.0, 3.0, end=SHORT.duration_s - 1 / SHORT.fps)


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


@pytest.mark.slow
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


def test_a_first_run_says_it_is_rendering_the_demo(tmp_path, capsys):
    """Before: the first `drowsy monitor` / `run` without a camera was silent for ~21 s."""
    from drowsy.sample import sample_video

    video = sample_video(tmp_path)
    assert video.is_file()
    assert "rendering the built-in demo video once" in capsys.readouterr().err
    sample_video(tmp_path)  # cached: nothing said
    assert capsys.readouterr().err == ""
