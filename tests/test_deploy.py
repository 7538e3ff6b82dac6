"""deploy/analyze_folder.sh: analyses every video below a folder once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "analyze_folder.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_batch_script_analyses_once(tmp_path, no_face_video):
    videos = tmp_path / "in" / "truck7"
    videos.mkdir(parents=True)
    shutil.copy(no_face_video, videos / "cab.avi")
    env = {**os.environ, "DROWSY": str(Path(sys.executable).with_name("drowsy"))}
    run = ["bash", str(SCRIPT), str(tmp_path / "in"), str(tmp_path / "out"), "1"]
    first = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "out" / "cab" / "summary.json").exists()
    assert (tmp_path / "out" / "alerts.sqlite").exists()
    again = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and "nothing to do" in again.stdout
