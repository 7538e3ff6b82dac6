"""How learned and geometric evidence combine into one per-frame decision.

Shared by the runtime estimators and the training reports, so a model card's "decision"
numbers are the runtime's numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


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
