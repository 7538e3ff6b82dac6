"""deploy/analyze_folder.sh: analyses every video below a folder once, named by its path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

SCRIPT = ROOT / "deploy" / "analyze_folder.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_batch_script_names_by_relative_path_and_analyses_once(tmp_path, no_face_video):
    """Two trucks' cab.avi are two videos (the old script kept one by its stem and skipped
    the other forever); a re-run skips both; a changed file is analysed again."""
    for truck in ("truck7", "truck9"):
        (tmp_path / "in" / truck).mkdir(parents=True)
        shutil.copy(no_face_video, tmp_path / "in" / truck / "cab.avi")
    env = {**os.environ, "DROWSY": str(Path(sys.executable).with_name("drowsy"))}
    run = ["bash", str(SCRIPT), str(tmp_path / "in"), str(tmp_path / "out"), "1"]
    first = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    for truck in ("truck7", "truck9"):
        summary = json.loads((tmp_path / "out" / truck / "cab.avi" / "summary.json").read_text())
        assert summary["interrupted"] is False and len(summary["source_sha256"]) == 64
    assert (tmp_path / "out" / "alerts.sqlite").exists()
    again = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and "0 analysed, 2 skipped" in again.stdout
    with (tmp_path / "in" / "truck9" / "cab.avi").open("ab") as fh:
        fh.write(b"\0")  # new content under the same name
    third = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert third.returncode == 0 and "1 analysed, 1 skipped" in third.stdout
