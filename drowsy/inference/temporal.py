"""The temporal model at run time: frames -> fixed-rate steps -> a GRU over the trailing window
in ONNX Runtime every ``cadence_s`` -> :class:`DriverState` (held between runs).

No face is no evidence. The GRU was trained on simulator drives and scored a window of empty
steps (the demo's 12 s without a face) as 0.998 drowsy, and a head rolled 90 degrees (a camera
mounted sideways, a rotated phone video) as critical drowsiness. So a frame gets a score only
when it has a usable face with its head roll in the range the model was trained on and the
window holds at least ``min_fill`` usable steps; otherwise the model does not run, the state
is None (no temporal alert can be raised or kept by it) and :attr:`TemporalModel.withheld`
says why (``frames.csv`` column ``temporal_withheld``)."""

from __future__ import annotations

import json
from pathlib import Path

from drowsy.contracts import Calibration, DriverState, FrameSignals
from drowsy.inference.metadata import ATTENTION, SCORES, TEMPORAL_OUTPUTS, ModelError
from drowsy.inference.onnx_model import OnnxModel
from drowsy.temporal.features import FEATURE_SPEC_VERSION, FEATURES, StepBuffer, frame_vector

# Beyond this head roll the input is outside what the model was trained on (drivers tilt their
# heads by tens of degrees at most; 90 is a camera on its side).
MAX_ROLL_DEG = 40.0


class TemporalModel:
    """The GRU over the last 20 s of per-step features in ONNX Runtime: drowsiness and distraction
    scores with attention."""

    def __init__(
        self,
        path: Path,
        providers: list[str] | None = None,
        threads: int = 0,
        cadence_s: float = 1.0,
        min_fill: float = 0.5,
    ) -> None:
        self.model = OnnxModel(path, providers, threads)
        info = self.model.info
        if info.meta.task != "temporal":
            raise ModelError(f"model {path}: not a temporal model (task {info.meta.task!r})")
        info.meta.require_outputs(TEMPORAL_OUTPUTS, info.graph_outputs, path)
        meta = info.meta.extra
        try:
            features = tuple(json.loads(meta["features"]))
            self.step_s = float(meta["step_s"])
            self.window = int(meta["window_steps"])
        except (KeyError, ValueError) as exc:
            raise ModelError(f"model {path}: metadata lacks the feature spec ({exc})") from exc
        if features != FEATURES or meta.get("feature_spec_version") != str(FEATURE_SPEC_VERSION):
            raise ModelError(f"model {path}: trained on other features {features}")
        self.version = self.model.info.meta.version
        self.cadence_s = cadence_s
        self.min_steps = int(min_fill * self.window)
        self.buffer = StepBuffer(self.window, self.step_s)
        self.state: DriverState | None = None
        self._next_run: float | None = None
        self.withheld: str | None = "filling"  # why the last frame got no score (None: scored)

    def reset(self) -> None:
        """Forget the window (a seek: the frames before it say nothing about the new time)."""
        self.buffer = StepBuffer(self.window, self.step_s)
        self.state = None
        self._next_run = None
        self.withheld = "filling"

    def update(self, s: FrameSignals, cal: Calibration) -> DriverState | None:
        """Feed one frame; returns the latest state, or None when this frame has no evidence
        for a score (see the module docstring; the reason is in :attr:`withheld`)."""
        self.buffer.push(s.timestamp_s, frame_vector(s, cal))
        if self.buffer.resets:
            self.buffer.resets = 0
            self.state = None  # a gap in time: the old window says nothing about now
        self.withheld = self._withheld(s)
        if self.withheld:
            self.state = None
            self._next_run = None  # the next scored frame runs the model afresh
            return None
        if self._next_run is None or s.timestamp_s >= self._next_run:
            x, _ = self.buffer.array()
            out = self.model.run(x[None], list(TEMPORAL_OUTPUTS))
            scores, att = out[SCORES][0], out[ATTENTION][0]
            k = max(1, round(1.0 / self.step_s))
            per_second = att[: len(att) // k * k].reshape(-1, k).sum(axis=1)
            self.state = DriverState(
                timestamp_s=s.timestamp_s,
                drowsiness=float(scores[0]),
                distraction=float(scores[1]),
                attention=tuple(round(float(a), 4) for a in per_second),
            )
            self._next_run = s.timestamp_s + self.cadence_s
        return self.state

    def _withheld(self, s: FrameSignals) -> str | None:
        if not s.usable:
            return "no_face"
        if s.roll is not None and abs(s.roll) > MAX_ROLL_DEG:
            return "head_roll"
        if len(self.buffer.steps) < self.min_steps:  # counted, not stacked: runs every frame
            return "filling"
        if self.buffer.usable_steps < self.min_steps:
            return "sparse_face"
        return None
