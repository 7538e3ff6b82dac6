"""Which source a command-line spec names, and how to (re)open it.

One parser for every front end (``run``, ``monitor``, ``analyze``, ``evaluate``): a camera index,
an image folder, a video file, ``demo``; with no spec camera 0, or the built-in sample when no
camera is there. The session runner reopens a :class:`SourceChoice` after a seek or a lost
camera, so reopening always opens the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from drowsy.errors import SourceError
from drowsy.sources.base import FrameSource, SourceOptions
from drowsy.sources.camera import CameraSource, LatestFrameSource
from drowsy.sources.folder import ImageFolderSource
from drowsy.sources.video import VideoFileSource

DEMO = "demo"


@dataclass(frozen=True, slots=True)
class SourceChoice:
    """What to read and how to (re)open it: ``open(start_s)`` returns a fresh source; a camera
    ignores ``start_s``. Reopening always reopens the same thing."""

    label: str
    live: bool
    open: Callable[[float], FrameSource]
    note: str = ""  # said once to the user, e.g. why the sample plays instead of a camera


def camera_index(spec: str) -> int | None:
    """The camera a spec names (``"0"``, ``"2"``), or None when it names a file or folder."""
    return int(spec) if spec.isdigit() else None


def open_source(spec: str, options: SourceOptions | None = None) -> FrameSource:
    """Open a source from a command-line string: a camera index, a folder, or a video file."""
    index = camera_index(spec)
    if index is not None:
        return CameraSource(index, options)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path, options)
    return VideoFileSource(path, options)


def _camera(index: int, options: SourceOptions) -> Callable[[float], FrameSource]:
    return lambda _start: LatestFrameSource(CameraSource(index, options))


def _file(
    spec: str, options: SourceOptions, make: Callable[..., FrameSource] = open_source
) -> Callable[[float], FrameSource]:
    return lambda start: make(spec, replace(options, start_s=start or options.start_s))


def choose_source(
    spec: str | None, options: SourceOptions | None, demo_video: Callable[[], Path]
) -> tuple[SourceChoice, FrameSource]:
    """The requested source, opened: a camera index, a video file, an image folder, ``demo``;
    with no spec camera 0, or (none there) the built-in sample (``demo_video()``: rendered on
    first use by the layer above, so sources stay free of the scenario renderer). Raises
    SourceError when it cannot be opened."""
    options = options or SourceOptions()
    camera_error = ""
    if spec is None:
        try:
            opener = _camera(0, options)
            return SourceChoice("camera 0", True, opener), opener(0.0)
        except SourceError as exc:
            camera_error = str(exc)
        spec = DEMO
    if spec == DEMO:
        opener = _file(str(demo_video()), options)
        note = (
            f"no camera found ({camera_error}): playing the built-in sample" if camera_error else ""
        )
        return SourceChoice("built-in sample", False, opener, note), opener(options.start_s)
    index = camera_index(spec)
    if index is not None:
        opener = _camera(index, options)
        return SourceChoice(f"camera {index}", True, opener), opener(0.0)
    opener = _file(spec, options)
    return SourceChoice(spec, False, opener), opener(options.start_s)


def file_choice(
    path: Path, options: SourceOptions | None = None
) -> tuple[SourceChoice, FrameSource]:
    """A video file (a folder is refused, not read as images): what ``analyze`` takes."""
    options = options or SourceOptions()
    opener = _file(str(path), options, VideoFileSource)
    return SourceChoice(str(path), False, opener), opener(options.start_s)
