"""No face is no evidence: the shipped temporal model scores only frames it has inputs for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drowsy.alerts.engine import AlertEngine
from drowsy.contracts import AlertKind, Calibration, DriverState
from drowsy.inference.factory import SHIPPED_MODELS
from drowsy.inference.temporal import MAX_ROLL_DEG, TemporalModel
from drowsy.settings import Settings
from tests.helpers import signals_at

CAL = Calibration(done=True, ear_open_left=0.3, ear_open_right=0.3)
FPS = 30


@pytest.fixture
def model() -> TemporalModel:
    path = SHIPPED_MODELS / "temporal" / "temporal.onnx"
    if not path.is_file():
        pytest.skip("no shipped temporal model")
    return TemporalModel(path, cadence_s=1.0)


def feed(model: TemporalModel, start_s: float, seconds: float, **kw):
    out = []
    roll = kw.pop("roll", 0.0)
    for i in range(int(seconds * FPS)):
        t = start_s + i / FPS
        sig = replace(
            signals_at(t, int(t * FPS), **kw), roll=roll if kw.get("usable", True) else None
        )
        out.append((model.update(sig, CAL), model.withheld))
    return out


def test_frames_without_a_face_get_no_score(model):
    awake = feed(model, 0.0, 15.0)
    assert awake[-1][0] is not None and awake[-1][1] is None  # scored once the window filled
    gone = feed(model, 15.0, 12.0, usable=False)
    assert all(state is None and why == "no_face" for state, why in gone)


def test_after_a_long_gap_the_window_must_refill_with_face_before_scoring(model):
    feed(model, 0.0, 15.0)
    feed(model, 15.0, 12.0, usable=False)  # 12 of the window's 20 s are empty now
    back = feed(model, 27.0, 3.0)
    assert all(state is None and why == "sparse_face" for state, why in back)
    later = feed(model, 30.0, 8.0)  # 11 s of face in the last 20 s: half the window
    assert later[-1][0] is not None


def test_a_head_rolled_like_a_sideways_camera_is_out_of_range(model):
    rolled = feed(model, 0.0, 40.0, roll=92.0)
    assert all(state is None and why == "head_roll" for state, why in rolled)
    tilted = feed(model, 40.0, 25.0, roll=MAX_ROLL_DEG - 5)
    assert tilted[-1][0] is not None


def test_a_temporal_alert_ends_when_the_evidence_goes():
    settings = Settings()
    engine = AlertEngine(settings.alerts, settings.signals)
    t, raised = 0.0, False
    for i in range(8 * FPS):  # a confident drowsy score for 8 s
        t = i / FPS
        ups = engine.update(signals_at(t, i), DriverState(t, 0.99, 0.0))
        raised |= any(u.alert.kind is AlertKind.DROWSY_TEMPORAL for u in ups)
    assert raised and AlertKind.DROWSY_TEMPORAL in engine.active
    for i in range(FPS):  # then no state: no usable face
        t += 1 / FPS
        engine.update(signals_at(t, 8 * FPS + i, usable=False), None)
    assert AlertKind.DROWSY_TEMPORAL not in engine.active
