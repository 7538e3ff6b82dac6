"""Face tracker on MediaPipe face mesh (478 landmarks with iris).

Picks the driver among several faces, cuts the aligned crops, and measures head pose, gaze,
eye/mouth aspect ratios and face quality. Small or tightly cropped faces (down to ~24 px) are
padded and upscaled before a second attempt, because MediaPipe's detector expects some context
around a face.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from drowsy.contracts import FaceObservation, FaceQuality, Frame
from drowsy.settings import GazeSettings, QualitySettings, TrackerSettings
from drowsy.vision.crops import cut_crops
from drowsy.vision.landmarks import (
    LEFT_EYE_EAR,
    NUM_LANDMARKS,
    RIGHT_EYE_EAR,
    eye_aspect_ratio,
    eye_centers,
    mouth_aspect_ratio,
)
from drowsy.vision.pose import estimate_gaze, estimate_head_pose


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """MediaPipe's C++ side writes set-up chatter (TFLite delegates, feedback tensors) straight
    to file descriptor 2 when a graph starts; none of it is for users, so it goes to /dev/null."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True, slots=True)
class TrackerOptions:
    tracker: TrackerSettings
    quality: QualitySettings
    gaze: GazeSettings
    static_images: bool = False  # True: every image is independent (no tracking between them)


def _face_mesh(static: bool, settings: TrackerSettings):
    with _native_stderr_silenced():
        import mediapipe as mp

        mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static,
            max_num_faces=settings.max_faces,
            refine_landmarks=True,
            min_detection_confidence=settings.min_detection_confidence,
            min_tracking_confidence=settings.min_tracking_confidence,
        )
        # the first call starts the graph, which logs more; run it here on a blank image
        mesh.process(np.zeros((64, 64, 3), dtype=np.uint8))
    return mesh


def _run_mesh(mesh, rgb: np.ndarray, first_face_seen: bool):
    """The first detection of a face logs one more native warning; silence calls until then."""
    if first_face_seen:
        return mesh.process(rgb)
    with _native_stderr_silenced():
        return mesh.process(rgb)


def measure_quality(face_crop: np.ndarray, iod_px: float, q: QualitySettings) -> FaceQuality:
    gray = cv2.cvtColor(face_crop, cv2.COLOR_BGR2GRAY)
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    brightness = float(gray.mean())
    usable = (
        iod_px >= q.min_iod_px
        and sharpness >= q.min_sharpness
        and q.min_brightness <= brightness <= q.max_brightness
    )
    return FaceQuality(iod_px=iod_px, sharpness=sharpness, brightness=brightness, usable=usable)


class FaceTracker:
    """``process(frame) -> FaceObservation``; an empty observation when no face is found."""

    def __init__(self, options: TrackerOptions) -> None:
        self.options = options
        self._mesh = _face_mesh(options.static_images, options.tracker)
        self._fallback = None  # static mesh for padded/upscaled retries, made on first use
        self._last_ts: float | None = None
        self._last_center: np.ndarray | None = None
        self._face_seen: dict[int, bool] = {}
        self.timings_ms: dict[str, float] = {}  # of the last process() call, for benchmarks

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for mesh in (self._mesh, self._fallback):
            if mesh is not None:
                mesh.close()
        self._mesh = self._fallback = None

    def reset(self) -> None:
        """Forget the driver's position (new video, new session)."""
        self._last_center = None
        self._last_ts = None

    def _detect(self, rgb: np.ndarray, mesh) -> list[np.ndarray]:
        result = _run_mesh(mesh, rgb, self._face_seen.get(id(mesh), False))
        faces = result.multi_face_landmarks or []
        if faces:
            self._face_seen[id(mesh)] = True
        h, w = rgb.shape[:2]
        out = []
        for face in faces:
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], dtype=np.float32)
            if pts.shape[0] == NUM_LANDMARKS:
                out.append(pts)
        return out

    def _detect_padded(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Retry on the image padded by half its size each side and upscaled, then map the
        landmarks back. Needed for tight face crops and tiny frames."""
        h, w = rgb.shape[:2]
        pad_y, pad_x = h // 2, w // 2
        padded = cv2.copyMakeBorder(rgb, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REPLICATE)
        scale = max(1.0, self.options.tracker.min_upscaled_side_px / min(padded.shape[:2]))
        if scale > 1.0:
            padded = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        if self._fallback is None:
            self._fallback = _face_mesh(True, self.options.tracker)
        faces = self._detect(padded, self._fallback)
        for pts in faces:
            pts /= scale
            pts[:, 0] -= pad_x
            pts[:, 1] -= pad_y
        return faces

    def _choose_driver(self, faces: list[np.ndarray], w: int, h: int) -> np.ndarray:
        """Largest and most central face, with a bonus for staying with last frame's driver."""
        diag = float(np.hypot(w, h))
        best, best_score = faces[0], -np.inf
        for pts in faces:
            x0, y0 = pts[:, :2].min(axis=0)
            x1, y1 = pts[:, :2].max(axis=0)
            center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            size = (x1 - x0) / w
            centrality = 1.0 - np.hypot(*(center - (w / 2, h / 2))) / (diag / 2)
            score = size + 0.3 * centrality
            if self._last_center is not None:
                near = np.hypot(*(center - self._last_center)) < 0.5 * (x1 - x0)
                score += self.options.tracker.stickiness * near
            if score > best_score:
                best, best_score = pts, score
        return best

    def process(self, frame: Frame) -> FaceObservation:
        if self._mesh is None:
            raise RuntimeError("FaceTracker is closed")
        if (
            not self.options.static_images
            and self._last_ts is not None
            and frame.timestamp_s <= self._last_ts
        ):
            raise ValueError(f"timestamps must increase: {frame.timestamp_s} after {self._last_ts}")
        self._last_ts = frame.timestamp_s
        image = frame.image
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        h, w = image.shape[:2]
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        faces = self._detect(rgb, self._mesh)
        small = min(h, w) < self.options.tracker.min_upscaled_side_px
        if not faces and (self.options.static_images or small):
            faces = self._detect_padded(rgb)
        t1 = time.perf_counter()
        obs = (
            self.observe(image, self._choose_driver(faces, w, h), len(faces))
            if faces
            else FaceObservation.empty()
        )
        self.timings_ms = {"face_mesh": (t1 - t0) * 1e3, "crops": (time.perf_counter() - t1) * 1e3}
        return obs

    def observe(
        self, image: np.ndarray, pts: np.ndarray, faces_in_frame: int = 1
    ) -> FaceObservation:
        """Everything measured from one face's landmarks (also used by tests with synthetic
        landmarks)."""
        h, w = image.shape[:2]
        x0, y0 = pts[:, :2].min(axis=0)
        x1, y1 = pts[:, :2].max(axis=0)
        self._last_center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        right, left = eye_centers(pts)
        iod = float(np.hypot(*(left - right)))
        crops = cut_crops(image, pts)
        pose = estimate_head_pose(pts, w, h)
        gaze = None if pose is None else estimate_gaze(pts, pose, self.options.gaze.eye_weight)
        return FaceObservation(
            present=True,
            landmarks=pts,
            bbox=(float(x0), float(y0), float(x1), float(y1)),
            crops=crops,
            pose=pose,
            gaze=gaze,
            quality=measure_quality(crops.face, iod, self.options.quality),
            ear_left=eye_aspect_ratio(pts, LEFT_EYE_EAR),
            ear_right=eye_aspect_ratio(pts, RIGHT_EYE_EAR),
            mar=mouth_aspect_ratio(pts),
            faces_in_frame=faces_in_frame,
        )
