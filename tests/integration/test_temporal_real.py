"""The temporal model's real sequences: which windows are labelled drowsy or alert, that the
windows match what the runtime scores, that real windows move the model, and that the replay
counts alerts the way the runtime raises them."""

from __future__ import annotations

import numpy as np
import pytest

from drowsy.contracts import Calibration
from drowsy.settings import Settings
from tests.helpers import sequence

pytest.importorskip("torch")

from training.temporal.real import (
    Recording,
    fit_with_real,
    replay,
    scored_windows,
    window_labels,
)
from training.temporal.simulator import NoiseModel
from training.temporal.train import TemporalConfig, export


def test_windows_are_drowsy_only_inside_a_stretch_and_alert_only_far_from_one():
    t = np.array([10.0, 29.0, 30.5, 31.0, 45.0, 46.0, 65.0, 66.0])
    y = window_labels(t, [(30.0, 40.0)], window_s=20.0)
    # before: alert; the first second of the stretch: left out; inside up to 5 s after: drowsy;
    # a window still holding part of the stretch: left out; clear of it: alert again
    assert y.tolist() == [0, 0, -1, 1, 1, -1, -1, 0]


def recording(closed_from: float | None, seconds: float = 40.0, fps: float = 10.0) -> Recording:
    def state(t: float) -> dict:
        if closed_from is not None and t >= closed_from:
            return {"closed": 0.95}
        return {"usable": not 12.0 <= t < 14.0}  # two seconds without a face

    sigs = sequence(seconds, fps, state)
    stretches = [] if closed_from is None else [(closed_from, seconds)]
    return Recording("synthetic", sigs, [Calibration()] * len(sigs), stretches)


def test_scored_windows_follow_the_runtime_cadence_and_withholding():
    x, t = scored_windows(recording(None), window=50)
    assert len(x) == len(t) and x.shape[1:] == (50, 10)
    gaps = np.diff(t)
    assert (gaps >= 1.0 - 1e-6).all()  # at most one a second
    assert not ((t >= 12.0) & (t < 14.0)).any()  # no window scored on a frame without a face
    assert t[0] == pytest.approx(2.4)  # half the window filled first: steps 0.0..2.4 s


@pytest.fixture(scope="module")
def small_cfg():
    return TemporalConfig(window_s=5.0, train_steps=150, n_train=64, batch_size=16)


def test_real_drowsy_windows_raise_the_models_score_on_them(small_cfg):
    cfg = small_cfg
    rec = recording(closed_from=20.0)
    x, t = scored_windows(rec, cfg.window)
    y = window_labels(t, rec.stretches, cfg.window_s)
    keep = y >= 0
    xr, yr = x[keep], y[keep].astype(np.float32)
    # the same recording with the labels flipped: the model must follow the real labels
    with_real = fit_with_real(cfg, NoiseModel(), xr, yr)
    flipped = fit_with_real(cfg, NoiseModel(), xr, 1 - yr)
    import torch

    drowsy = torch.from_numpy(xr[yr == 1])
    with torch.no_grad():
        a = with_real(drowsy)[0][:, 0].mean().item()
        b = flipped(drowsy)[0][:, 0].mean().item()
    assert a > b + 0.2


def test_replay_counts_the_temporal_alerts_the_runtime_raises(small_cfg, tmp_path):
    cfg = small_cfg
    rec = recording(closed_from=10.0, seconds=60.0)
    x, t = scored_windows(rec, cfg.window)
    y = window_labels(t, rec.stretches, cfg.window_s)
    model = fit_with_real(cfg, NoiseModel(), x[y >= 0], y[y >= 0].astype(np.float32))
    path = tmp_path / "t.onnx"
    export(model, path, cfg, {}, "test")
    run = replay(rec, path, Settings())
    # the windows training sees are the ones the runtime scores, at the same times
    from drowsy.inference.temporal import TemporalModel

    tm, times = TemporalModel(path, threads=1), []
    for s, cal in zip(rec.signals, rec.calibrations, strict=True):
        state = tm.update(s, cal)
        if state is not None and (not times or state.timestamp_s != times[-1]):
            times.append(state.timestamp_s)
    assert np.allclose(times, t)
    assert run["seconds"] == pytest.approx(59.9)
    assert run["peak_drowsiness"] > 0.9
    # raised once, inside the closed stretch, after the 5 s the alert must hold
    assert len(run["raised_s"]) == 1 and run["raised_s"][0] >= 10.0


def test_the_card_says_whether_the_real_model_ships():
    from training.temporal.build import real_section

    def block(hits: int, false: int) -> dict:
        drivers = {
            "P1": {
                "temporal_stretches": 2,
                "temporal_hits": hits,
                "temporal_delays_s": [3.0] * hits,
                "temporal_false_alerts": false,
            }
        }
        delay = 3.0 if hits else None
        return {
            "drivers": drivers,
            "stretches": 2,
            "alerted": hits,
            "recall": hits / 2,
            "delay_s_median": delay,
            "false_alerts": false,
        }

    awake = {"v": {"raised_s": [], "peak_drowsiness": 0.1, "seconds": 60.0}}
    real = {
        "oof": {"candidate": block(2, 0), "shipped": block(1, 0)},
        "awake": {"candidate": awake, "shipped": awake},
        "final_windows": {"windows": 100, "drowsy_windows": 20},
        "final_test": block(1, 0),
        "ships": True,
        "minutes": 3.0,
    }
    text = real_section(real)
    assert "**ships**" in text and "| with real sequences | 2 / 2 | 3.0 | 0 |" in text
    assert "| simulator only (shipped before) | 1 / 2 | 3.0 | 0 |" in text
    assert "did not pass" in real_section(real | {"ships": False})


def test_development_drivers_come_from_the_people_build_beside_the_models(tmp_path):
    import json

    from training.errors import TrainingError
    from training.temporal.real import development_drivers

    with pytest.raises(TrainingError, match=r"people_results\.json: missing"):
        development_drivers(tmp_path)
    folds = {"f0": ["fl3d:P1"], "f1": ["fl3d:P2"], "f2": []}
    (tmp_path / "people_results.json").write_text(json.dumps({"fold_models": folds}))
    assert development_drivers(tmp_path) == {"P1": 0, "P2": 1}
