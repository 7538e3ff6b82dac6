"""Render a scenario script into a driving video plus its ground truth.

A real portrait is animated by its face-mesh landmarks: eyelids painted shut along the eye
contours, the head turned or nodded and the jaw dropped by a piecewise-affine warp
(:mod:`drowsy.scenario.warp`), the face slid out of view, the light dimmed, camera noise
added. MediaPipe keeps tracking such frames, and the models judge them like real ones (the
realism check in the tests measures both).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from drowsy.contracts import Frame
from drowsy.errors import UserError
from drowsy.scenario.script import Script, expected_alerts
from drowsy.scenario.warp import FaceMesh2D, render_face
from drowsy.settings import AlertSettings, Settings
from drowsy.sources import read_image

RENDER_VERSION = 3

# Right and left eye contours of the face mesh (upper lid then lower lid, corner to corner).
_EYE_CONTOURS = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249),
)


def load_portrait(path: str | None) -> np.ndarray:
    if path is None:
        from skimage import data

        return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    image = read_image(Path(path))
    if image is None:
        raise UserError(f"portrait {path}: not a readable image")
    return image


def close_eyes(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The same face with both eyes shut: each eye region is filled with eyelid skin sampled
    above the eye, blended softly at the edges, with a thin lash line along the lower lid."""
    out = image.astype(np.float32)
    for contour in _EYE_CONTOURS:
        pts = landmarks[list(contour), :2]
        width = float(np.ptp(pts[:, 0]))
        center = pts.mean(axis=0)
        # eyelid skin: the median colour of a band just above the eye (a squinting smile
        # brings the dark brow close, so not far above, and the median ignores lashes)
        y = int(pts[:, 1].min() - 0.2 * width)
        x0, x1 = int(center[0] - width / 4), int(center[0] + width / 4)
        band = image[max(0, y - 2) : y + 3, x0:x1].reshape(-1, 3).astype(np.float32)
        skin = np.median(band, axis=0)
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
        k = max(3, int(width * 0.15) | 1)
        mask = cv2.dilate(mask, np.ones((k, k), np.uint8))
        soft = cv2.GaussianBlur(mask, (k, k), 0)[..., None] / 255.0
        out = out * (1 - soft) + skin * soft
        line = np.vstack([pts[:1], pts[9:][::-1], pts[8:9]])  # corner, lower lid, corner
        thickness = max(1, round(width / 30))
        cv2.polylines(
            out, [np.round(line).astype(np.int32)], False, (50, 40, 40), thickness, cv2.LINE_AA
        )
    return np.clip(out, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Actor:
    """A portrait prepared for animation: open- and closed-eye meshes and the head's box."""

    open_eyes: FaceMesh2D
    closed_eyes: FaceMesh2D
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of head and shoulders


@lru_cache(maxsize=4)
def actor(portrait: str | None) -> Actor:
    from drowsy.vision.tracker import FaceTracker, TrackerOptions

    image = load_portrait(portrait)
    s = Settings()
    with FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze, static_images=True)) as tr:
        obs = tr.process(Frame(image, 0.0, 0))
    if not obs.present or obs.landmarks is None:
        raise UserError(f"portrait {portrait or 'astronaut'}: no face found in it")
    lm = obs.landmarks
    h, w = image.shape[:2]
    x0, y0 = lm[:, :2].min(axis=0)
    x1, y1 = lm[:, :2].max(axis=0)
    fw, fh = x1 - x0, y1 - y0
    box = (
        max(0, int(x0 - 0.7 * fw)),
        max(0, int(y0 - 0.6 * fh)),
        min(w, int(x1 + 0.7 * fw)),
        min(h, int(y1 + 0.9 * fh)),
    )
    closed = close_eyes(image, lm)
    return Actor(FaceMesh2D.build(image, lm), FaceMesh2D.build(closed, lm), box)


