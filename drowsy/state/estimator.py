"""Per-frame state probabilities behind one interface.

The alert engine and every sink see only :class:`~drowsy.contracts.StateProbabilities`; whether
they came from the CNN ensembles (ONNX Runtime) or from the geometric stand-in below is recorded
in ``source`` and nowhere else matters.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Protocol

from drowsy.contracts import Calibration, FaceObservation, StateProbabilities
from drowsy.settings import Settings, SignalSettings

log = logging.getLogger(__name__)


class StateEstimator(Protocol):
    """Turns a face observation into eye-closed and yawn probabilities."""

    name: str
    provider: str  # execution provider in use ("none" when no network runs)

    def estimate(self, obs: FaceObservation, calibration: Calibration) -> StateProbabilities: ...

    def versions(self) -> dict[str, str]: ...

    def close(self) -> None: ...


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


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
        return _sigmoid((s.closed_ratio - ratio) / s.ear_softness)

    def yawn(self, mar: float) -> float:
        s = self.settings
        return _sigmoid((mar - s.yawn_mar) / s.mar_softness)

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


def make_estimator(settings: Settings) -> StateEstimator:
    """The CNN ensembles when their models are present (or required), else the geometric
    estimate, with a warning when the fallback was not asked for."""
    rt = settings.runtime
    if rt.estimator == "geometric":
        return GeometricEstimator(settings.signals)
    from drowsy.inference.ensemble import DEFAULT_MODELS_DIR, CnnEstimator
    from drowsy.inference.onnx_model import ModelError

    folder = Path(rt.models_dir).expanduser() if rt.models_dir else DEFAULT_MODELS_DIR
    present = all((folder / t / "ensemble.json").is_file() for t in ("eyes", "yawn"))
    if not present:
        if rt.estimator in ("cnn", "fused"):
            raise ModelError(f"no eye and yawn ensembles in {folder}")
        log.warning("no models in %s: using the geometric estimate", folder)
        return GeometricEstimator(settings.signals)
    cnn = CnnEstimator(folder, rt.provider, rt.threads, rt.voting)
    if rt.estimator == "cnn":
        return cnn
    return FusedEstimator(cnn, GeometricEstimator(settings.signals), rt.fusion_cnn_weight)


class FusedEstimator:
    """Eye closure as a weighted mean of the CNN ensemble and the calibrated geometric
    estimate; yawn from the CNN. Why: on the pipeline-cut crops of the hand-labelled videos the
    CNN alone finds nearly every blink but also calls some open eyes closed (glasses, dim
    light, downward glances), and on the awake dev video that raised a false microsleep
    alarm; the driver's own EAR baseline vetoes most of those. The weight
    (``runtime.fusion_cnn_weight``) is chosen on the dev video by benchmarks/choose_fusion.py
    (best balanced accuracy among weights that raise no alert there and whose blink precision
    is >= 0.9: a false closure becomes a false alarm)."""

    def __init__(self, cnn, geometric: GeometricEstimator, cnn_weight: float) -> None:
        self.cnn = cnn
        self.geometric = geometric
        self.cnn_weight = cnn_weight
        self.name = f"fused({cnn.name} + geometric)"
        self.provider = cnn.provider

    def estimate(self, obs: FaceObservation, calibration: Calibration) -> StateProbabilities:
        c = self.cnn.estimate(obs, calibration)
        g = self.geometric.estimate(obs, calibration)
        w = self.cnn_weight
        return StateProbabilities(
            eye_closed_left=w * c.eye_closed_left + (1 - w) * g.eye_closed_left,
            eye_closed_right=w * c.eye_closed_right + (1 - w) * g.eye_closed_right,
            yawn=c.yawn,
            source="fused",
        )

    def versions(self) -> dict[str, str]:
        return {
            **self.cnn.versions(),
            "fusion": f"eyes {self.cnn_weight:g} cnn + {1 - self.cnn_weight:g} geometric",
        }

    def close(self) -> None:
        self.cnn.close()
