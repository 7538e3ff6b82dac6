"""Temporal model: fixed-rate steps, gaps and jumps, the simulator, training, export and the
runtime wrapper."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drowsy.contracts import Calibration
from drowsy.temporal.features import FEATURES
from tests.helpers import signals_at


@pytest.fixture(scope="module")
def tiny_temporal(tmp_path_factory):
    pytest.importorskip("torch")
    from training.temporal.simulator import NoiseModel
    from training.temporal.train import TemporalConfig, export, train_temporal

    cfg = TemporalConfig(
        window_s=5.0,
        pretrain_steps=60,
        train_steps=60,
        n_train=64,
        n_val=32,
        n_test=32,
        n_onset=1,
        batch_size=16,
    )
    real = np.random.default_rng(0).random((8, cfg.window, len(FEATURES))).astype(np.float32)
    results = train_temporal(cfg, NoiseModel(), real)
    folder = tmp_path_factory.mktemp("models") / "temporal"
    info = export(results.pop("model"), folder / "temporal.onnx", cfg, {}, "test")
    return folder, results, info


def test_training_runs_and_compares_with_rules(tiny_temporal):
    _, results, info = tiny_temporal
    assert set(results["variants"]) == {"pretrained", "scratch"}
    assert results["pretrain_loss"][1] < results["pretrain_loss"][0]
    assert set(results["test"]) == {"n", "gru", "rules"}
    assert info["parity_max_abs_diff"] < 1e-4


def test_runtime_temporal_model_gives_scores_and_attention(tiny_temporal):
    from drowsy.inference.temporal import TemporalModel

    folder, _, _ = tiny_temporal
    model = TemporalModel(folder / "temporal.onnx", cadence_s=1.0)
    cal = Calibration(done=True, ear_open_left=0.3, ear_open_right=0.3)
    state = None
    for i in range(60):  # 6 s at 10 fps, closed eyes
        state = model.update(signals_at(i / 10, i, closed=0.95), cal)
    assert state is not None and 0 <= state.drowsiness <= 1 and 0 <= state.distraction <= 1
    assert len(state.attention) == 5 and sum(state.attention) == pytest.approx(1.0, abs=1e-3)
    meta = model.model.info.meta.extra
    assert json.loads(meta["features"]) == list(FEATURES)


def test_pipeline_writes_temporal_scores(tiny_temporal, tmp_path, face_video):
    import csv
    import shutil

    from drowsy.cli import main
    from tests.onnx_fixtures import write_models_dir

    folder, _, _ = tiny_temporal
    root = write_models_dir(tmp_path / "models")
    shutil.copytree(folder, root / "temporal")
    assert (
        main(
            [
                "analyze",
                str(face_video),
                "--out",
                str(tmp_path / "out"),
                "--log",
                str(tmp_path / "l.db"),
                "-q",
                "--set",
                "runtime.estimator=cnn",
                "--set",
                f'runtime.models_dir="{root}"',
            ]
        )
        == 0
    )
    rows = list(csv.DictReader((tmp_path / "out" / face_video.stem / "frames.csv").open()))
    scored = [r for r in rows if r["drowsiness"] != ""]
    assert len(scored) > len(rows) // 2
    summary = json.loads((tmp_path / "out" / face_video.stem / "summary.json").read_text())
    assert summary["models"]["temporal"] == "test"


def test_simulator_regimes_differ_as_published():
    from training.temporal.simulator import ALERT, DISTRACTED, DROWSY, NoiseModel, simulate

    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    noise = NoiseModel()
    closed = {
        r: np.mean([(simulate(60, reg, rng, noise)[:, 0] > 0.5).mean() for _ in range(8)])
        for r, reg in (("alert", ALERT), ("drowsy", DROWSY))
    }
    assert closed["drowsy"] > 0.15 > closed["alert"]
    off = np.mean([simulate(60, DISTRACTED, rng, noise)[:, 7].mean() for _ in range(8)])
    assert off > 0.25
