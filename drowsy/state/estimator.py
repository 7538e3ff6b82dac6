"""Per-frame state probabilities behind one interface.

The alert engine and every sink see only :class:`~drowsy.contracts.StateProbabilities`; whether
they came from the CNN ensembles (ONNX Runtime) or from the geometric stand-in below is recorded
in ``source`` and nowhere else matters.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import deque
from pathlib import Path
from typing import Protocol

from drowsy.contracts import Calibration, FaceObservation, StateProbabilities
from drowsy.settings import Settings, SignalSettings
from drowsy.state.fusion import EyeFusion, MarGate, logit, sigmoid

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


def make_estimator(settings: Settings) -> StateEstimator:
    """The fused estimator (CNN ensembles + calibrated geometry) by default, the CNNs alone or
    the geometric estimate when asked; missing models are an error, never a silent fallback."""
    rt = settings.runtime
    if rt.estimator == "geometric":
        return GeometricEstimator(settings.signals)
    from drowsy.inference.ensemble import DEFAULT_MODELS_DIR, CnnEstimator
    from drowsy.inference.onnx_model import ModelError

    folder = Path(rt.models_dir).expanduser() if rt.models_dir else DEFAULT_MODELS_DIR
    present = all((folder / t / "ensemble.json").is_file() for t in ("eyes", "yawn"))
    if not present:  # a broken install must not pass for a working one (geometry is weaker)
        raise ModelError(
            f"no eye and yawn ensembles in {folder}: reinstall drowsy, point runtime.models_dir"
            " at a model folder, or run on landmark geometry alone with"
            " --set runtime.estimator=geometric"
        )
    if rt.estimator == "cnn":
        return CnnEstimator(folder, rt.provider, rt.threads, rt.voting)
    # The fusion weighs how confident the eye members are: their mean probability (soft
    # voting) keeps that; hard votes quantise it to thirds.
    eyes_voting = "soft" if rt.voting == "auto" else rt.voting
    cnn = CnnEstimator(folder, rt.provider, rt.threads, rt.voting, eyes_voting)
    gate = cnn.yawn.mar_gate
    if rt.yawn_mar_gate is not None:
        gate = MarGate(rt.yawn_mar_gate) if rt.yawn_mar_gate > 0 else None
    fusion = EyeFusion.of(rt)
    return FusedEstimator(cnn, GeometricEstimator(settings.signals), fusion, gate)


class CnnBaseline:
    """This driver's open-eye level of the eye ensemble, learnt during calibration.

    Why: glasses, make-up or a dim camera can make a driver's open eyes score 0.3 on the
    ensemble, one small step from "closed". During calibration (eyes open most of the time)
    the median closed-logit per eye is recorded; afterwards a baseline above the level the
    ensemble gives open eyes on its validation data (``REFERENCE_LOGIT``) is subtracted, so
    this driver's open eyes read as open again. A baseline at or below the reference changes
    nothing: the adaptation only removes excess confidence in "closed"."""

    REFERENCE_LOGIT = math.log(0.05 / 0.95)
    MAX_SAMPLES = 900  # a face that never calibrates (poor quality for hours) keeps memory flat

    def __init__(self) -> None:
        self._logits: tuple[deque[float], deque[float]] = (
            deque(maxlen=self.MAX_SAMPLES),
            deque(maxlen=self.MAX_SAMPLES),
        )
        self.shift: tuple[float, float] | None = None  # frozen once calibration is done

    def update(self, left: float, right: float, calibration: Calibration) -> None:
        if self.shift is not None:
            return
        if calibration.done:
            self.shift = tuple(  # type: ignore[assignment]
                max(0.0, statistics.median(v) - self.REFERENCE_LOGIT) if v else 0.0
                for v in self._logits
            )
            return
        self._logits[0].append(logit(left))
        self._logits[1].append(logit(right))

    def adapt(self, left: float, right: float) -> tuple[float, float]:
        if not self.shift:
            return left, right
        return (
            sigmoid(logit(left) - self.shift[0]),
            sigmoid(logit(right) - self.shift[1]),
        )


class FusedEstimator:
    """Eye closure from the CNN ensemble (adapted to this driver's open-eye level,
    :class:`CnnBaseline`) and the calibrated geometric estimate, added in log-odds
    (:class:`~drowsy.state.fusion.EyeFusion`); yawn from the CNN ensemble gated by the mouth's
    opening (:class:`~drowsy.state.fusion.MarGate`, as the yawn model card chose). Why both:
    on the pipeline-cut crops of the hand-labelled videos the CNN alone finds nearly every
    blink but also calls some open eyes closed (glasses, dim light, downward glances), and on
    the awake dev video that raised a false microsleep alarm; the driver's own EAR baseline
    vetoes most of those, while the EAR alone misses partial closures the CNN sees."""

    SKIP_BELOW = 0.01  # a yawn probability this low is "no yawn" to every consumer

    def __init__(
        self,
        cnn,
        geometric: GeometricEstimator,
        fusion: EyeFusion,
        yawn_gate: MarGate | None = None,
    ) -> None:
        self.cnn = cnn
        self.geometric = geometric
        self.fusion = fusion
        self.yawn_gate = yawn_gate
        self.baseline = CnnBaseline()
        self.name = f"fused({cnn.name} + geometric)"
        self.provider = cnn.provider

    def estimate(self, obs: FaceObservation, calibration: Calibration) -> StateProbabilities:
        g = self.geometric.estimate(obs, calibration)
        cnn_left, cnn_right = self.cnn.eyes_closed(obs)
        self.baseline.update(cnn_left, cnn_right, calibration)
        left, right = self.baseline.adapt(cnn_left, cnn_right)
        return StateProbabilities(
            eye_closed_left=self.fusion.apply(left, g.eye_closed_left),
            eye_closed_right=self.fusion.apply(right, g.eye_closed_right),
            yawn=self._yawn(obs),
            source="fused",
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
        return {
            **self.cnn.versions(),
            "fusion": (
                f"eyes log-odds {f.cnn_weight:g} cnn + {f.ear_weight:g} geometric {f.bias:+g}"
            ),
            "yawn_gate": gate,
        }

    def close(self) -> None:
        self.cnn.close()
