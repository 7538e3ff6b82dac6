"""Drawing the pipeline's view of the driver onto a frame: landmarks, crop boxes, head-pose
axes and gaze direction. Plain OpenCV so the GUI, reports and tests share it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from drowsy.contracts import FaceObservation
from drowsy.vision.crops import REGIONS, region_matrix
from drowsy.vision.landmarks import NOSE_TIP
from drowsy.vision.pose import camera_matrix, euler_to_rotation


@dataclass(frozen=True)
class OverlayOptions:
    """Which tracker overlays to draw on the video (landmarks, crop boxes, head-pose axes, gaze)."""

    landmarks: bool = True
    crops: bool = True
    pose: bool = True
    gaze: bool = True


def draw(
    image: np.ndarray, obs: FaceObservation, opts: OverlayOptions = OverlayOptions()
) -> np.ndarray:
    out = image.copy()
    if not obs.present or obs.landmarks is None:
        return out
    pts = obs.landmarks[:, :2]
    if opts.landmarks:
        for x, y in pts[::3]:
            cv2.circle(out, (int(x), int(y)), 1, (0, 220, 255), -1, cv2.LINE_AA)
    if opts.crops:
        for name, spec in REGIONS.items():
            m = region_matrix(obs.landmarks, name)
            s = spec.size - 1
            corners = np.array([[0, 0, 1], [s, 0, 1], [s, s, 1], [0, s, 1]], np.float64) @ m.T
            colour = (0, 255, 0) if name != "face" else (255, 200, 0)
            cv2.polylines(out, [corners.astype(np.int32)], True, colour, 1, cv2.LINE_AA)
    nose = pts[NOSE_TIP]
    h, w = image.shape[:2]
    if opts.pose and obs.pose is not None:
        rot = euler_to_rotation(obs.pose.yaw, obs.pose.pitch, obs.pose.roll)
        rvec, _ = cv2.Rodrigues(rot)
        length = 0.6 * (obs.quality.iod_px if obs.quality else 60) / 63 * 60
        axes = np.array([[length, 0, 0], [0, -length, 0], [0, 0, -length]], np.float64)
        proj, _ = cv2.projectPoints(
            axes, rvec, np.array([0.0, 0.0, 600.0]), camera_matrix(w, h), None
        )
        origin, _ = cv2.projectPoints(
            np.zeros((1, 3)), rvec, np.array([0.0, 0.0, 600.0]), camera_matrix(w, h), None
        )
        base = proj[:, 0] - origin[0, 0] + nose
        for end, colour in zip(base, ((0, 0, 255), (0, 255, 0), (255, 0, 0)), strict=True):
            cv2.line(
                out,
                (int(nose[0]), int(nose[1])),
                (int(end[0]), int(end[1])),
                colour,
                2,
                cv2.LINE_AA,
            )
    if opts.gaze and obs.gaze is not None:
        length = 2.0 * (obs.quality.iod_px if obs.quality else 60)
        dx = length * np.sin(np.radians(obs.gaze.yaw))
        dy = -length * np.sin(np.radians(obs.gaze.pitch))
        mid = (obs.landmarks[468, :2] + obs.landmarks[473, :2]) / 2
        cv2.arrowedLine(
            out,
            (int(mid[0]), int(mid[1])),
            (int(mid[0] + dx), int(mid[1] + dy)),
            (255, 0, 255),
            2,
            cv2.LINE_AA,
            tipLength=0.15,
        )
    return out


def attention_strip(weights: list[float], width: int = 640, height: int = 60) -> np.ndarray:
    """The temporal model's attention over its window as a heat strip (oldest left): when in
    the window the evidence for the alert was."""
    w = np.asarray(weights, np.float32)
    w = w / w.max() if w.max() > 0 else w
    strip = cv2.resize(
        (w[None, :] * 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
    )
    img = cv2.applyColorMap(strip, cv2.COLORMAP_INFERNO)
    cv2.putText(
        img,
        f"attention over the last {len(weights)} s (now at right)",
        (6, 16),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return img
