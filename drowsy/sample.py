"""Built-in sample video: the input of the main command on a machine without a camera.

It is rendered locally from a portrait that scikit-image ships (``skimage.data.astronaut``), so
it needs no download and no data from elsewhere: the eyelids are painted shut along the face
mesh's eye contours for blinks and a microsleep, and the face leaves the frame long enough to
degrade monitoring. The rendered file is cached in the user's cache dir.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import platformdirs

from drowsy.contracts import Frame
from drowsy.errors import UserError

SAMPLE_VERSION = 1
FPS = 15.0
SIZE = (640, 480)

# Right and left eye contours of the face mesh (upper lid then lower lid, corner to corner).
_EYE_CONTOURS = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249),
)


@dataclass(frozen=True, slots=True)
class SampleEvent:
    kind: str  # "closure" or "away"
    start_s: float
    end_s: float


# Normal blinks (~0.2 s, every 3-5 s), one 1.6 s microsleep, 12 s with the face out of view.
SAMPLE_SCRIPT: tuple[SampleEvent, ...] = (
    *(SampleEvent("closure", t, t + 0.2) for t in (2.0, 5.5, 9.0, 12.5, 19.0, 22.5)),
    SampleEvent("closure", 15.0, 16.6),
    SampleEvent("away", 25.0, 37.0),
)
SAMPLE_SECONDS = 42.0


def _portrait() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def close_eyes(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The same face with both eyes shut: each eye region is filled with eyelid skin sampled
    above the eye, blended softly at the edges, with a thin lash line along the lower lid."""
    out = image.astype(np.float32)
    for contour in _EYE_CONTOURS:
        pts = landmarks[list(contour), :2]
        width = float(np.ptp(pts[:, 0]))
        center = pts.mean(axis=0)
        y = int(pts[:, 1].min() - 0.35 * width)
        x0, x1 = int(center[0] - width / 4), int(center[0] + width / 4)
        skin = image[max(0, y - 3) : y + 3, x0:x1].reshape(-1, 3).mean(axis=0)
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


@lru_cache(maxsize=1)
def _face_images() -> tuple[np.ndarray, np.ndarray]:
    from drowsy.settings import Settings
    from drowsy.vision.tracker import FaceTracker, TrackerOptions

    portrait = _portrait()
    s = Settings()
    with FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze, static_images=True)) as tr:
        obs = tr.process(Frame(portrait, 0.0, 0))
    if not obs.present or obs.landmarks is None:
        raise UserError("the built-in sample portrait has no detectable face")
    return portrait, close_eyes(portrait, obs.landmarks)


def _state_at(t: float, script: tuple[SampleEvent, ...]) -> tuple[float, float]:
    """(eye closure 0..1, horizontal shift of the face in frame widths) at time t."""
    closure, shift = 0.0, 0.0
    for ev in script:
        if ev.kind == "closure" and ev.start_s <= t < ev.end_s:
            closure = 1.0
        elif ev.kind == "away":
            ramp = 1.0
            if ev.start_s - ramp <= t < ev.end_s + ramp:
                inside = min(t - (ev.start_s - ramp), (ev.end_s + ramp) - t) / ramp
                shift = min(1.0, max(0.0, inside))
    return closure, shift


def render_video(
    path: Path,
    script: tuple[SampleEvent, ...] = SAMPLE_SCRIPT,
    seconds: float = SAMPLE_SECONDS,
    fps: float = FPS,
    size: tuple[int, int] = SIZE,
) -> Path:
    """Render a scripted video (MJPG AVI) to ``path``; the default is the built-in sample."""
    open_img, closed_img = _face_images()
    face_box = (slice(10, 290), slice(95, 355))  # the astronaut's head and shoulders
    w, h = size
    zoom = 1.3 * h / 480
    rng = np.random.default_rng(SAMPLE_VERSION)
    background = np.full((h, w, 3), (70, 80, 90), np.uint8)
    cv2.rectangle(background, (0, 0), (w, 120), (160, 150, 140), -1)  # a bright cabin roof
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.avi")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise UserError(f"cannot write the sample video to {tmp}")
    for i in range(int(seconds * fps)):
        t = i / fps
        closure, shift = _state_at(t, script)
        face = open_img if closure < 0.5 else closed_img
        patch = cv2.resize(face[face_box], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA)
        ph, pw = patch.shape[:2]
        x = int((w - pw) / 2 + 4 * np.sin(t * 0.9) + shift * (w + pw) / 2 + 0.5)
        y = max(0, int(h - ph - 4 + 3 * np.sin(t * 1.3)))
        frame = background.copy()
        xs, xe = max(0, x), min(w, x + pw)
        if xe > xs:
            frame[y : y + ph, xs:xe] = patch[:, xs - x : xe - x]
        noise = rng.normal(0, 2.5, frame.shape)
        writer.write(np.clip(frame + noise, 0, 255).astype(np.uint8))
    writer.release()
    tmp.replace(path)
    return path


def sample_video(cache_dir: Path | None = None) -> Path:
    """The cached sample video, rendered on first use."""
    folder = cache_dir or Path(platformdirs.user_cache_dir("drowsy"))
    path = folder / f"sample-v{SAMPLE_VERSION}.avi"
    if not path.exists():
        render_video(path)
    return path
