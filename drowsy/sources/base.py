"""What every frame source shares: options, stats, the strictly increasing clock and the base
class.

Why the timestamp care: every alert rule is defined in seconds of video time, and the videos we
meet (variable frame rate webcams, 6 fps recordings) make frame counting wrong.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from drowsy.contracts import Frame
from drowsy.errors import SourceError

log = logging.getLogger(__name__)

# FFmpeg inside OpenCV prints demuxer complaints ("moov atom not found") straight to stderr;
# we turn every such failure into our own one-line error instead. Read when the backend starts.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

# A container whose frame rate is outside this range, or whose timestamps jump further than
# MAX_CONTAINER_GAP_S between two frames, is not trusted: frames are timed at the nominal rate.
PLAUSIBLE_FPS = (0.5, 1000.0)
MAX_CONTAINER_GAP_S = 30.0
FALLBACK_FPS = 30.0

CAMERA_SIDE_PX = (64, 8192)
CAMERA_FPS = (1.0, 240.0)
MIN_USEFUL_SIDE_PX = 64  # below this no face the mesh can measure fits in a frame
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """What part of a source to read: start, end, frame limit."""

    start_s: float = 0.0
    end_s: float | None = None
    max_frames: int | None = None
    folder_fps: float = 30.0  # image folders have no clock: frames are this far apart
    camera_size: tuple[int, int] | None = None  # ask a camera for this width x height
    camera_fps: float | None = None  # ask a camera for this frame rate

    def __post_init__(self) -> None:
        if self.camera_size is not None and not all(
            CAMERA_SIDE_PX[0] <= v <= CAMERA_SIDE_PX[1] for v in self.camera_size
        ):
            raise SourceError(
                f"camera size {self.camera_size[0]}x{self.camera_size[1]}: each side must be"
                f" {CAMERA_SIDE_PX[0]}-{CAMERA_SIDE_PX[1]} pixels"
            )
        if self.camera_fps is not None and not (CAMERA_FPS[0] <= self.camera_fps <= CAMERA_FPS[1]):
            raise SourceError(f"camera fps must be {CAMERA_FPS[0]:g}-{CAMERA_FPS[1]:g}")
        if self.start_s < 0:
            raise SourceError("start time must be >= 0")
        if self.end_s is not None and self.end_s <= self.start_s:
            raise SourceError("end time must be after the start time")
        if self.max_frames is not None and self.max_frames < 1:
            raise SourceError("max frames must be >= 1")
        if self.folder_fps <= 0:
            raise SourceError("folder fps must be > 0")


@dataclass(slots=True)
class SourceStats:
    """What happened while reading: frames yielded, images skipped, timestamps repaired."""

    frames: int = 0
    skipped: int = 0
    repaired_timestamps: int = 0
    expected_frames: int | None = None
    truncated: bool = False
    rotation_deg: int = 0  # the container's display rotation, applied to every frame
    warnings: list[str] = field(default_factory=list)  # e.g. container timing not trusted


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV prints backend warnings for absent cameras and odd files; we report our own."""
    previous = cv2.getLogLevel()
    cv2.setLogLevel(0)  # 0 = silent
    try:
        yield
    finally:
        cv2.setLogLevel(previous)


class _MonotonicClock:
    """Forces timestamps to increase strictly, filling bad ones from the nominal frame period."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.last: float | None = None
        self.repaired = 0

    def next(self, proposed: float | None) -> float:
        if self.last is None:
            value = proposed if proposed is not None and proposed >= 0 else 0.0
        elif proposed is None or not np.isfinite(proposed) or proposed <= self.last:
            value = self.last + self.period_s
            self.repaired += 1
        else:
            value = proposed
        self.last = value
        return value


def _check_readable_file(path: Path) -> None:
    """The reasons OpenCV would hide behind "cannot decode": missing, a folder, empty, or
    not ours to read (a mode-000 file or folder says "permission denied")."""
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise SourceError(f"{path}: is a folder, not a video")
        with path.open("rb") as fh:
            fh.read(1)
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such file") from exc
    except PermissionError as exc:
        raise SourceError(f"{path}: permission denied") from exc
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if st.st_size == 0:
        raise SourceError(f"{path}: file is empty")


class FrameSource:
    """Base: iterate to get frames; use as a context manager so the device is released."""

    name: str = "source"
    live: bool = False

    def __init__(self, options: SourceOptions | None = None) -> None:
        self.options = options or SourceOptions()
        self.stats = SourceStats()

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    @property
    def nominal_fps(self) -> float | None:
        return None

    def describe(self) -> str:
        """What the device delivers ("1280x720 at 30 fps"), "" where that says nothing."""
        return ""

    def _warn(self, message: str) -> None:
        """Said once: kept for the summary (``stats.warnings``) and logged."""
        self.stats.warnings.append(message)
        log.warning("%s: %s", self.name, message)

    def close(self) -> None:
        pass

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _limits_reached(self, t: float) -> bool:
        o = self.options
        return (o.end_s is not None and t >= o.end_s) or (
            o.max_frames is not None and self.stats.frames >= o.max_frames
        )
