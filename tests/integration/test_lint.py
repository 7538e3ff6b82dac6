"""ruff and the package boundaries are part of the definition of done: CI fails on lint or a
broken import contract (pyproject.toml [tool.importlinter]) like on a failing test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff not installed (install the dev extra)")
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_import_contracts_hold():
    """drowsy never imports torch/torchvision/training; only drowsy.gui imports Qt; the layers
    cli/apps -> analyze -> session -> sinks/report/sample -> pipeline/scenario -> stages ->
    I/O -> contracts/settings/errors; nothing imports the tests or the benchmark scripts."""
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(lint).exists():
        pytest.skip("import-linter not installed (install the dev extra)")
    result = subprocess.run([lint], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 broken" in result.stdout


def test_runtime_types_check():
    """mypy over drowsy/ (pyproject.toml [tool.mypy]: the pydantic plugin, OpenCV's stubs
    skipped) finds no error."""
    mypy = shutil.which("mypy") or str(Path(sys.executable).with_name("mypy"))
    if not Path(mypy).exists():
        pytest.skip("mypy not installed (install the dev extra)")
    result = subprocess.run([mypy], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:]
