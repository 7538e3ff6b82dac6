"""Head pose by solvePnP against a generic 3D face, and gaze from the irises plus head pose."""

from __future__ import annotations

import cv2
import numpy as np

from drowsy.contracts import Gaze, HeadPose
from drowsy.vision.landmarks import (
    CHIN,
    LEFT_EYE_CORNERS,
    LEFT_IRIS_CENTER,
    MOUTH_CORNERS,
    NOSE_TIP,
    RIGHT_EYE_CORNERS,
    RIGHT_IRIS_CENTER,
)

# Generic adult face in millimetres, camera-style axes (x to the image's right, y down, z away
# from the camera), nose tip at the origin. Proportions from anthropometric averages (outer
# canthal width ~92 mm, mouth width ~48 mm), depths matched to the relative depths MediaPipe's
# mesh reports for frontal faces. A driver's own deviation from it is absorbed by calibration.
_MODEL_POINTS: dict[int, tuple[float, float, float]] = {
    NOSE_TIP: (0.0, 0.0, 0.0),
    CHIN: (0.0, 80.0, 32.0),
    RIGHT_EYE_CORNERS[0]: (-46.0, -42.0, 45.0),  # driver's right eye, outer corner
    RIGHT_EYE_CORNERS[1]: (-18.0, -42.0, 38.0),  # inner corner
    LEFT_EYE_CORNERS[0]: (46.0, -42.0, 45.0),
    LEFT_EYE_CORNERS[1]: (18.0, -42.0, 38.0),
    MOUTH_CORNERS[0]: (-24.0, 34.0, 30.0),
    MOUTH_CORNERS[1]: (24.0, 34.0, 30.0),
}
_MODEL_IDX = list(_MODEL_POINTS)
_MODEL = np.array([_MODEL_POINTS[i] for i in _MODEL_IDX], dtype=np.float64)

EYEBALL_RADIUS_MM = 12.0
HALF_EYE_WIDTH_MM = 15.0


def camera_matrix(width: int, height: int) -> np.ndarray:
    """Pinhole guess for an unknown webcam: focal length ~ image width (about 53 deg FOV)."""
    f = float(width)
    return np.array([[f, 0, width / 2.0], [0, f, height / 2.0], [0, 0, 1]], dtype=np.float64)


def rotation_to_euler(rot: np.ndarray) -> HeadPose:
    """Decompose R = Ry(yaw) Rx(pitch) Rz(roll) in camera axes into our sign convention."""
    # With R = Ry @ Rx @ Rz: R[1,2] = -sin(pitch_x); R[0,2] = sin(y)cos(x); R[2,2] = cos(y)cos(x)
    pitch_x = np.arcsin(-np.clip(rot[1, 2], -1.0, 1.0))
    yaw_y = np.arctan2(rot[0, 2], rot[2, 2])
    roll_z = np.arctan2(rot[1, 0], rot[1, 1])
    # Camera y points down: a face tilting up rotates about x by a negative angle.
    return HeadPose(
        yaw=float(np.degrees(-yaw_y)),
        pitch=float(np.degrees(-pitch_x)),
        roll=float(np.degrees(roll_z)),
    )


def euler_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Inverse of :func:`rotation_to_euler` (used by tests and the scenario renderer)."""
    y, p, r = np.radians([-yaw, -pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return ry @ rx @ rz


def model_points() -> tuple[list[int], np.ndarray]:
    """Landmark indices and their 3D model coordinates (mm)."""
    return list(_MODEL_IDX), _MODEL.copy()


def estimate_head_pose(landmarks: np.ndarray, width: int, height: int) -> HeadPose | None:
    """Head pose from 2D landmarks (pixels) by iterative PnP; None when PnP fails."""
    image_points = landmarks[_MODEL_IDX, :2].astype(np.float64)
    ok, rvec, _tvec = cv2.solvePnP(
        _MODEL, image_points, camera_matrix(width, height), None, flags=cv2.SOLVEPNP_SQPNP
    )
    if not ok:
        return None
    rot, _ = cv2.Rodrigues(rvec)
    return rotation_to_euler(rot)


def _eye_in_head(landmarks: np.ndarray, corners: tuple[int, int], iris: int) -> tuple[float, float]:
    """Iris offset from the eye centre, along and across the eye line, in eye half-widths,
    turned into eyeball rotation angles (degrees, + to the image's right and + up)."""
    a, b = landmarks[corners[0], :2], landmarks[corners[1], :2]
    center = (a + b) / 2.0
    axis = b - a
    half = np.hypot(*axis) / 2.0
    if half < 1e-6:
        return 0.0, 0.0
    ux = axis / (2.0 * half)
    if ux[0] < 0:  # make x point to the image's right for both eyes
        ux = -ux
    uy = np.array([-ux[1], ux[0]])  # image-down
    d = landmarks[iris, :2] - center
    hx, hy = float(d @ ux) / half, float(d @ uy) / half
    scale = HALF_EYE_WIDTH_MM / EYEBALL_RADIUS_MM
    yaw = np.degrees(np.arcsin(np.clip(hx * scale, -1.0, 1.0)))
    pitch = -np.degrees(np.arcsin(np.clip(hy * scale, -1.0, 1.0)))
    return float(yaw), float(pitch)


def estimate_gaze(landmarks: np.ndarray, pose: HeadPose, eye_weight: float = 1.0) -> Gaze:
    """Gaze = head pose + eye-in-head angle (mean of both irises), weighted by ``eye_weight``
    because iris landmarks get noisy on small, far faces."""
    ry, rp = _eye_in_head(landmarks, RIGHT_EYE_CORNERS, RIGHT_IRIS_CENTER)
    ly, lp = _eye_in_head(landmarks, LEFT_EYE_CORNERS, LEFT_IRIS_CENTER)
    eye_yaw, eye_pitch = (ry + ly) / 2.0, (rp + lp) / 2.0
    return Gaze(
        yaw=pose.yaw + eye_weight * eye_yaw,
        pitch=pose.pitch + eye_weight * eye_pitch,
        eye_yaw=eye_yaw,
        eye_pitch=eye_pitch,
    )


# Drivers tilt their heads by tens of degrees at most; a face rolled further than this for
# most of a recording means the camera (or the video's stored orientation) is sideways.
CAMERA_ROTATED_ROLL_DEG = 60.0


def camera_rotated(roll: float | None) -> bool:
    """True when a face's roll says the image is sideways or upside down, not the head."""
    return roll is not None and abs(roll) > CAMERA_ROTATED_ROLL_DEG
