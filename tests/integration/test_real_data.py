"""End-to-end on the real recordings in ../shared/data (skipped when absent)."""

from __future__ import annotations

import json

import pytest

from drowsy.cli import main
from tests.conftest import need_shared_data

ALERT_PEOPLE = [
    "webcam_glasses_3.avi",
    "webcam_glasses_5_low_fps.avi",
    "webcam_glasses_6_low_fps.avi",
]
DROWSY_KINDS = {
    "microsleep",
    "sleep",
    "unresponsive",
    "drowsy_perclos",
    "drowsy_yawns",
    "drowsy_temporal",
}


@pytest.mark.slow
def test_alert_people_raise_no_drowsiness_alerts(tmp_path):
    """The webcam videos show awake people blinking: any drowsiness alert is a false alarm."""
    videos = need_shared_data() / "videos"
    args = [str(videos / v) for v in ALERT_PEOPLE]
    opts = ["--out", str(tmp_path), "--log", str(tmp_path / "l.db"), "--jobs", "2", "-q"]
    # the shipped models when present (else the geometric estimate): what users run
    assert main(["analyze", *args, *opts, "--set", "runtime.estimator=auto"]) == 0
    for name in ALERT_PEOPLE:
        stem = name.rsplit(".", 1)[0]
        summary = json.loads((tmp_path / stem / "summary.json").read_text())
        assert summary["face_found_rate"] == 1.0
        assert summary["calibration"]["done"]
        assert not DROWSY_KINDS & set(summary["alerts_by_kind"]), (name, summary["alerts_by_kind"])
        assert 1 <= summary["blinks"] <= 30  # people blink a few to 20 times a minute
        rows = (tmp_path / stem / "frames.csv").read_text().strip().splitlines()
        assert len(rows) - 1 == summary["frames"]


def test_stage_clip_with_profile_views(tmp_path):
    """A person on stage, often in profile: the face is lost often, the run still completes."""
    video = need_shared_data() / "videos" / "stage_clip.mp4"
    assert (
        main(["analyze", str(video), "--out", str(tmp_path), "--log", str(tmp_path / "l.db"), "-q"])
        == 0
    )
    summary = json.loads((tmp_path / "stage_clip" / "summary.json").read_text())
    assert summary["frames"] == 275
    assert 0.3 < summary["face_found_rate"] < 0.95


@pytest.mark.slow
def test_an_awake_driver_filmed_sideways_raises_no_drowsiness_or_distraction(tmp_path):
    """Before: webcam_glasses_6 turned 90 degrees raised a microsleep, drowsy_yawns,
    unresponsive, a long distraction and visual time sharing (the pose, gaze and mouth ratio
    of a sideways face are nonsense). Now such frames measure nothing: the camera is called
    rotated and, after 10 s, monitoring degraded."""
    import cv2

    from tests.helpers import video_frames, write_video

    source = need_shared_data() / "videos" / "webcam_glasses_6_low_fps.avi"
    fps = cv2.VideoCapture(str(source)).get(cv2.CAP_PROP_FPS)
    frames = [cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE) for f in video_frames(source)]
    video = write_video(tmp_path / "sideways.avi", frames, fps)
    opts = ["--out", str(tmp_path / "out"), "--log", str(tmp_path / "l.db"), "-q"]
    assert main(["analyze", str(video), *opts]) == 0
    summary = json.loads((tmp_path / "out" / "sideways" / "summary.json").read_text())
    assert summary["alerts_by_kind"] == {"monitoring_degraded": 1}
    assert any("camera rotated?" in w for w in summary["warnings"])
