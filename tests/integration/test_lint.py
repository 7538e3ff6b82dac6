"""ruff and the package boundaries are part of the definition of done: CI fails on lint or a
broken import contract (pyproject.toml [tool.importlinter]) like on a failing test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

DEV_EXTRA = 'the dev extra installs it (pip install -e ".[dev]")'


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail(f"ruff not installed: {DEV_EXTRA}")
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_import_contracts_hold():
    """drowsy never imports torch/torchvision/training; only drowsy.gui imports Qt; the layers
    cli/apps -> analyze -> session -> sinks/report/sample -> pipeline/scenario -> stages ->
    I/O -> contracts/settings/errors; nothing imports the tests or the benchmark scripts."""
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(lint).exists():
        pytest.fail(f"import-linter not installed: {DEV_EXTRA}")
    result = subprocess.run([lint], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 broken" in result.stdout


def test_runtime_types_check():
    """mypy over drowsy/ and training/ (pyproject.toml [tool.mypy]: the pydantic plugin,
    OpenCV's stubs skipped) finds no error."""
    mypy = shutil.which("mypy") or str(Path(sys.executable).with_name("mypy"))
    if not Path(mypy).exists():
        pytest.fail(f"mypy not installed: {DEV_EXTRA}")
    result = subprocess.run([mypy], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:]


def test_no_file_cites_a_document_that_is_not_in_the_repo():
    """Before: code, tests and the README cited DESIGN.md, which is not part of the project."""
    import re

    from tests.helpers import ROOT

    have = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts}
    missing = []
    for folder in ("drowsy", "training", "tests", "benchmarks", "deploy", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".md", ".toml", ".j2", ".sh", ".yaml") or path == Path(
                __file__
            ):
                continue
            for name in re.findall(r"\b([A-Za-z0-9_-]+\.md)\b", path.read_text(errors="ignore")):
                if name not in have:
                    missing.append(f"{path.relative_to(ROOT)}: {name}")
    for name in re.findall(r"\b([A-Za-z0-9_-]+\.md)\b", (ROOT / "README.md").read_text()):
        if name not in have:
            missing.append(f"README.md: {name}")
    assert not missing, missing
