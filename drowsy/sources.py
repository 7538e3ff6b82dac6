"""Frame sources: video files, webcams and image folders, all yielding :class:`Frame` with
strictly increasing timestamps in seconds.

Why the timestamp care: every alert rule is defined in seconds of video time, and the videos we
meet (variable frame rate webcams, 6 fps recordings) make frame counting wrong.
"""

from __future__ import annotations

import logging
import os
import stat
import time
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


class VideoFileSource(FrameSource):
    """Anything OpenCV decodes. Timestamps come from the container (CAP_PROP_POS_MSEC) and fall
    back to index / fps where the container gives none or they go backwards."""

    def __init__(self, path: str | Path, options: SourceOptions | None = None) -> None:
        super().__init__(options)
        self.path = Path(path)
        self.name = str(self.path)
        _check_readable_file(self.path)
        with _quiet_opencv():
            self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{self.path}: not a video OpenCV can decode")
        # a phone video stores its frames sideways with a display rotation; players honour it
        # and so must we, or an upright driver is analysed with the head rolled 90 degrees
        self._cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        rotation = self._cap.get(cv2.CAP_PROP_ORIENTATION_META)
        self.stats.rotation_deg = int(rotation) % 360 if np.isfinite(rotation) else 0
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self._container_timing = bool(
            np.isfinite(fps) and PLAUSIBLE_FPS[0] < fps < PLAUSIBLE_FPS[1]
        )
        self._fps = fps if self._container_timing else FALLBACK_FPS
        if not self._container_timing:
            self._distrust(f"container frame rate {fps:g} fps is implausible")
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.stats.expected_frames = count if count > 0 else None
        if count > 0 and self._container_timing and self.options.start_s >= count / self._fps:
            self._cap.release()
            raise SourceError(
                f"{self.path}: --start {self.options.start_s:g} s is past the end of the video"
                f" ({count / self._fps:.1f} s)"
            )
        self._first: np.ndarray | None = None
        with _quiet_opencv():
            ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"{self.path}: contains no decodable frames")
        self._first = first
        self._first_pos_ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        h, w = first.shape[:2]
        if min(h, w) < MIN_USEFUL_SIDE_PX:
            message = (
                f"frames are {w}x{h} pixels: too small to find a face (at least"
                f" {MIN_USEFUL_SIDE_PX} px a side; a face needs ~100 px)"
            )
            self._warn(message)

    def _distrust(self, why: str) -> None:
        """Stop trusting container timestamps: time frames by index at the nominal rate."""
        self._container_timing = False
        self._warn(f"{why}; frames timed at {self._fps:g} fps instead")

    @property
    def nominal_fps(self) -> float:
        return self._fps

    @property
    def size(self) -> tuple[int, int] | None:
        return None if self._first is None else (self._first.shape[1], self._first.shape[0])

    def __iter__(self) -> Iterator[Frame]:
        if self._first is None:
            raise SourceError(f"{self.path}: a video source can be iterated once")
        clock = _MonotonicClock(1.0 / self._fps)
        index = 0
        image, pos_ms = self._first, self._first_pos_ms
        self._first = None
        o = self.options
        if o.start_s > 0:
            with _quiet_opencv():
                self._cap.set(cv2.CAP_PROP_POS_MSEC, o.start_s * 1000.0)
                ok, image = self._cap.read()
            if not ok:
                message = f"no frame at or after --start {o.start_s:g} s"
                self._warn(message)
                return
            pos_ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
            index = max(0, int(self._cap.get(cv2.CAP_PROP_POS_FRAMES)) - 1)
        while image is not None:
            proposed = pos_ms / 1000.0 if pos_ms > 0 or index == 0 else index / self._fps
            if self._container_timing and (
                not np.isfinite(proposed)
                or proposed - (clock.last if clock.last is not None else 0.0) > MAX_CONTAINER_GAP_S
            ):
                self._distrust(f"container timestamp jumps to {proposed:g} s at frame {index}")
            if not self._container_timing:
                proposed = index / self._fps
            t = clock.next(proposed)
            if self._limits_reached(t):
                break
            self.stats.frames += 1
            yield Frame(image=image, timestamp_s=t, index=index)
            index += 1
            with _quiet_opencv():
                ok, image = self._cap.read()
            if not ok:
                break  # the end of the video, or a frame it cannot decode
            pos_ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        self.stats.repaired_timestamps = clock.repaired
        exp = self.stats.expected_frames
        limited = o.start_s > 0 or o.end_s is not None or o.max_frames is not None
        if exp and not limited and self.stats.frames < exp - 1:
            self.stats.truncated = True
            log.warning(
                "%s: decoding stopped after %d of %d frames (truncated or damaged file)",
                self.path,
                self.stats.frames,
                exp,
            )

    def close(self) -> None:
        self._cap.release()


