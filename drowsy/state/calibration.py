"""Calibration phase: learn the driver's neutral head pose and open-eye EAR.

Why: cameras sit off-axis (a laptop on the passenger side looks at the driver from 20 degrees),
and glasses or narrow eyes lower the open-eye EAR. Fixed thresholds get both wrong; the first
seconds of a session tell us this driver's normal.
"""

from __future__ import annotations

import logging

import numpy as np

from drowsy.contracts import Calibration, FaceObservation
from drowsy.settings import CalibrationSettings

log = logging.getLogger(__name__)


class Calibrator:
    """Collects usable frames during the first ``duration_s`` seconds (of face time) and then
    freezes the reference. Robust statistics ignore blinks and glances: the median pose and
    the 75th percentile of each eye's EAR (eyes are open most of the time; the two eyes differ
    in a face turned slightly or behind a lens, so each gets its own)."""

    def __init__(self, settings: CalibrationSettings) -> None:
        self.settings = settings
        self._yaw: list[float] = []
        self._pitch: list[float] = []
        self._gaze: list[tuple[float, float]] = []
        self._ear: list[tuple[float, float]] = []  # (left, right)
        self._first_t: float | None = None
        self.result = Calibration(done=settings.duration_s == 0)

    def update(self, timestamp_s: float, obs: FaceObservation) -> Calibration:
        if self.result.done:
            return self.result
        usable = obs.present and obs.quality is not None and obs.quality.usable
        if (
            usable
            and obs.pose is not None
            and obs.gaze is not None
            and obs.ear_left is not None
            and obs.ear_right is not None
        ):
            if self._first_t is None:
                self._first_t = timestamp_s
            self._yaw.append(obs.pose.yaw)
            self._pitch.append(obs.pose.pitch)
            self._gaze.append((obs.gaze.yaw, obs.gaze.pitch))
            self._ear.append((obs.ear_left, obs.ear_right))
        enough = len(self._ear) >= self.settings.min_samples
        if (
            enough
            and self._first_t is not None
            and timestamp_s - self._first_t >= self.settings.duration_s
        ):
            self.result = self._finish()
        elif enough and usable:
            # Eye baselines are usable early (blinks in the first seconds count too); the
            # neutral gaze is not, so distraction rules keep waiting for ``done``.
            left, right = self._ear_open()
            self.result = Calibration(
                ear_open_left=left, ear_open_right=right, samples=len(self._ear)
            )
        return self.result

    def _ear_open(self) -> tuple[float, float]:
        ears = np.asarray(self._ear)
        return float(np.percentile(ears[:, 0], 75)), float(np.percentile(ears[:, 1], 75))

    def _finish(self) -> Calibration:
        yaw, pitch = float(np.median(self._yaw)), float(np.median(self._pitch))
        gaze_yaw, gaze_pitch = (float(v) for v in np.median(np.array(self._gaze), axis=0))
        limit = self.settings.max_neutral_offset_deg
        if max(abs(yaw), abs(pitch), abs(gaze_yaw), abs(gaze_pitch)) > limit:
            log.warning(
                "calibration: neutral head (yaw %.1f, pitch %.1f) or gaze (yaw %.1f, pitch %.1f)"
                " is beyond %.0f deg; keeping straight ahead as neutral",
                yaw,
                pitch,
                gaze_yaw,
                gaze_pitch,
                limit,
            )
            yaw = pitch = gaze_yaw = gaze_pitch = 0.0
        left, right = self._ear_open()
        return Calibration(
            neutral_yaw=yaw,
            neutral_pitch=pitch,
            gaze_yaw=gaze_yaw,
            gaze_pitch=gaze_pitch,
            ear_open_left=left,
            ear_open_right=right,
            done=True,
            samples=len(self._ear),
        )
