"""Learned and geometric evidence combined: the eye fusion and the yawn MAR gate, as the
model folders ship them."""

from __future__ import annotations

import json

import pytest

from drowsy.contracts import Calibration
from drowsy.errors import UserError
from drowsy.inference.ensemble import Ensemble
from drowsy.inference.factory import make_estimator
from drowsy.inference.onnx_model import ModelError
from drowsy.settings import Settings, apply_override
from drowsy.state.estimator import FusedEstimator
from drowsy.state.fusion import EyeFusion, MarGate
from tests.onnx_fixtures import write_models_dir


def test_mar_gate_vetoes_a_closed_or_covered_mouth_and_passes_an_open_one():
    """A sandwich in front of a closed mouth: the ensemble says yawn, the landmarks say the
    lips are together; a wide-open mouth passes almost unchanged."""
    gate = MarGate(0.4)
    assert gate.apply(0.99, 0.08) < 0.01
    assert gate.apply(0.99, 0.62) > 0.97
    assert gate.apply(0.05, 0.7) < 0.06  # an open mouth the ensemble rejects stays rejected
    assert gate.apply(0.9, 0.4) == pytest.approx(0.45)


def test_eye_fusion_adds_evidence_in_log_odds():
    """A partial closure at a low frame rate: the CNN is sure, the landmarks moved only part of
    the way. A weighted mean of probabilities (the old fusion, 0.3 on the CNN) could not call
    it closed; added log-odds do, while wide-open landmarks still veto a hesitant CNN."""
    fusion = EyeFusion(cnn_weight=2.0, ear_weight=0.1, bias=-2.0)
    partial_geo = 0.02  # EAR at 75 % of the driver's open level
    assert 0.3 * 0.97 + 0.7 * partial_geo < 0.5
    assert fusion.apply(0.97, partial_geo) > 0.9
    wide_open = 1e-4
    assert fusion.apply(0.75, wide_open) < 0.5
    assert fusion.apply(0.02, 0.5) < 0.05  # an open eye stays open whatever the EAR says
    assert fusion.apply(0.02, 0.02) < fusion.apply(0.5, 0.02) < fusion.apply(0.98, 0.02)
    assert fusion.apply(0.5, 0.02) < fusion.apply(0.5, 0.9)  # both sources move the result


def test_the_pitch_changes_only_how_much_the_ear_counts():
    """A head pitched down shrinks the EAR: a fusion trained with the pitch may trust it less
    there, but the pitch alone never moves the decision (a level EAR, no evidence from it)."""
    fusion = EyeFusion(cnn_weight=1.0, ear_weight=1.0, bias=0.0, pitch_ear_weight=1.0)
    low_ear = 0.9  # the landmarks say closed, the CNN has no opinion
    level, down = fusion.apply(0.5, low_ear, 0.0), fusion.apply(0.5, low_ear, -30.0)
    assert level > 0.85 and down == pytest.approx(0.5)  # head down: the EAR's weight is 0
    assert fusion.apply(0.5, low_ear, None) == level  # no pose: the level head's weight
    neutral_ear = 0.5  # log-odds 0: whatever the pitch, the CNN decides alone
    for pitch in (-40.0, 0.0, 25.0):
        assert fusion.apply(0.8, neutral_ear, pitch) == pytest.approx(0.8)
    assert EyeFusion(1.0, 0.4, -0.2).apply(0.7, 0.3, -30.0) == EyeFusion(1.0, 0.4, -0.2).apply(
        0.7, 0.3
    )  # the plain fusion ignores the pitch


def test_eye_fusion_travels_in_ensemble_json_and_settings_override_its_numbers(tmp_path):
    """No fusion in the eye model: the decision is the ensemble alone, with its card's voting;
    a fusion there is used as shipped, and a setting replaces one of its numbers."""
    root = write_models_dir(tmp_path, voting="hard")
    settings = apply_override(Settings(), f'runtime.models_dir="{root}"')
    alone = make_estimator(settings)
    assert isinstance(alone, FusedEstimator) and alone.fusion is None
    assert alone.cnn.eyes.voting == "hard"  # the card's choice, not the fusion's soft votes
    assert alone.versions()["fusion"] == "none (eye ensemble alone)"
    spec_path = root / "eyes" / "ensemble.json"
    spec = json.loads(spec_path.read_text())
    spec["fusion"] = {"cnn_weight": 1.5, "ear_weight": 0.4, "bias": -0.2, "rule": "test"}
    spec_path.write_text(json.dumps(spec))
    fused = make_estimator(settings)
    assert fused.fusion == EyeFusion(1.5, 0.4, -0.2) and fused.cnn.eyes.voting == "soft"
    moved = make_estimator(apply_override(settings, "runtime.eye_fusion_bias=1.0"))
    assert moved.fusion == EyeFusion(1.5, 0.4, 1.0)
    spec["fusion"]["pitch_ear_weight"] = -0.3
    spec_path.write_text(json.dumps(spec))
    tilted = make_estimator(apply_override(settings, "runtime.eye_fusion_bias=1.0"))
    assert tilted.fusion == EyeFusion(1.5, 0.4, 1.0, -0.3)  # a setting keeps the pitch term
    assert "per 30 deg pitch" in tilted.versions()["fusion"]
    spec["fusion"] = {"cnn_weight": "x"}
    spec_path.write_text(json.dumps(spec))
    with pytest.raises(ModelError, match="malformed fusion"):
        Ensemble(root / "eyes")


