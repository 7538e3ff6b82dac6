"""Per-frame state probabilities behind one interface.

The alert engine and every sink see only :class:`~drowsy.contracts.StateProbabilities`; whether
they came from the CNN ensembles (ONNX Runtime) or from the geometric stand-in below is recorded
in ``source`` and nowhere else matters.
"""

from __future__ import annotations

import logging
from typing import Protocol

from drowsy.contracts import Calibration, FaceObservation, StateProbabilities
from drowsy.settings import SignalSettings
from drowsy.state.fusion import EyeFusion, MarGate, sigmoid

log = logging.getLogger(__name__)


class StateEstimator(Protocol):
    """Turns a face observation into eye-closed and yawn probabilities."""

    name: str
    provider: str  # execution provider in use ("none" when no network runs)

    def estimate(self, obs: FaceObservation, calibration: Calibration) -> StateProbabilities: ...

    def versions(self) -> dict[str, str]: ...

    def close(self) -> None: ...


class GeometricEstimator:
    """Probabilities from landmark geometry: the eye-aspect ratio relative to this driver's
    open-eye EAR (learnt in calibration, so narrow eyes and glasses do not read as closed) and
    the mouth-aspect ratio, each through a logistic ramp."""

    name = "geometric"
    provider = "none"

    def __init__(self, settings: SignalSettings) -> None:
        self.settings = settings

    def eye_closed(self, ear: float, ear_open: float | None) -> float:
        s = self.settings
        ratio = ear / (ear_open or s.default_ear_open)
        return sigmoid((s.closed_ratio - ratio) / s.ear_softness)

    def yawn(self, mar: float) -> float:
        s = self.settings
        return sigmoid((mar - s.yawn_mar) / s.mar_softness)

    def estimate(self, obs: FaceObservation, calibration: Calibration) -> StateProbabilities:
        if not obs.present or obs.ear_left is None or obs.ear_right is None or obs.mar is None:
            raise ValueError("estimate() needs an observation with a face")
        return StateProbabilities(
            eye_closed_left=self.eye_closed(obs.ear_left, calibration.ear_open_left),
            eye_closed_right=self.eye_closed(obs.ear_right, calibration.ear_open_right),
            yawn=self.yawn(obs.mar),
            source=self.name,
        )

    def versions(self) -> dict[str, str]:
        return {"state": self.name}

    def close(self) -> None:
        pass


class FusedEstimator:
    """The decisions the model cards chose out of fold, per person (docs/PROTOCOL.md): eye
    closure from the CNN ensemble, added in log-odds to the calibrated geometric estimate
    (:class:`~drowsy.state.fusion.EyeFusion`) only where the eye model ships a fusion that beat
    the ensemble alone; yawn from the CNN ensemble times a gate on the mouth's opening
    (:class:`~drowsy.state.fusion.MarGate`) where the yawn model ships one. Why not a fixed
    formula: the wave-2 fusion and gate, chosen on one person's video, made the default worse
    than the ensembles alone on people nobody had seen (eyes of night drivers 0.849 vs 0.904,
    real yawns recall 0.00 vs 0.89)."""

    SKIP_BELOW = 0.01  # a yawn probability this low is "no yawn" to every consumer

    def __init__(
        self,
        cnn,
        geometric: GeometricEstimator,
        fusion: EyeFusion | None,
        yawn_gate: MarGate | None = None,
    ) -> None:
        self.cnn = cnn
        self.geometric = geometric
        self.fusion = fusion
        self.yawn_gate = yawn_gate
        self.name = f"fused({cnn.name} + geometric)" if fusion else f"fused({cnn.name})"
        self.provider = cnn.provider

    def estimate(self, obs: FaceObservation, calibration: Calibration) -> StateProbabilities:
        left, right = self.cnn.eyes_closed(obs)
        if self.fusion is not None:
            g = self.geometric.estimate(obs, calibration)
            pitch = obs.pose.pitch if obs.pose is not None else None
            left = self.fusion.apply(left, g.eye_closed_left, pitch)
            right = self.fusion.apply(right, g.eye_closed_right, pitch)
        return StateProbabilities(
            eye_closed_left=left, eye_closed_right=right, yawn=self._yawn(obs), source="fused"
        )

    def _yawn(self, obs: FaceObservation) -> float:
        """The ensemble's yawn probability times the MAR gate. Where the gate alone keeps the
        product below ``SKIP_BELOW`` (lips together: about nine frames in ten of a drive) the
        network cannot change the decision, so it is not run and the gate's value, the
        product's upper bound, stands in (saves the yawn ensemble's ~1 ms on those frames)."""
        if self.yawn_gate is None or obs.mar is None:
            return self.cnn.yawning(obs)
        gate = self.yawn_gate.gate(obs.mar)
        if gate < self.SKIP_BELOW:
            return gate
        return gate * self.cnn.yawning(obs)

    def versions(self) -> dict[str, str]:
        gate = "none" if self.yawn_gate is None else f"MAR gate at {self.yawn_gate.center:g}"
        f = self.fusion
        fusion = (
            "none (eye ensemble alone)"
            if f is None
            else f"eyes log-odds {f.cnn_weight:.3g} cnn + {f.ear_weight:.3g} geometric"
            + (f" ({f.pitch_ear_weight:+.3g} per 30 deg pitch)" if f.pitch_ear_weight else "")
            + f" {f.bias:+.3g}"
        )
        return {**self.cnn.versions(), "fusion": fusion, "yawn_gate": gate}

    def close(self) -> None:
        self.cnn.close()