class CameraSource(FrameSource):
    """A webcam by index. Timestamps are the monotonic clock since the first frame."""

    live = True

    def __init__(self, index: int, options: SourceOptions | None = None) -> None:
        super().__init__(options)
        self.index = index
        self.name = f"camera:{index}"
        o = self.options
        with _quiet_opencv():
            self._cap = cv2.VideoCapture(index)
            opened = self._cap.isOpened()
            if opened and o.camera_size is not None:
                self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, o.camera_size[0])
                self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, o.camera_size[1])
            if opened and o.camera_fps is not None:
                self._cap.set(cv2.CAP_PROP_FPS, o.camera_fps)
            ok, first = self._cap.read() if opened else (False, None)
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"camera {index} could not be opened (absent or busy)")
        # what the camera actually delivers: drivers round a request to a mode they have
        self.delivered = (first.shape[1], first.shape[0], self.nominal_fps)
        asked = []
        if o.camera_size is not None and tuple(o.camera_size) != self.delivered[:2]:
            asked.append(f"{o.camera_size[0]}x{o.camera_size[1]}")
        if o.camera_fps is not None and abs(o.camera_fps - self.delivered[2]) > 0.5:
            asked.append(f"{o.camera_fps:g} fps")
        if asked:
            self._warn(f"camera {index} delivers {self.describe()} (asked for {', '.join(asked)})")

    def describe(self) -> str:
        w, h, fps = self.delivered
        return f"{w}x{h} at {fps:g} fps"

    @property
    def nominal_fps(self) -> float:
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        return fps if np.isfinite(fps) and fps > 0 else 30.0

    def __iter__(self) -> Iterator[Frame]:
        clock = _MonotonicClock(1.0 / self.nominal_fps)
        t0 = time.monotonic()
        index = 0
        while True:
            with _quiet_opencv():
                ok, image = self._cap.read()
            if not ok:
                raise SourceError(f"camera {self.index} stopped delivering frames (unplugged?)")
            t = clock.next(time.monotonic() - t0)
            if self._limits_reached(t):
                return
            self.stats.frames += 1
            yield Frame(image=image, timestamp_s=t, index=index)
            index += 1

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource(FrameSource):
    """Images in name order; unreadable files are skipped with a warning and counted."""

    def __init__(self, folder: str | Path, options: SourceOptions | None = None) -> None:
        super().__init__(options)
        self.folder = Path(folder)
        self.name = str(self.folder)
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: no such folder")
        files = sorted(p for p in self.folder.iterdir() if p.is_file())
        self.files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if not self.files:
            kinds = ", ".join(sorted(IMAGE_SUFFIXES))
            raise SourceError(f"{self.folder}: no image files ({kinds})")
        others = [p.name for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
        if others:  # said once, not silently dropped
            message = f"{len(others)} file(s) that are not images skipped (e.g. {others[0]})"
            self._warn(message)

    @property
    def nominal_fps(self) -> float:
        return self.options.folder_fps

    def __iter__(self) -> Iterator[Frame]:
        period = 1.0 / self.options.folder_fps
        first = round(self.options.start_s / period)
        for index, path in enumerate(self.files):
            if index < first:
                continue
            t = index * period
            if self._limits_reached(t):
                return
            image = read_image(path)
            if image is None:
                self.stats.skipped += 1
                log.warning("%s: not a readable image, skipped", path)
                continue
            self.stats.frames += 1
            yield Frame(image=image, timestamp_s=t, index=index)


def read_image(path: Path) -> np.ndarray | None:
    """Read an image as 3-channel BGR, or None when it cannot be decoded."""
    with _quiet_opencv():
        data = np.fromfile(str(path), dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return image


def open_source(spec: str, options: SourceOptions | None = None) -> FrameSource:
    """Open a source from a command-line string: a camera index, a folder, or a video file."""
    if spec.isdigit():
        return CameraSource(int(spec), options)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path, options)
    return VideoFileSource(path, options)


class LatestFrameSource(FrameSource):
    """Wraps a live source so the consumer always gets the newest frame: a reader thread keeps
    grabbing and overwrites the one waiting slot, so a slow pipeline drops stale frames instead
    of falling further and further behind the camera."""

    live = True

    def __init__(self, inner: FrameSource) -> None:
        super().__init__(inner.options)
        import threading

        self.inner = inner
        self.name = inner.name
        self.dropped = 0
        self._slot: Frame | None = None
        self._error: Exception | None = None
        self._done = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="frame-reader", daemon=True)
        self._thread.start()

    @property
    def nominal_fps(self) -> float | None:
        return self.inner.nominal_fps

    def describe(self) -> str:
        return self.inner.describe()

    def _read(self) -> None:
        try:
            for frame in self.inner:
                with self._cond:
                    if self._done:
                        return
                    if self._slot is not None:
                        self.dropped += 1
                    self._slot = frame
                    self._cond.notify()
        except Exception as exc:  # handed to the consumer, which reports it
            self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify()

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._cond:
                while self._slot is None and not self._done:
                    self._cond.wait(timeout=0.5)
                frame, self._slot = self._slot, None
                done, error = self._done, self._error
            if frame is not None:
                self.stats.frames += 1
                yield frame
            elif done:
                if error is not None:
                    raise error
                return

    def close(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify()
        self._thread.join(timeout=2.0)
        self.inner.close()