def _ramp(t: float, start: float, end: float, rise: float) -> float:
    """0 outside [start, end], 1 inside, with linear ramps of ``rise`` seconds inside."""
    if t < start or t >= end:
        return 0.0
    return float(min(1.0, (t - start) / rise, (end - t) / rise)) if rise > 0 else 1.0


@dataclass(frozen=True)
class Pose:
    """The rendered actor's head and eye state at one moment of a scenario."""

    closed: bool = False
    yaw: float = 0.0
    pitch: float = 0.0
    mouth: float = 0.0
    away: float = 0.0  # 0 in view .. 1 fully out of the frame
    gain: float = 1.0


def pose_at(script: Script, t: float) -> Pose:
    closed, yaw, pitch, mouth, away, gain = False, 0.0, 0.0, 0.0, 0.0, 1.0
    for e in script.events:
        if e.kind in ("blink", "closure") and e.start_s <= t < e.end_s:
            closed = True
        elif e.kind == "glance":
            yaw += e.yaw_deg * _ramp(t, e.start_s, e.end_s, 0.25)
        elif e.kind == "nod":
            pitch += e.pitch_deg * _ramp(t, e.start_s, e.end_s, 0.25)
        elif e.kind == "yawn":
            mouth = max(mouth, 0.5 * _ramp(t, e.start_s, e.end_s, 0.4))
        elif e.kind == "away":
            away = max(away, _ramp(t, e.start_s, e.end_s, 0.5))
        elif e.kind == "lighting":
            gain *= 1.0 - (1.0 - e.gain) * _ramp(t, e.start_s, e.end_s, 0.5)
    return Pose(closed, yaw, pitch, mouth, away, gain)


def render(
    script: Script, path: Path, rules: AlertSettings | None = None, progress: bool = False
) -> Path:
    """Write the video (MJPG AVI) and ``<path>.truth.json`` (events and expected alerts);
    ``progress``: a bar on stderr (a first run renders the demo for ~20 s)."""
    cast = actor(script.portrait)
    w, h = script.size
    x0, y0, x1, y1 = cast.box
    zoom = 0.78 * h / (y1 - y0)
    rng = np.random.default_rng(RENDER_VERSION)
    background = np.full((h, w, 3), (70, 80, 90), np.uint8)
    cv2.rectangle(background, (0, 0), (w, h // 4), (160, 150, 140), -1)  # a bright cabin roof
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.avi")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), script.fps, (w, h))
    if not writer.isOpened():
        raise UserError(f"cannot write a video to {tmp}")
    frames = round(script.duration_s * script.fps)
    bar = tqdm(total=frames, desc="rendering", unit="frame", disable=not progress, leave=False)
    for i in range(frames):
        bar.update(1)
        t = i / script.fps
        p = pose_at(script, t)
        mesh = cast.closed_eyes if p.closed else cast.open_eyes
        head = render_face(mesh, p.yaw, p.pitch, p.mouth)[y0:y1, x0:x1]
        patch = cv2.resize(head, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA)
        ph, pw = patch.shape[:2]
        x = int((w - pw) / 2 + 4 * np.sin(t * 0.9) + p.away * (w + pw) / 2 + 0.5)
        y = max(0, int(h - ph - 4 + 3 * np.sin(t * 1.3)))
        frame = background.copy()
        xs, xe = max(0, x), min(w, x + pw)
        if xe > xs:
            rows = min(ph, h - y)
            frame[y : y + rows, xs:xe] = patch[:rows, xs - x : xe - x]
        noisy = frame * p.gain + rng.normal(0, script.noise_sigma, frame.shape)
        writer.write(np.clip(noisy, 0, 255).astype(np.uint8))
    bar.close()
    writer.release()
    tmp.replace(path)
    truth = expected_alerts(script, rules or AlertSettings())
    truth_path(path).write_text(truth.to_json(), encoding="utf-8")
    return path


def truth_path(video: Path) -> Path:
    return video.with_suffix(".truth.json")
