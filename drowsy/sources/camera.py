"""Live cameras: a webcam by index, and the newest-frame wrapper that keeps a slow pipeline
from falling behind it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from drowsy.contracts import Frame
from drowsy.errors import SourceError
from drowsy.sources.base import FrameSource, SourceOptions, _MonotonicClock, _quiet_opencv


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


class LatestFrameSource(FrameSource):
    """Wraps a live source so the consumer always gets the newest frame: a reader thread keeps
    grabbing and overwrites the one waiting slot, so a slow pipeline drops stale frames instead
    of falling further and further behind the camera."""

    live = True

    def __init__(self, inner: FrameSource) -> None:
        super().__init__(inner.options)
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


def list_cameras(max_index: int = 4) -> list[int]:
    """Indices of the cameras that open (quietly). Opening a camera can take a second: call it
    off any thread that must stay responsive."""
    found = []
    for i in range(max_index):
        if not Path(f"/dev/video{i}").exists() and Path("/dev").exists():
            continue
        try:
            CameraSource(i).close()
            found.append(i)
        except SourceError:
            continue
    return found
