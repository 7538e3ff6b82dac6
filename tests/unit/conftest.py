"""The unit tier: no MediaPipe, no child process (``pytest tests/unit`` runs in seconds). Both
rules are enforced here: a unit test that starts a process fails, and the tier fails when any
of its tests loaded MediaPipe. Speed is the aim, not checked (shared, noisy machines)."""

from __future__ import annotations

import subprocess
import sys

import numpy.testing  # noqa: F401  imported here: its first import runs lscpu
import pytest


@pytest.fixture(autouse=True)
def no_child_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("unit tests start no processes: move this test to tests/integration")

    monkeypatch.setattr(subprocess, "Popen", refuse)


@pytest.fixture(autouse=True)
def no_mediapipe() -> None:
    loaded_before = "mediapipe" in sys.modules
    yield
    if not loaded_before:
        assert "mediapipe" not in sys.modules, (
            "this test loaded MediaPipe: it belongs in tests/integration"
        )
