"""How learned and geometric evidence combine into one per-frame decision.

Shared by the runtime estimators and the training reports, so a model card's "decision"
numbers are the runtime's numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drowsy.settings import RuntimeSettings

LOGIT_CLIP = 1e-4  # probabilities are clipped to [1e-4, 1 - 1e-4] before taking log-odds
PITCH_SCALE = 30.0  # degrees: the unit of the head pitch in EyeFusion (and its training)


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def logit(p: float) -> float:
    p = min(max(p, LOGIT_CLIP), 1 - LOGIT_CLIP)
    return math.log(p / (1 - p))


def move_threshold(p: np.ndarray, threshold: float) -> np.ndarray:
    """Probabilities with ``threshold`` moved to 0.5 (a log-odds shift): a decision taken at
    ``threshold`` is then taken at 0.5 by everything downstream (seventh amendment of
    docs/PROTOCOL.md, the yawn threshold)."""
    q = np.clip(np.asarray(p, dtype=np.float64), LOGIT_CLIP, 1 - LOGIT_CLIP)
    z = np.log(q / (1 - q)) - logit(threshold)
    return 1 / (1 + np.exp(-z))


@dataclass(frozen=True, slots=True)
class EyeFusion:
    """One eye's closure from the CNN ensemble and the calibrated EAR, added in log-odds:
    ``sigmoid(cnn_weight * logit(p_cnn) + ear_weight * logit(p_geo) + bias)``.

    Why log-odds and not a weighted mean of probabilities: evidence adds. A weighted mean caps
    what either source can say, while in log-odds a confident CNN outweighs a mildly
    disagreeing EAR and a confident EAR vetoes a hesitant CNN. The three numbers are a logistic
    regression fitted on out-of-fold predictions of many people (``training people``); they
    ship in the eye model's ``ensemble.json`` (``"fusion"``) only when that fusion beat the
    ensemble alone out-of-fold (docs/PROTOCOL.md), and otherwise the eye decision is the
    ensemble's probability. The ``runtime.eye_fusion_*`` settings override them.

    ``pitch_ear_weight`` lets the EAR's weight follow the head's pitch (``ear_weight +
    pitch_ear_weight * pitch / 30``, pitch in degrees of the raw head pose, < 0 head down):
    a head pitched down foreshortens the eye and shrinks its EAR. The pitch never adds
    evidence of its own: "head down = eyes closed" would call a driver reading the dashboard
    asleep. 0 (the default) is the plain fusion."""

    cnn_weight: float
    ear_weight: float
    bias: float
    pitch_ear_weight: float = 0.0

    @staticmethod
    def of(runtime: RuntimeSettings, shipped: EyeFusion | None) -> EyeFusion | None:
        """The fusion in force: the model's, with any ``runtime.eye_fusion_*`` setting taking
        the place of its number (a setting alone starts from "the CNN, unchanged")."""
        rt = runtime
        asked = (rt.eye_fusion_cnn_weight, rt.eye_fusion_ear_weight, rt.eye_fusion_bias)
        if all(v is None for v in asked):
            return shipped
        base = shipped or EyeFusion(1.0, 0.0, 0.0)
        a, b, c = asked
        return EyeFusion(
            base.cnn_weight if a is None else a,
            base.ear_weight if b is None else b,
            base.bias if c is None else c,
            base.pitch_ear_weight,
        )

    def apply(self, p_cnn: float, p_geo: float, pitch: float | None = None) -> float:
        """``pitch``: the head's pitch in degrees; None (no pose) takes the level head's weight."""
        ear_weight = self.ear_weight
        if pitch is not None:
            ear_weight += self.pitch_ear_weight * pitch / PITCH_SCALE
        return sigmoid(self.cnn_weight * logit(p_cnn) + ear_weight * logit(p_geo) + self.bias)


@dataclass(frozen=True, slots=True)
class MarGate:
    """A yawn needs an open mouth: the yawn ensemble's probability is multiplied by a soft
    gate on the mouth-aspect ratio. Why: the ensemble learned "something unusual at the mouth"
    as much as "open mouth" (a sandwich, a cup, a phone or a cigarette read as yawning), while
    the landmarks of a closed or occluded mouth stay close together; an open mouth that the
    ensemble does not call a yawn (talking, smiling) stays a non-yawn. ``center`` is chosen on
    validation by ``training reproduce`` and shipped in ``models/yawn/ensemble.json``."""

    center: float
    softness: float = 0.04

    def gate(self, mar: float) -> float:
        return sigmoid((mar - self.center) / self.softness)

    def apply(self, p_yawn: float, mar: float) -> float:
        return p_yawn * self.gate(mar)
