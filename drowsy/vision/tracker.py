"""Face tracker on MediaPipe face mesh (478 landmarks with iris).

Picks the driver among several faces, cuts the aligned crops, and measures head pose, gaze,
eye/mouth aspect ratios and face quality. Small or tightly cropped faces (down to ~24 px) are
padded and upscaled before a second attempt, because MediaPipe's detector expects some context
around a face.

On video only the driver is tracked: a one-face mesh in tracking mode runs the landmark model
alone, while a mesh asked for several faces runs its face detector on every frame with fewer
faces in view than its maximum (measured: 3.9 ms against 5.7 ms a 640x480 frame). Which face is
the driver is checked by a multi-face pass every ``tracker.recheck_s`` seconds and whenever the
tracker (re)acquires a face, so a passenger never takes over for longer than one check.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
    landmarks_px,
    mouth_aspect_ratio,
)
from drowsy.vision.pose import camera_rotated, estimate_gaze, estimate_head_pose


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
    """The tracker's settings and mode (independent images, or video with driver checks)."""

    tracker: TrackerSettings
    quality: QualitySettings
    gaze: GazeSettings
    static_images: bool = False  # True: every image is independent (no tracking between them)
    # live: periodic driver checks run in a background thread, off the frame's latency path
    # (recorded video keeps them in line, so its results do not depend on timing)
    background_checks: bool = False


def _face_mesh(static: bool, settings: TrackerSettings, max_faces: int | None = None):
    with _native_stderr_silenced():
        import mediapipe as mp

        mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static,
            max_num_faces=max_faces or settings.max_faces,
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


def measure_quality(
    face_crop: np.ndarray, iod_px: float, q: QualitySettings, upright: bool = True
) -> FaceQuality:
    """``upright`` False (a face rolled past CAMERA_ROTATED_ROLL_DEG: a sideways camera, not a
    tilted head) makes the face unusable: its pose, gaze and mouth ratio are out of the range
    anything here was made for. Measured: an awake webcam video turned 90 degrees raised a
    microsleep, yawns, a long distraction and "unresponsive"; now 10 s of such frames is
    "monitoring degraded" and the summary says "camera rotated?"."""
    gray = cv2.cvtColor(face_crop, cv2.COLOR_BGR2GRAY)
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    brightness = float(gray.mean())
    usable = (
        upright
        and iod_px >= q.min_iod_px
        and sharpness >= q.min_sharpness
        and q.min_brightness <= brightness <= q.max_brightness
    )
    return FaceQuality(iod_px=iod_px, sharpness=sharpness, brightness=brightness, usable=usable)


