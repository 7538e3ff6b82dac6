"""Temporal model: fixed-rate steps, gaps and jumps, the simulator, training, export and the
runtime wrapper."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drowsy.contracts import Calibration
from drowsy.temporal.features import FEATURES, StepBuffer, frame_vector, resample
from tests.helpers import signals_at


def test_steps_do_not_depend_on_frame_rate():
    rng = np.random.default_rng(0)
    for fps in (6.0, 15.0, 30.0):
        times = np.arange(0, 10, 1 / fps)
        steps = resample(times, rng.random((len(times), len(FEATURES))).astype(np.float32), 0)
        assert abs(len(steps) - 100) <= 1, fps


def test_a_frame_rate_change_mid_video_keeps_the_step_rate():
    times = np.concatenate([np.arange(0, 5, 1 / 30), np.arange(5, 10, 1 / 7.5)])
    steps = resample(times, np.ones((len(times), len(FEATURES)), np.float32), 0)
    assert abs(len(steps) - 100) <= 1
    assert steps[:, 0].min() == 1.0  # 7.5 fps frames are held over the gaps between them


def test_gaps_become_empty_steps_and_jumps_reset():
    buf = StepBuffer(window=100, max_hold_s=0.5, reset_s=5.0)
    one = np.ones(len(FEATURES), np.float32)
    buf.push(0.0, one)
    buf.push(2.0, one)  # 2 s without frames: held 0.5 s, then empty
    arr, n = buf.array()
    real = arr[100 - n :]
    assert n == 21
    assert real[:6, 0].min() == 1.0 and real[6:20, 0].max() == 0.0 and real[20, 0] == 1.0
    buf.push(10.0, one)  # a jump of 8 s: start afresh
    assert buf.resets == 1 and buf.array()[1] == 1


def test_frame_vector_is_relative_to_calibration():
    s = signals_at(1.0, 10, closed=0.9, on_road=False)
    cal = Calibration(neutral_yaw=0.0, ear_open_left=0.3, ear_open_right=0.3, done=True)
    v = frame_vector(s, cal)
    assert v[FEATURES.index("eye_closed")] == pytest.approx(0.9)
    assert v[FEATURES.index("ear_rel")] == pytest.approx(1.0)
    assert v[FEATURES.index("off_road")] == 1.0
    missing = frame_vector(signals_at(1.0, 10, usable=False), cal)
    assert missing.sum() == 0.0


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
    meta = model.model.info.extra
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
