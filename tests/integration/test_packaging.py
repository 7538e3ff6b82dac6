"""The distribution carries the shipped models: a wheel built from the repository, installed
on its own, analyses with the CNN ensembles (before: it fell back to geometry silently)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest
from setuptools import find_packages

from tests.helpers import ROOT


def test_package_list_covers_every_source_package():
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = find_packages(str(ROOT), include=["drowsy*", "training*"])
    assert sorted(listed) == sorted([*found, "drowsy.models"])


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "models" / "eyes" / "ensemble.json").exists(), reason="no models")
def test_a_built_wheel_analyses_with_the_shipped_ensembles(tmp_path, face_video):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "-q"]
    build = subprocess.run(
        [*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("drowsy-*.whl")
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    assert (target / "drowsy" / "models" / "eyes" / "ensemble.json").is_file()
    # run from elsewhere with only the installed copy of drowsy first on the path
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import sys, drowsy; from drowsy.cli import main;"
        f" assert drowsy.__file__.startswith({str(target)!r}), drowsy.__file__;"
        f" sys.exit(main(['analyze', {str(face_video)!r}, '--out', {str(tmp_path / 'out')!r},"
        f" '--log', {str(tmp_path / 'log.sqlite')!r}, '-q', '--set', 'runtime.estimator=auto']))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / face_video.stem / "summary.json").read_text())
    assert summary["probability_source"].startswith("fused(cnn(eyes v")
