"""Recorded video: anything OpenCV decodes, timed by the container where it can be trusted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from drowsy.contracts import Frame
from drowsy.errors import SourceError
from drowsy.sources.base import (
    FALLBACK_FPS,
    MAX_CONTAINER_GAP_S,
    MIN_USEFUL_SIDE_PX,
    PLAUSIBLE_FPS,
    FrameSource,
    SourceOptions,
    _check_readable_file,
    _MonotonicClock,
    _quiet_opencv,
)

log = logging.getLogger(__name__)


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
