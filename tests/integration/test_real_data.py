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
