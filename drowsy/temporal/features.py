"""Per-step feature vectors for the temporal model, shared by training and runtime.

Frames arrive at any rate (6 fps webcams, 30 fps cameras, a rate that changes mid-video); the
temporal model sees steps at a fixed rate instead: each step holds the newest frame at or before
it. A step with no frame for longer than ``max_hold_s`` is empty (face_present 0, the model's
mask), and a jump in time longer than ``reset_s`` starts the window afresh, so a paused or cut
recording never glues two moments together.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from drowsy.contracts import Calibration, FrameSignals

FEATURES = (
    "eye_closed",
    "yawn",
    "ear_rel",
    "mar",
    "yaw_rel",
    "pitch_rel",
    "roll",
    "off_road",
    "face_present",
    "usable",
)
_USABLE = FEATURES.index("usable")
FEATURE_SPEC_VERSION = 1
STEP_S = 0.1
DEFAULT_EAR_OPEN = 0.28
ANGLE_SCALE = 45.0  # degrees -> roughly -1..1


def frame_vector(s: FrameSignals, cal: Calibration) -> np.ndarray:
    """The feature vector of one frame, in the order of :data:`FEATURES` (values set by name,
    so the order is stated once)."""
    values = dict.fromkeys(FEATURES, 0.0)
    values["face_present"] = float(s.face_present)
    if s.usable:
        opens = [e for e in (cal.ear_open_left, cal.ear_open_right) if e]
        ear_open = float(np.mean(opens)) if opens else DEFAULT_EAR_OPEN
        values.update(
            eye_closed=s.eye_closed or 0.0,
            yawn=s.yawn or 0.0,
            ear_rel=(s.ear or 0.0) / ear_open,
            mar=s.mar or 0.0,
            yaw_rel=((s.yaw or 0.0) - cal.neutral_yaw) / ANGLE_SCALE,
            pitch_rel=((s.pitch or 0.0) - cal.neutral_pitch) / ANGLE_SCALE,
            roll=(s.roll or 0.0) / ANGLE_SCALE,
            off_road=1.0 if s.on_road is False else 0.0,
            usable=1.0,
        )
    return np.array([values[name] for name in FEATURES], np.float32)


class StepBuffer:
    """Resamples frame vectors to steps of ``step_s`` and keeps the last ``window`` steps."""

    def __init__(
        self, window: int, step_s: float = STEP_S, max_hold_s: float = 0.5, reset_s: float = 5.0
    ) -> None:
        self.window = window
        self.step_s = step_s
        self.max_hold_s = max_hold_s
        self.reset_s = reset_s
        self.steps: deque[np.ndarray] = deque(maxlen=window)
        self._next_t: float | None = None  # time of the next step to emit
        self._last: tuple[float, np.ndarray] | None = None
        self.resets = 0
        self.usable_steps = 0  # steps in the window with a usable face, kept as they come and go

    def push(self, t: float, vec: np.ndarray) -> int:
        """Add a frame at time ``t``; returns how many steps were completed."""
        if self._last is not None and t - self._last[0] > self.reset_s:
            self.steps.clear()
            self.usable_steps = 0
            self._next_t = None
            self.resets += 1
        if self._next_t is None:
            self._next_t = t
        made = 0
        empty = np.zeros_like(vec)
        while self._next_t <= t + 1e-9:
            if abs(self._next_t - t) < 1e-9 or self._last is None:
                held = vec if self._next_t >= t - 1e-9 else empty
            else:
                last_t, last_v = self._last
                held = last_v if self._next_t - last_t <= self.max_hold_s else empty
            if len(self.steps) == self.window:
                self.usable_steps -= int(self.steps[0][_USABLE] > 0)
            self.steps.append(held)
            self.usable_steps += int(held[_USABLE] > 0)
            self._next_t += self.step_s
            made += 1
        self._last = (t, vec)
        return made

    def array(self) -> tuple[np.ndarray, int]:
        """(window, F) with zero steps in front when the buffer is not full; and how many
        steps are real."""
        n = len(self.steps)
        out = np.zeros((self.window, len(FEATURES)), np.float32)
        if n:
            out[self.window - n :] = np.stack(self.steps)
        return out, n


def resample(
    times: np.ndarray, vectors: np.ndarray, window: int, step_s: float = STEP_S, **kw: float
) -> np.ndarray:
    """All steps of a whole sequence (training and evaluation use the runtime's resampling)."""
    del window  # the whole sequence is kept
    buf = StepBuffer(window=10**9, step_s=step_s, **kw)
    for t, v in zip(times, vectors, strict=True):
        buf.push(float(t), v)
    return np.stack(buf.steps) if buf.steps else np.zeros((0, len(FEATURES)), np.float32)
