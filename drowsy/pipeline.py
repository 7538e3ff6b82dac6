"""The per-frame pipeline: tracker -> calibration -> state probabilities -> signals -> alerts.

Live monitor, ``analyze`` and ``evaluate`` all drive this one class, so they cannot drift apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from drowsy.alerts.engine import AlertEngine, EngineStatus
from drowsy.contracts import (
    AlertAction,
    AlertUpdate,
    DriverState,
    FaceObservation,
    Frame,
    FrameSignals,
)
from drowsy.inference.ensemble import CnnEstimator
from drowsy.inference.explain import Explainer, Explanation, network_decides
from drowsy.inference.factory import make_estimator, make_temporal
from drowsy.overlays import draw
from drowsy.settings import Settings
from drowsy.state.calibration import Calibrator
from drowsy.state.estimator import StateEstimator
from drowsy.state.signals import build_signals
from drowsy.vision.tracker import FaceTracker, Located, TrackerOptions


def overlay_view(frame: Frame, obs: FaceObservation) -> np.ndarray:
    """The frame with the tracker's overlays, cut to the face (whole frame without a face)."""
    image = draw(frame.image, obs)
    if obs.bbox is None:
        return image
    h, w = image.shape[:2]
    x0, y0, x1, y1 = obs.bbox
    pad = 0.6 * max(x1 - x0, y1 - y0)
    return image[
        max(0, int(y0 - pad)) : min(h, int(y1 + pad)), max(0, int(x0 - pad)) : min(w, int(x1 + pad))
    ].copy()


@dataclass(frozen=True, slots=True)
class FrameResult:
    """Everything the pipeline made of one frame: observation, signals, temporal state, alert
    updates, status, timings, explanations."""

    frame: Frame
    observation: FaceObservation
    signals: FrameSignals
    state: DriverState | None
    updates: list[AlertUpdate]
    status: EngineStatus
    timings_ms: dict[str, float] = field(default_factory=dict)
    # alert uid -> Grad-CAM explanation made on this frame (raise) or of the alert's peak (end)
    explanations: dict[int, Explanation] = field(default_factory=dict)
    # why the temporal model gave this frame no score ("no_face", "head_roll", "filling",
    # "sparse_face"); None when it scored it or does not run
    temporal_withheld: str | None = None


@dataclass(frozen=True, slots=True)
class Observed:
    """A frame after the face mesh: the first stage, which may run ahead in its own thread."""

    frame: Frame
    located: Located


