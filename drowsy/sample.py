"""The built-in sample: the default scenario (:data:`drowsy.scenario.script.DEFAULT`),
rendered once into the user's cache dir. It is the input of the main command on a machine
without a camera."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs

from drowsy import sources
from drowsy.scenario.render import RENDER_VERSION, render
from drowsy.scenario.script import DEFAULT
from drowsy.sources import FrameSource, SourceChoice, SourceOptions


def sample_video(cache_dir: Path | None = None) -> Path:
    """The cached default-scenario video, rendered on first use (with its .truth.json)."""
    folder = cache_dir or Path(platformdirs.user_cache_dir("drowsy"))
    path = folder / f"demo-v{RENDER_VERSION}.avi"
    if not path.exists():
        # said before the ~20 s it takes, so a first run is never silent
        print(
            f"drowsy: rendering the built-in demo video once ({DEFAULT.duration_s:.0f} s of"
            f" video, about 20 s) into {folder}",
            file=sys.stderr,
            flush=True,
        )
        render(DEFAULT, path, progress=sys.stderr.isatty())
    return path


def choose_source(
    spec: str | None, options: SourceOptions | None = None
) -> tuple[SourceChoice, FrameSource]:
    """:func:`drowsy.sources.choose_source` with this sample as ``demo`` and as the fallback
    when no camera is there."""
    return sources.choose_source(spec, options, sample_video)
