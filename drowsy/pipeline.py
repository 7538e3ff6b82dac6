"""The per-frame pipeline: tracker -> calibration -> state probabilities -> signals -> alerts.

Live monitor, ``analyze`` and ``evaluate`` all drive this one class, so they cannot drift apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from drowsy.alerts.engine import AlertEngine, EngineStatus
from drowsy.contracts import (
    AlertUpdate,
    DriverState,
    FaceObservation,
    Frame,
    FrameSignals,
)
from drowsy.settings import Settings
from drowsy.state.calibration import Calibrator
from drowsy.state.estimator import StateEstimator, make_estimator
from drowsy.state.signals import build_signals
from drowsy.vision.tracker import FaceTracker, TrackerOptions


@dataclass(frozen=True, slots=True)
class FrameResult:
    frame: Frame
    observation: FaceObservation
    signals: FrameSignals
    state: DriverState | None
    updates: list[AlertUpdate]
    status: EngineStatus
    timings_ms: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """``process(frame) -> FrameResult`` for frames in time order; ``finish()`` at the end."""

    def __init__(
        self,
        settings: Settings,
        estimator: StateEstimator | None = None,
        static_images: bool = False,
    ) -> None:
        self.settings = settings
        self.tracker = FaceTracker(
            TrackerOptions(settings.tracker, settings.quality, settings.gaze, static_images)
        )
        self.estimator = estimator or make_estimator(settings)
        self.calibrator = Calibrator(settings.calibration)
        self.engine = AlertEngine(settings.alerts, settings.signals)

    @property
    def model_versions(self) -> dict[str, str]:
        return {**self.estimator.versions(), "temporal": "none"}

    @property
    def provider(self) -> str:
        return self.estimator.provider

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.tracker.close()
        self.estimator.close()

    def process(self, frame: Frame) -> FrameResult:
        obs = self.tracker.process(frame)
        timings = dict(self.tracker.timings_ms)
        t0 = time.perf_counter()
        calibration = self.calibrator.update(frame.timestamp_s, obs)
        probs = self.estimator.estimate(obs, calibration) if obs.present else None
        t1 = time.perf_counter()
        signals = build_signals(
            frame.index, frame.timestamp_s, obs, probs, calibration, self.settings.gaze
        )
        updates = self.engine.update(signals, None)
        t2 = time.perf_counter()
        timings.update(models=(t1 - t0) * 1e3, alerts=(t2 - t1) * 1e3)
        status = replace(self.engine.status)  # a snapshot: the engine keeps mutating its own
        return FrameResult(frame, obs, signals, None, updates, status, timings)

    def finish(self) -> list[AlertUpdate]:
        return self.engine.finish()
