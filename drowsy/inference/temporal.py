"""The temporal model at run time: frames -> fixed-rate steps -> a GRU over the trailing window
in ONNX Runtime every ``cadence_s`` -> :class:`DriverState` (held between runs)."""

from __future__ import annotations

import json
from pathlib import Path

from drowsy.contracts import Calibration, DriverState, FrameSignals
from drowsy.inference.metadata import ATTENTION, SCORES, TEMPORAL_OUTPUTS, ModelError
from drowsy.inference.onnx_model import OnnxModel
from drowsy.temporal.features import FEATURE_SPEC_VERSION, FEATURES, StepBuffer, frame_vector


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

    def reset(self) -> None:
        """Forget the window (a seek: the frames before it say nothing about the new time)."""
        self.buffer = StepBuffer(self.window, self.step_s)
        self.state = None
        self._next_run = None

    def update(self, s: FrameSignals, cal: Calibration) -> DriverState | None:
        """Feed one frame; returns the latest state (None until the window is half full)."""
        self.buffer.push(s.timestamp_s, frame_vector(s, cal))
        if self.buffer.resets:
            self.buffer.resets = 0
            self.state = None  # a gap in time: the old window says nothing about now
        if len(self.buffer.steps) < self.min_steps:  # counted, not stacked: this runs every frame
            return self.state
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
