"""Writing and reading clips: H.264 in MP4 (yuv420p, ``+faststart``), what every browser plays
in a ``<video>`` element, through PyAV and the FFmpeg its wheels bundle (no system ffmpeg).

Frames carry their own media time (variable frame rate is kept: a live camera that dropped
frames plays at the speed it was filmed). A clip is written to a temporary name and renamed
when complete, so a clip on disk is always whole.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CODEC = "libx264"
SUFFIX = ".mp4"
TIME_BASE = Fraction(1, 1000)  # pts in milliseconds


class ClipError(Exception):
    """A clip could not be written or read (disk full, codec error, damaged file)."""


@dataclass(frozen=True, slots=True)
class ClipVideo:
    """A decoded clip: BGR frames and their times (seconds from the clip's first frame)."""

    frames: list[np.ndarray]
    times: list[float]

    @property
    def duration_s(self) -> float:
        if not self.times:
            return 0.0
        step = self.times[-1] - self.times[-2] if len(self.times) > 1 else 0.0
        return self.times[-1] + step


def _even(n: int) -> int:
    return n - n % 2  # yuv420p needs even sides


def write_mp4(path: Path, frames: Iterable[tuple[float, np.ndarray]], fps: float) -> int:
    """Encode ``(media time, BGR image)`` pairs into ``path``; returns the frames written.
    Raises ClipError (nothing left at ``path``) when it cannot."""
    part = path.with_name(f".{path.name}.part")
    items = iter(frames)
    try:
        first = next(items, None)
        if first is None:
            raise ClipError(f"cannot write {path}: no frames")
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream(CODEC, rate=Fraction(round(fps * 1000), 1000))
            if not isinstance(stream, av.VideoStream):
                raise ClipError(f"cannot write {path}: {CODEC} is not a video codec here")
            h, w = _even(first[1].shape[0]), _even(first[1].shape[1])
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            stream.options = {"preset": "ultrafast", "crf": "26"}
            t0, last_pts, written = first[0], -1, 0
            for t, image in itertools.chain([first], items):
                frame = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(image[:h, :w]), format="bgr24"
                )
                pts = max(last_pts + 1, round((t - t0) * 1000))
                frame.pts, frame.time_base, last_pts = pts, TIME_BASE, pts
                out.mux(stream.encode(frame))
                written += 1
            out.mux(stream.encode(None))
        os.replace(part, path)
        return written
    except (OSError, av.FFmpegError, ValueError) as exc:
        _remove(part)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ClipError(f"cannot write {path}: {reason}") from exc
    except ClipError:
        _remove(part)
        raise


def _remove(path: Path) -> None:
    """Leave no half-written clip (and never fail while cleaning up after a failure)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def read_clip(path: Path) -> ClipVideo:
    """Every frame of a clip with its time; ClipError when the file is missing or damaged."""
    frames: list[np.ndarray] = []
    times: list[float] = []
    try:
        with av.open(str(path)) as container:
            first = None
            for frame in container.decode(video=0):
                t = float(frame.time) if frame.time is not None else len(times) / 30.0
                first = t if first is None else first
                frames.append(frame.to_ndarray(format="bgr24"))
                times.append(t - first)
    except (OSError, av.FFmpegError) as exc:
        raise ClipError(f"cannot read {path}: {exc}") from exc
    if not frames:
        raise ClipError(f"{path}: no frames")
    return ClipVideo(frames, times)