class Pipeline:
    """``process(frame) -> FrameResult`` for frames in time order; ``finish()`` at the end.

    ``process`` = ``decide(observe(frame))``: the face mesh stage and everything after it
    (crops, models, alerts) can run in different threads, as the session runner does for
    recorded video."""

    def __init__(
        self,
        settings: Settings,
        estimator: StateEstimator | None = None,
        static_images: bool = False,
        live: bool = False,
    ) -> None:
        self.settings = settings
        self.tracker = FaceTracker(
            TrackerOptions(settings.tracker, settings.quality, settings.gaze, static_images, live)
        )
        self.estimator = estimator or make_estimator(settings)
        self.calibrator = Calibrator(settings.calibration)
        self.engine = AlertEngine(settings.alerts, settings.signals)
        self.temporal = make_temporal(settings)
        cnn = self.estimator if isinstance(self.estimator, CnnEstimator) else None
        cnn = cnn or getattr(self.estimator, "cnn", None)
        self.explainer = Explainer(cnn) if cnn is not None else None
        # alert uid -> (score, frame image, observation) of its strongest frame so far
        self._peaks: dict[int, tuple[float, np.ndarray, FaceObservation]] = {}

    @property
    def model_versions(self) -> dict[str, str]:
        temporal = self.temporal.version if self.temporal else "none"
        return {**self.estimator.versions(), "temporal": temporal}

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

    def reset(self) -> None:
        """Start a new stretch of the same stream (after a seek): fresh alert rules, temporal
        window and driver tracking, the same models and calibration. Call ``finish()`` first;
        alert uids continue so the log never confuses an old alert with a new one."""
        self.tracker.reset()
        self.engine = AlertEngine(self.settings.alerts, self.settings.signals, self.engine.last_uid)
        if self.temporal is not None:
            self.temporal.reset()
        self._peaks.clear()

    def process(self, frame: Frame) -> FrameResult:
        return self.decide(self.locate(frame))

    def locate(self, frame: Frame) -> Observed:
        """The face mesh and the driver checks: the part that depends on earlier frames, which
        the session may run ahead in a thread of its own."""
        return Observed(frame, self.tracker.locate(frame))

    def decide(self, observed: Observed) -> FrameResult:
        frame = observed.frame
        obs = self.tracker.measure(observed.located)
        timings = dict(self.tracker.timings_ms)
        started = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal started
            now = time.perf_counter()
            timings[stage] = (now - started) * 1e3
            started = now

        calibration = self.calibrator.update(frame.timestamp_s, obs)
        probs = self.estimator.estimate(obs, calibration) if obs.present else None
        lap("models")
        signals = build_signals(
            frame.index, frame.timestamp_s, obs, probs, calibration, self.settings.gaze
        )
        started = time.perf_counter()
        state = self.temporal.update(signals, calibration) if self.temporal else None
        lap("temporal")
        updates = self.engine.update(signals, state)
        lap("alerts")
        explanations = self._explain(frame, obs, signals, updates)
        if explanations:
            lap("explain")
        status = replace(self.engine.status)  # a snapshot: the engine keeps mutating its own
        withheld = self.temporal.withheld if self.temporal else None
        return FrameResult(
            frame, obs, signals, state, updates, status, timings, explanations, withheld
        )

    def _explain(
        self, frame: Frame, obs: FaceObservation, s: FrameSignals, updates: list[AlertUpdate]
    ) -> dict[int, Explanation]:
        """Grad-CAM for alerts raised on this frame and for the peak frame of alerts that end;
        remembers each active alert's strongest frame on the way (a reference, no copy).
        Alerts no network decided (distraction from head pose and gaze, a lost face) get the
        frame with the tracker's overlays instead: landmarks, head-pose axes, gaze."""
        out: dict[int, Explanation] = {}
        for u in updates:
            if u.action is AlertAction.RAISED and not network_decides(u.alert.kind):
                out[u.alert.uid] = Explanation("raise", {"raise_overlay": overlay_view(frame, obs)})
        if self.explainer is None:
            return out
        score = max(s.eye_closed or 0.0, s.yawn or 0.0)
        for alert in self.engine.active.values():
            if network_decides(alert.kind) and obs.present:
                best = self._peaks.get(alert.uid)
                if best is None or score > best[0]:
                    self._peaks[alert.uid] = (score, frame.image, obs)
        for u in updates:
            kind = u.alert.kind
            if not network_decides(kind):
                continue
            if u.action is AlertAction.RAISED:
                exp = self.explainer.explain(kind, frame.image, obs, "raise")
            elif u.action is AlertAction.ENDED and u.alert.uid in self._peaks:
                _, image, peak_obs = self._peaks.pop(u.alert.uid)
                exp = self.explainer.explain(kind, image, peak_obs, "peak")
            else:
                continue
            if exp is not None:
                out[u.alert.uid] = exp
        return out

    def finish(self) -> tuple[list[AlertUpdate], dict[int, Explanation]]:
        """End every active alert (end of stream); returns the updates and the peak-frame
        explanations of the alerts it ended."""
        updates = self.engine.finish()
        explanations: dict[int, Explanation] = {}
        if self.explainer is not None:
            for u in updates:
                if u.alert.uid in self._peaks:
                    _, image, obs = self._peaks[u.alert.uid]
                    exp = self.explainer.explain(u.alert.kind, image, obs, "peak")
                    if exp is not None:
                        explanations[u.alert.uid] = exp
        self._peaks.clear()
        return updates, explanations
