"""Assemble :class:`FrameSignals` from an observation, probabilities and the calibration."""

from __future__ import annotations

from drowsy.contracts import (
    Calibration,
    FaceObservation,
    FrameSignals,
    Gaze,
    StateProbabilities,
)
from drowsy.settings import GazeSettings


def on_road(gaze: Gaze, calibration: Calibration, settings: GazeSettings) -> bool:
    """Gaze within the road cone around the driver's calibrated neutral gaze. The cone is
    wider downward than upward by default: the mirror and sky are rarely looked at, the cluster
    and a phone on the lap are."""
    dy = gaze.yaw - calibration.gaze_yaw
    dp = gaze.pitch - calibration.gaze_pitch
    return (
        abs(dy) <= settings.yaw_limit_deg
        and -settings.pitch_down_limit_deg <= dp <= settings.pitch_up_limit_deg
    )


def build_signals(
    index: int,
    timestamp_s: float,
    obs: FaceObservation,
    probs: StateProbabilities | None,
    calibration: Calibration,
    gaze_settings: GazeSettings,
) -> FrameSignals:
    q, pose, gaze = obs.quality, obs.pose, obs.gaze
    usable = bool(obs.present and q is not None and q.usable)
    ear = None
    if obs.ear_left is not None and obs.ear_right is not None:
        ear = 0.5 * (obs.ear_left + obs.ear_right)
    return FrameSignals(
        index=index,
        timestamp_s=timestamp_s,
        face_present=obs.present,
        usable=usable,
        eye_closed_left=probs.eye_closed_left if probs else None,
        eye_closed_right=probs.eye_closed_right if probs else None,
        yawn=probs.yawn if probs else None,
        ear=ear,
        mar=obs.mar,
        yaw=pose.yaw if pose else None,
        pitch=pose.pitch if pose else None,
        roll=pose.roll if pose else None,
        gaze_yaw=gaze.yaw if gaze else None,
        gaze_pitch=gaze.pitch if gaze else None,
        # Unknown until calibrated: an off-axis camera would otherwise read as looking away.
        on_road=(
            on_road(gaze, calibration, gaze_settings)
            if (gaze and usable and calibration.done)
            else None
        ),
        iod_px=q.iod_px if q else None,
        sharpness=q.sharpness if q else None,
        brightness=q.brightness if q else None,
        calibrated=calibration.done,
        probability_source=probs.source if probs else "none",
    )