def test_without_a_fusion_the_eye_decision_is_the_ensembles_probability():
    from drowsy.contracts import FaceObservation
    from drowsy.state.estimator import GeometricEstimator

    est = FusedEstimator(_CountingCnn(p_yawn=0.0), GeometricEstimator(Settings().signals), None)
    obs = FaceObservation(present=True, ear_left=0.05, ear_right=0.05, mar=0.1)
    got = est.estimate(obs, Calibration())  # the landmarks say closed; the ensemble says open
    assert (got.eye_closed_left, got.eye_closed_right) == (0.02, 0.02)


def test_yawn_gate_travels_in_ensemble_json_and_a_setting_overrides_it(tmp_path):
    root = write_models_dir(tmp_path, voting="hard")
    spec_path = root / "yawn" / "ensemble.json"
    spec = json.loads(spec_path.read_text())
    spec["mar_gate"] = {"center": 0.35, "softness": 0.04, "rule": "test"}
    spec_path.write_text(json.dumps(spec))
    settings = apply_override(Settings(), f'runtime.models_dir="{root}"')
    settings = apply_override(settings, "runtime.estimator=fused")
    est = make_estimator(settings)
    assert isinstance(est, FusedEstimator) and est.yawn_gate == MarGate(0.35, 0.04)
    assert est.versions()["yawn_gate"] == "MAR gate at 0.35"
    # no eye fusion shipped: the eye ensemble votes as its card says; a voting setting wins
    assert est.cnn.eyes.voting == "hard" and est.cnn.yawn.voting == "hard"
    assert make_estimator(apply_override(settings, "runtime.voting=soft")).cnn.eyes.voting == "soft"
    off = make_estimator(apply_override(settings, "runtime.yawn_mar_gate=0"))
    assert off.yawn_gate is None
    moved = make_estimator(apply_override(settings, "runtime.yawn_mar_gate=0.5"))
    assert moved.yawn_gate.center == 0.5
    # the yawn decision threshold: the model's, unless the settings name one
    spec_path.write_text(json.dumps(spec | {"threshold": 0.2}))
    assert make_estimator(settings).cnn.yawn.threshold == 0.2
    assert make_estimator(settings).versions()["yawn_threshold"] == "0.2"
    back = apply_override(settings, "runtime.yawn_model_threshold=0.5")
    assert make_estimator(back).cnn.yawn.threshold == 0.5
    cnn_only = apply_override(back, "runtime.estimator=cnn")
    assert make_estimator(cnn_only).yawn.threshold == 0.5
    with pytest.raises(UserError, match="yawn_model_threshold"):
        apply_override(settings, "runtime.yawn_model_threshold=1.5")
    spec["mar_gate"] = {"center": "wide"}
    spec_path.write_text(json.dumps(spec))
    with pytest.raises(ModelError, match="malformed mar_gate"):
        Ensemble(root / "yawn")


class _CountingCnn:
    """Stands in for the CNN ensembles: fixed answers, counted calls."""

    name, provider = "stub", "none"

    def __init__(self, p_yawn: float) -> None:
        self.p_yawn = p_yawn
        self.yawn_calls = 0

    def eyes_closed(self, obs):
        return 0.02, 0.02

    def yawning(self, obs):
        self.yawn_calls += 1
        return self.p_yawn


def test_yawn_network_is_skipped_only_where_the_gate_decides_alone():
    """Lips together: the MAR gate caps the yawn probability below 0.01 whatever the network
    says, so the network is not run; an open mouth runs it and gets gate x network."""
    from drowsy.contracts import FaceObservation
    from drowsy.state.estimator import GeometricEstimator

    cnn = _CountingCnn(p_yawn=0.99)  # an ensemble fooled by a sandwich
    est = FusedEstimator(
        cnn, GeometricEstimator(Settings().signals), EyeFusion(2.0, 0.1, -2.0), MarGate(0.3)
    )

    def obs(mar):
        return FaceObservation(present=True, ear_left=0.3, ear_right=0.3, mar=mar)

    closed = est.estimate(obs(0.05), Calibration()).yawn
    assert cnn.yawn_calls == 0 and closed < 0.01
    assert closed == pytest.approx(MarGate(0.3).gate(0.05))  # the product's upper bound
    wide = est.estimate(obs(0.6), Calibration()).yawn
    assert cnn.yawn_calls == 1 and wide == pytest.approx(0.99 * MarGate(0.3).gate(0.6))
    ungated = FusedEstimator(
        cnn, GeometricEstimator(Settings().signals), EyeFusion(2.0, 0.1, -2.0), None
    )
    assert ungated.estimate(obs(0.05), Calibration()).yawn == pytest.approx(0.99)
    assert cnn.yawn_calls == 2