def _box(pts: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = pts[:, :2].min(axis=0)
    x1, y1 = pts[:, :2].max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _same_face(a: np.ndarray, b: np.ndarray) -> bool:
    """Two landmark sets of one face: centres closer than half a face width."""
    ax0, ay0, ax1, ay1 = _box(a)
    bx0, by0, bx1, by1 = _box(b)
    gap = np.hypot((ax0 + ax1 - bx0 - bx1) / 2, (ay0 + ay1 - by0 - by1) / 2)
    return bool(gap < 0.5 * max(ax1 - ax0, bx1 - bx0))


def _keep_only(rgb: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The image grey except around one face (its box grown by half a face each side)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = _box(pts)
    mx, my = 0.5 * (x1 - x0), 0.5 * (y1 - y0)
    xa, ya = max(0, int(x0 - mx)), max(0, int(y0 - my))
    xb, yb = min(w, int(x1 + mx) + 1), min(h, int(y1 + my) + 1)
    out = np.full_like(rgb, 127)
    out[ya:yb, xa:xb] = rgb[ya:yb, xa:xb]
    return out


@dataclass(frozen=True, slots=True)
class Located:
    """A frame after the face mesh: the driver's landmarks in pixels (None: no face found) and
    how many faces the last driver check saw."""

    image: np.ndarray  # the frame, BGR
    landmarks: np.ndarray | None
    faces_in_frame: int
    mesh_ms: float


class FaceTracker:
    """``process(frame) -> FaceObservation``; an empty observation when no face is found."""

    def __init__(self, options: TrackerOptions) -> None:
        self.options = options
        # images: one multi-face static mesh; video: a one-face tracking mesh for the driver
        self._mesh = _face_mesh(
            options.static_images, options.tracker, None if options.static_images else 1
        )
        self._fallback = None  # static multi-face mesh (checks, padded retries), made on use
        self._last_ts: float | None = None
        self._last_center: np.ndarray | None = None
        self._last_check_ts: float | None = None
        self._faces_seen_at_check = 1
        self._tracking = False  # the one-face mesh had a face on the previous frame
        self._checker: ThreadPoolExecutor | None = None  # background checks (live)
        self._check_mesh = None  # their own static mesh: a graph is not shared by threads
        self._pending: Future[list[np.ndarray]] | None = None
        self._face_seen: dict[int, bool] = {}
        self.timings_ms: dict[str, float] = {}  # of the last process() call, for benchmarks

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._checker is not None:
            self._checker.shutdown(wait=True)
            self._checker = self._pending = None
        for mesh in (self._mesh, self._fallback, self._check_mesh):
            if mesh is not None:
                mesh.close()
        self._mesh = self._fallback = self._check_mesh = None

    def reset(self) -> None:
        """Forget the driver's position (new video, new session)."""
        self._last_center = None
        self._last_ts = None
        self._last_check_ts = None
        self._tracking = False
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _static_mesh(self):
        if self._fallback is None:
            self._fallback = _face_mesh(True, self.options.tracker)
        return self._fallback

    def _detect(self, rgb: np.ndarray, mesh) -> list[np.ndarray]:
        result = _run_mesh(mesh, rgb, self._face_seen.get(id(mesh), False))
        faces = result.multi_face_landmarks or []
        if faces:
            self._face_seen[id(mesh)] = True
        h, w = rgb.shape[:2]
        out = []
        for face in faces:
            pts = landmarks_px(face, w, h)
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
        faces = self._detect(padded, self._static_mesh())
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
        return self.measure(self.locate(frame))

    def locate(self, frame: Frame) -> Located:
        """The face mesh stage: the driver's landmarks in this frame. Everything that depends
        on earlier frames (tracking, driver checks) happens here, so ``measure`` can run in
        another thread, behind it."""
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
        if faces and not self.options.static_images:
            faces = self._driver_check(rgb, faces[0], frame.timestamp_s)
        self._tracking = bool(faces)
        small = min(h, w) < self.options.tracker.min_upscaled_side_px
        if not faces and (self.options.static_images or small):
            faces = self._detect_padded(rgb)
        driver, count = None, 0
        if faces and self.options.static_images:
            driver, count = self._choose_driver(faces, w, h), len(faces)
        elif faces:
            driver, count = faces[0], max(1, self._faces_seen_at_check)
        if driver is not None:
            x0, y0, x1, y1 = _box(driver)
            self._last_center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        return Located(image, driver, count, (time.perf_counter() - t0) * 1e3)

    def measure(self, located: Located) -> FaceObservation:
        """Everything measured from the located driver's landmarks (crops, pose, gaze, ratios,
        quality). Touches no state ``locate`` uses (only the options, and ``timings_ms``, which
        only this method writes): safe beside ``locate`` in another thread."""
        t0 = time.perf_counter()
        if located.landmarks is None:
            obs = FaceObservation.empty()
        else:
            obs = self.measure_landmarks(located.image, located.landmarks, located.faces_in_frame)
        self.timings_ms = {
            "face_mesh": located.mesh_ms,
            "crops": (time.perf_counter() - t0) * 1e3,
        }
        return obs

    def _driver_check(self, rgb: np.ndarray, tracked: np.ndarray, ts: float) -> list[np.ndarray]:
        """Confirm that the tracked face is the driver: on re-acquisition (MediaPipe's detector
        picks whichever face it likes) and every ``recheck_s``. When another face is the driver,
        the tracker is handed over by showing it frames where only the driver is visible."""
        due = self._last_check_ts is None or ts - self._last_check_ts >= (
            self.options.tracker.recheck_s
        )
        if self._pending is not None and self._pending.done():
            everyone, self._pending = self._pending.result(), None
            return self._confirm(rgb, tracked, everyone)
        if self._tracking and not due:
            return [tracked]
        self._last_check_ts = ts
        if self._tracking and self.options.background_checks:
            if self._pending is None:  # a periodic check: its answer applies a frame later
                self._pending = self._background().submit(self._detect_everyone, rgb)
            return [tracked]
        # (re)acquired: MediaPipe chose the face, so it is checked before this frame is used
        return self._confirm(rgb, tracked, self._detect(rgb, self._static_mesh()))

    def _background(self) -> ThreadPoolExecutor:
        if self._checker is None:
            self._checker = ThreadPoolExecutor(1, thread_name_prefix="drowsy-driver-check")
        return self._checker

    def _detect_everyone(self, rgb: np.ndarray) -> list[np.ndarray]:
        if self._check_mesh is None:
            self._check_mesh = _face_mesh(True, self.options.tracker)
        return self._detect(rgb, self._check_mesh)

    def _confirm(
        self, rgb: np.ndarray, tracked: np.ndarray, everyone: list[np.ndarray]
    ) -> list[np.ndarray]:
        """The tracked face if it is the driver among ``everyone``; else the tracker is handed
        over to the driver."""
        h, w = rgb.shape[:2]
        self._faces_seen_at_check = len(everyone)
        if len(everyone) < 2:
            return [tracked]
        driver = self._choose_driver(everyone, w, h)
        if _same_face(driver, tracked):
            return [tracked]
        only_driver = _keep_only(rgb, driver)
        for _ in range(2):  # lose the tracked face, then detect the driver, the only one left
            handed = self._detect(only_driver, self._mesh)
        return handed if handed and _same_face(driver, handed[0]) else [driver]

    def measure_landmarks(
        self, image: np.ndarray, pts: np.ndarray, faces_in_frame: int = 1
    ) -> FaceObservation:
        """Everything measured from one face's landmarks (also used by tests with synthetic
        landmarks)."""
        h, w = image.shape[:2]
        right, left = eye_centers(pts)
        iod = float(np.hypot(*(left - right)))
        crops = cut_crops(image, pts)
        pose = estimate_head_pose(pts, w, h)
        gaze = None if pose is None else estimate_gaze(pts, pose, self.options.gaze.eye_weight)
        return FaceObservation(
            present=True,
            landmarks=pts,
            bbox=_box(pts),
            crops=crops,
            pose=pose,
            gaze=gaze,
            quality=measure_quality(
                crops.face, iod, self.options.quality, pose is None or not camera_rotated(pose.roll)
            ),
            ear_left=eye_aspect_ratio(pts, LEFT_EYE_EAR),
            ear_right=eye_aspect_ratio(pts, RIGHT_EYE_EAR),
            mar=mouth_aspect_ratio(pts),
            faces_in_frame=faces_in_frame,
        )
