"""The built-in sample video: what it scripts is what the pipeline reports."""

from __future__ import annotations

import json

import pytest

from drowsy.cli import main
from drowsy.sample import SAMPLE_SCRIPT, sample_video


def test_sample_video_raises_its_scripted_alerts(tmp_path):
    video = sample_video(tmp_path / "cache")
    assert sample_video(tmp_path / "cache") == video  # cached after the first render
    assert (
        main(["analyze", str(video), "--out", str(tmp_path), "--log", str(tmp_path / "l.db"), "-q"])
        == 0
    )
    events = json.loads((tmp_path / video.stem / "events.json").read_text())
    alerts = {a["kind"]: a for a in events["alerts"]}
    assert set(alerts) == {"microsleep", "monitoring_degraded"}
    closure = next(e for e in SAMPLE_SCRIPT if e.kind == "closure" and e.end_s - e.start_s > 1)
    assert alerts["microsleep"]["start_s"] == pytest.approx(closure.start_s + 1.0, abs=0.15)
    blinks = [e for e in events["episodes"] if e["kind"] == "blink"]
    scripted = [e for e in SAMPLE_SCRIPT if e.kind == "closure" and e.end_s - e.start_s < 0.5]
    assert len(blinks) == len(scripted)
