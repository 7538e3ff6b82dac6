"""Shared fixtures. Every test runs with its own config, data and cache dirs so nothing touches
the user's real settings or alert log."""

from __future__ import annotations

from pathlib import Path

import pytest

from drowsy.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Own config/data/cache dirs per test. The settings file there pins the geometric
    estimator, so tests of the plumbing (alerts, log, CLI) do not change when the shipped
    models are retrained; tests of the models ask for them with runtime.estimator=auto."""
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("DROWSY_CONFIG", raising=False)
    config = home / "xdg_config_home" / "drowsy"
    config.mkdir(parents=True)
    (config / "settings.toml").write_text('[runtime]\nestimator = "geometric"\n')
    return home


@pytest.fixture(scope="session")
def sample_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered test videos are shared across tests (rendering costs seconds)."""
    return tmp_path_factory.mktemp("videos")


@pytest.fixture
def settings() -> Settings:
    """Defaults, with the geometric estimator (see isolated_user_dirs)."""
    return Settings(runtime={"estimator": "geometric"})


def need_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def face_video(sample_cache: Path) -> Path:
    """14 s, 320x240 at 10 fps: blinks, a 1.6 s closure at 11 s (a microsleep)."""
    from drowsy.scenario.render import render
    from drowsy.scenario.script import Event, Script

    events = (Event("blink", 3.0, 3.2), Event("blink", 6.0, 6.2), Event("closure", 11.0, 12.6))
    script = Script(events=events, duration_s=14, fps=10, size=(320, 240))
    return render(script, sample_cache / "face.avi")


@pytest.fixture(scope="session")
def no_face_video(sample_cache: Path) -> Path:
    """12 s of an empty cabin at 10 fps: nothing to track."""
    from tests.helpers import blank_frames, write_video

    return write_video(sample_cache / "empty_cabin.avi", blank_frames(120), fps=10)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``gpu`` tests run only where ONNX Runtime can use a CUDA GPU; elsewhere they skip
    with the reason (a CPU-only machine is the normal case here)."""
    gpu_items = [i for i in items if i.get_closest_marker("gpu")]
    if not gpu_items:
        return
    from drowsy.inference.onnx_model import choose_providers

    if "CUDAExecutionProvider" in choose_providers("auto"):
        return
    skip = pytest.mark.skip(reason="no CUDA GPU usable by onnxruntime on this machine")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture
def full_disk(tmp_path):
    """A 256 kB tmpfs when root can mount one (the real ENOSPC, libpng and SQLite included);
    skipped otherwise (tests/integration/test_session.py injects the error instead)."""
    import os
    import shutil
    import subprocess

    mount = tmp_path / "full"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)
