"""Temporal model: fixed-rate steps, gaps and jumps, the simulator, training, export and the
runtime wrapper."""

from __future__ import annotations

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
