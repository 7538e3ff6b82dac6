"""The clip recorder: a bounded ring of recent frames and the clips cut from it.

The frame loop only hands frames and alert changes over (``frame``, ``alerts``: a queue put;
offline, one put for a batch of frames); everything else happens in two threads of the
recorder's own, so the monitor never waits on a JPEG or H.264 encoder:

- ``drowsy-clips`` keeps a ring of the last ``before_s`` (live: each frame scaled to
  ``clips.max_width``, landmarks drawn (``overlay``) and JPEG-encoded, ~40 KB at 640x480;
  offline: the frames themselves, encoded only when a clip takes them), and adds each frame
  to every clip still open. A clip opens when an alert is raised (with the ring's frames from
  ``before_s`` before it) and closes ``after_s`` after the alert ended; one longer than
  ``max_s`` keeps its first and last ``max_s / 2``.
- ``drowsy-clip-encoder`` decodes a closed clip's frames, burns in the alert's kind, level at
  that moment and the media time, and writes the MP4 (:mod:`drowsy.clips.video`).

Live, a full queue drops the frame (counted) rather than stall the loop; offline (``live``
False) the loop waits, so every frame is in its clip. A clip that cannot be written is a
:class:`ClipResult` with its error: monitoring and the alert go on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from drowsy.clips.video import ClipError, write_mp4
from drowsy.contracts import Alert, AlertAction, AlertUpdate, FaceObservation
from drowsy.overlays import OverlayOptions, draw
from drowsy.settings import ClipSettings

log = logging.getLogger(__name__)

JPEG_QUALITY = 85
QUEUE_S = 2.0  # live: seconds of frames the recorder may fall behind before it drops
# offline: frames handed to the cutter thread at once. One hand-over a frame woke that thread
# (and handed it the GIL) 30+ times a second beside the face mesh thread: measured, analyze
# ran 15-20 % faster with clips off than on; in batches the cutter wakes once in 16 frames
BATCH_FRAMES = 16
LANDMARKS_ONLY = OverlayOptions(landmarks=True, crops=False, pose=True, gaze=False)
_CLOSE = object()


@dataclass(frozen=True, slots=True)
class ClipResult:
    """A finished clip of alert ``uid``: its file, or why there is none."""

    uid: int
    path: Path | None
    error: str | None = None
    start_s: float = 0.0  # media time of its first frame
    end_s: float = 0.0  # media time of its last frame
    frames: int = 0
    cut_s: float = 0.0  # seconds left out in the middle of a long alert


@dataclass(frozen=True, slots=True)
class _Raw:
    """A frame kept as it came (offline ring): encoded only if a clip takes it."""

    image: np.ndarray
    obs: FaceObservation | None


def _size(frame: bytes | _Raw) -> int:
    return len(frame) if isinstance(frame, bytes) else frame.image.nbytes


@dataclass(slots=True)
class _Clip:
    alert: Alert
    head: list[tuple[float, bytes]]
    tail: deque[tuple[float, bytes]] = field(default_factory=deque)
    close_at: float | None = None  # media time after which it is complete
    capped: bool = False
    cut_s: float = 0.0
    nbytes: int = 0  # JPEG bytes it holds, kept up to date (not summed on every frame)

    def __post_init__(self) -> None:
        self.nbytes = sum(len(b) for _, b in self.head)


@dataclass(slots=True)
class RecorderStats:
    """What the recorder did: frames dropped (live, behind), ring bytes now, clips written."""

    dropped: int = 0
    ring_bytes: int = 0
    peak_bytes: int = 0  # ring + open clips, the most held at once
    written: int = 0
    failed: int = 0


class ClipRecorder:
    """Keeps recent frames and writes a clip of every alert into ``folder`` (``name(alert)``
    is its file name); ``after_write(path)`` runs in the encoder thread after each clip (the
    live disk budget)."""

    def __init__(
        self,
        settings: ClipSettings,
        folder: Path,
        name: Callable[[Alert], str],
        fps: float,
        live: bool,
        after_write: Callable[[Path], None] | None = None,
    ) -> None:
        self.settings = settings
        self.folder = folder
        self.name = name
        self.fps = fps if fps and fps > 0 else 30.0
        self.live = live
        self.after_write = after_write
        self.stats = RecorderStats()
        self.failure: str | None = None  # why the recorder stopped, once it has
        # live: single frames; offline: batches of BATCH_FRAMES (so it holds as many frames)
        depth = max(8, round(QUEUE_S * self.fps))
        self._frames: queue.Queue = queue.Queue(
            maxsize=depth if live else max(2, depth // BATCH_FRAMES)
        )
        self._batch: list[tuple] = []  # offline: frames not yet handed over
        self._encode: queue.Queue = queue.Queue()
        self._results: queue.Queue[ClipResult] = queue.Queue()
        self._ring: deque[tuple[float, bytes | _Raw]] = deque()
        self._open: dict[int, _Clip] = {}
        self._last_t = 0.0
        self._cutter = threading.Thread(target=self._cut_loop, name="drowsy-clips", daemon=True)
        self._encoder = threading.Thread(
            target=self._encode_loop, name="drowsy-clip-encoder", daemon=True
        )
        self._cutter.start()
        self._encoder.start()

    # ------------------------------------------------------------ the frame loop's side
    def frame(self, t: float, image: np.ndarray, obs: FaceObservation | None) -> None:
        """One frame (held by reference: sources hand out a new array per frame)."""
        item = ("frame", t, image, obs)
        if not self.live and self._cutter.is_alive():
            self._batch.append(item)
            if len(self._batch) >= BATCH_FRAMES:
                self._hand_over()
            return
        try:
            self._frames.put_nowait(item)
        except queue.Full:
            self.stats.dropped += 1

    def alerts(self, updates: list[AlertUpdate]) -> None:
        for u in updates:
            if self.failure is not None:  # stopped: the alert gets the reason, not a clip
                if u.action is AlertAction.RAISED:
                    self._results.put(ClipResult(u.alert.uid, None, self.failure))
                continue
            self._send(("alert", u.action, u.alert))

    def flush(self) -> None:
        """Close every open clip at the last frame (a seek: what follows is another stretch)."""
        self._send(("flush",))

    def _send(self, item: tuple) -> None:
        """Never blocks the frame loop for long, nor fails it: a recorder that stopped (its
        failure already reported as results) just misses the message. The frames before it
        go first, so it finds them in the ring."""
        self._hand_over()
        try:
            self._frames.put(item, timeout=2.0 if self._cutter.is_alive() else 0.0)
        except queue.Full:
            log.warning("clip recorder behind or stopped: %s not recorded", item[0])

    def _hand_over(self) -> None:
        """Offline: the frames batched so far to the cutter (waits while it is behind)."""
        if self._batch:
            batch, self._batch = self._batch, []
            if self._cutter.is_alive():
                self._frames.put(("frames", batch))

    def results(self) -> list[ClipResult]:
        """Clips finished since the last call."""
        out = []
        while True:
            try:
                out.append(self._results.get_nowait())
            except queue.Empty:
                return out

    def close(self, timeout: float | None = None) -> list[ClipResult]:
        """Close the open clips at the last frame, wait for them to be written (at most
        ``timeout`` seconds in all), and return the results not yet collected."""
        self._hand_over()
        if self._cutter.is_alive():
            self._frames.put(_CLOSE)
        self._cutter.join(timeout)
        self._encoder.join(timeout)
        return self.results()

    # -------------------------------------------------------------------- cutter thread
    def _cut_loop(self) -> None:
        try:
            while (item := self._frames.get()) is not _CLOSE:
                if item[0] == "frames":
                    for _, t, image, obs in item[1]:
                        self._add(t, self._keep(image, obs))
                elif item[0] == "frame":
                    self._add(item[1], self._keep(item[2], item[3]))
                elif item[0] == "alert":
                    self._alert(item[1], item[2])
                else:
                    self._close_all()
            self._close_all()
        except Exception as exc:  # a recorder failure never reaches the frame loop
            log.error("clip recorder stopped: %s", exc, exc_info=True)
            self.failure = f"clip recorder stopped: {exc}"
            for clip in self._open.values():
                self._results.put(ClipResult(clip.alert.uid, None, self.failure))
            self._open.clear()
        finally:
            self._encode.put(_CLOSE)

    def _keep(self, image: np.ndarray, obs: FaceObservation | None) -> bytes | _Raw:
        """What the ring holds of a frame. Live: its JPEG (a ring of ~40 KB frames, whatever
        the session's length). Offline, for frames no wider than ``max_width``: the frame
        itself (a reference, no copy), encoded only if a clip takes it: most frames of a video
        never are, and JPEG is the recorder's main cost (~1 CPU ms a 640x480 frame)."""
        if self.live or image.shape[1] > self.settings.max_width:
            return self._jpeg(image, obs)
        return _Raw(image, obs)

    def _encoded(self, frame: bytes | _Raw) -> bytes:
        return frame if isinstance(frame, bytes) else self._jpeg(frame.image, frame.obs)

    def _jpeg(self, image: np.ndarray, obs: FaceObservation | None) -> bytes:
        if self.settings.overlay and obs is not None:
            image = draw(image, obs, LANDMARKS_ONLY)
        h, w = image.shape[:2]
        if w > self.settings.max_width:
            scale = self.settings.max_width / w
            image = cv2.resize(image, (self.settings.max_width, round(h * scale)), cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return buf.tobytes() if ok else b""

    def _add(self, t: float, frame: bytes | _Raw) -> None:
        self._last_t = t
        s = self.settings
        self._ring.append((t, frame))
        self.stats.ring_bytes += _size(frame)
        while self._ring and self._ring[0][0] < t - s.before_s - 1.0 / self.fps:
            self.stats.ring_bytes -= _size(self._ring.popleft()[1])
        held = self.stats.ring_bytes
        jpeg = self._encoded(frame) if self._open else b""
        for uid, clip in list(self._open.items()):
            self._extend(clip, t, jpeg)
            held += clip.nbytes
            if clip.close_at is not None and t >= clip.close_at:
                self._finish(self._open.pop(uid))
        self.stats.peak_bytes = max(self.stats.peak_bytes, held)

    def _extend(self, clip: _Clip, t: float, jpeg: bytes) -> None:
        half = self.settings.max_s / 2
        clip.nbytes += len(jpeg)
        if not clip.capped and t - clip.head[0][0] < self.settings.max_s:
            clip.head.append((t, jpeg))
            return
        if not clip.capped:  # longer than max_s: keep the first half as it is
            clip.capped = True
            keep = [f for f in clip.head if f[0] < clip.head[0][0] + half]
            clip.tail.extend(f for f in clip.head[len(keep) :])
            clip.head = keep
        clip.tail.append((t, jpeg))
        while clip.tail and clip.tail[0][0] < t - half:
            dropped = clip.tail.popleft()
            clip.nbytes -= len(dropped[1])
            nxt = clip.tail[0][0] if clip.tail else t
            clip.cut_s += nxt - dropped[0]

    def _alert(self, action: AlertAction, alert: Alert) -> None:
        if action is AlertAction.RAISED:
            since = alert.start_s - self.settings.before_s - 1e-6
            ring = [f for f in self._ring if f[0] >= since] or list(self._ring)[-1:]
            self._open[alert.uid] = _Clip(alert, [(t, self._encoded(f)) for t, f in ring])
            return
        clip = self._open.get(alert.uid)
        if clip is None:
            return
        clip.alert = alert
        if action is AlertAction.ENDED:
            clip.close_at = (alert.end_s or alert.start_s) + self.settings.after_s
            if self._last_t >= clip.close_at:
                self._finish(self._open.pop(alert.uid))

    def _close_all(self) -> None:
        for uid in list(self._open):
            self._finish(self._open.pop(uid))
        self._ring.clear()
        self.stats.ring_bytes = 0

    def _finish(self, clip: _Clip) -> None:
        frames = clip.head + list(clip.tail)
        if not frames:
            self._results.put(ClipResult(clip.alert.uid, None, "no frames to write"))
            return
        self._encode.put((clip.alert, frames, clip.cut_s))

    # -------------------------------------------------------------------- encoder thread
    def _encode_loop(self) -> None:
        while (item := self._encode.get()) is not _CLOSE:
            alert, frames, cut_s = item
            path = self.folder / self.name(alert)
            try:
                n = write_mp4(path, self._decoded(alert, frames), self.fps)
                self.stats.written += 1
                result = ClipResult(alert.uid, path, None, frames[0][0], frames[-1][0], n, cut_s)
                if self.after_write is not None:
                    self.after_write(path)
            except (ClipError, OSError) as exc:
                self.stats.failed += 1
                result = ClipResult(alert.uid, None, str(exc), frames[0][0], frames[-1][0])
            except Exception as exc:  # an encoder bug must not end monitoring either
                log.error("clip of alert %d: %s", alert.uid, exc, exc_info=True)
                self.stats.failed += 1
                result = ClipResult(alert.uid, None, f"clip encoder: {exc}")
            self._results.put(result)

    def _decoded(self, alert: Alert, frames: list[tuple[float, bytes]]):
        for t, jpeg in frames:
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                continue
            if self.settings.overlay:
                caption(image, alert, t)
            yield t, image


def level_at(alert: Alert, t: float) -> str:
    """The alert's level at media time ``t``; "" before it was raised or after it ended."""
    if t < alert.start_s or (alert.end_s is not None and t > alert.end_s):
        return ""
    began = sorted((s, level) for level, s in alert.levels.items() if s <= t + 1e-6)
    return began[-1][1] if began else str(alert.level)


def caption(image: np.ndarray, alert: Alert, t: float) -> None:
    """Burn in what the clip is about: the rule, the level at this moment, the media time."""
    level = level_at(alert, t)
    state = level.upper() if level else ("before" if t < alert.start_s else "after")
    text = f"{alert.kind.replace('_', ' ')}  {state}  t={t:.1f}s"
    colour = {"": (200, 200, 200), "info": (255, 160, 40), "warning": (0, 160, 255)}.get(
        level, (40, 40, 230)
    )
    h, w = image.shape[:2]
    scale = max(0.45, w / 800)  # readable at the clip's own size, 320 to 1920 px wide
    bar = round(30 * scale)
    cv2.rectangle(image, (0, h - bar), (w, h), (20, 20, 20), -1)
    cv2.putText(
        image,
        text,
        (round(8 * scale), h - round(9 * scale)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.7 * scale,
        colour,
        max(1, round(1.5 * scale)),
        cv2.LINE_AA,
    )
