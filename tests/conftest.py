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
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.delenv("DROWSY_CONFIG", raising=False)
    return home


@pytest.fixture(scope="session")
def sample_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered test videos are shared across tests (rendering costs seconds)."""
    return tmp_path_factory.mktemp("videos")


@pytest.fixture
def settings() -> Settings:
    return Settings()


def need_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA
