"""Where the models are and the estimators built from them: the one place that turns settings
into a state estimator or a temporal model.

It sits above ``drowsy.state`` (the estimator protocol, the geometric estimate and the fusion,
which import nothing of inference) so the packages import one way only (an import-linter
layer checks it).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from drowsy.inference.ensemble import CnnEstimator
from drowsy.inference.onnx_model import ModelError, choose_providers
from drowsy.inference.temporal import TemporalModel
from drowsy.settings import RuntimeSettings, Settings
from drowsy.state.estimator import FusedEstimator, GeometricEstimator, StateEstimator
from drowsy.state.fusion import EyeFusion, MarGate


def _shipped_models() -> Path:
    """The shipped models: package data of ``drowsy.models`` (the repository's ``models/``),
    in an editable checkout and in a wheel alike."""
    return Path(str(importlib.resources.files("drowsy.models")))


SHIPPED_MODELS = _shipped_models()


def models_dir(settings: Settings) -> Path:
    """``runtime.models_dir`` when set, else the shipped models."""
    folder = settings.runtime.models_dir
    return Path(folder).expanduser() if folder else SHIPPED_MODELS


def make_estimator(settings: Settings) -> StateEstimator:
    """The fused estimator (CNN ensembles + calibrated geometry) by default, the CNNs alone or
    the geometric estimate when asked; missing models are an error, never a silent fallback."""
    rt = settings.runtime
    if rt.estimator == "geometric":
        return GeometricEstimator(settings.signals)
    folder = models_dir(settings)
    present = all((folder / t / "ensemble.json").is_file() for t in ("eyes", "yawn"))
    if not present:  # a broken install must not pass for a working one (geometry is weaker)
        raise ModelError(
            f"no eye and yawn ensembles in {folder}: reinstall drowsy, point runtime.models_dir"
            " at a model folder, or run on landmark geometry alone with"
            " --set runtime.estimator=geometric"
        )
    if rt.estimator == "cnn":
        return _with_yawn_threshold(CnnEstimator(folder, rt.provider, rt.threads, rt.voting), rt)
    # A fusion weighs how confident the eye members are: their mean probability (soft
    # voting) keeps that; hard votes quantise it to thirds.
    eyes_voting = "soft" if rt.voting == "auto" else rt.voting
    cnn = CnnEstimator(folder, rt.provider, rt.threads, rt.voting, eyes_voting)
    gate = cnn.yawn.mar_gate
    if rt.yawn_mar_gate is not None:
        gate = MarGate(rt.yawn_mar_gate) if rt.yawn_mar_gate > 0 else None
    fusion = EyeFusion.of(rt, cnn.eyes.eye_fusion)
    if fusion is None:  # the eye ensemble alone, with the voting its model card chose
        cnn.close()
        cnn = CnnEstimator(folder, rt.provider, rt.threads, rt.voting)
    cnn = _with_yawn_threshold(cnn, rt)
    return FusedEstimator(cnn, GeometricEstimator(settings.signals), fusion, gate)


def _with_yawn_threshold(cnn: CnnEstimator, rt: RuntimeSettings) -> CnnEstimator:
    """``runtime.yawn_model_threshold`` over the one the yawn model ships (a driver who eats at
    the wheel may want 0.5 back: a lower threshold costs false yawns on covered mouths)."""
    if rt.yawn_model_threshold is not None:
        cnn.yawn.threshold = rt.yawn_model_threshold
    return cnn


def make_temporal(settings: Settings) -> TemporalModel | None:
    """The temporal model from ``models/temporal`` when present and enabled."""
    if not settings.runtime.temporal or settings.runtime.estimator == "geometric":
        return None
    path = models_dir(settings) / "temporal" / "temporal.onnx"
    if not path.is_file():
        return None
    return TemporalModel(
        path, choose_providers(settings.runtime.provider), settings.runtime.threads
    )
