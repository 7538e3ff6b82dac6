"""Face tracker, the shared crop function, head pose and gaze."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from drowsy.contracts import Frame
from drowsy.settings import Settings
from drowsy.vision.crops import REGIONS, crop_aligned, cut_crops
from drowsy.vision.pose import (
    _eye_in_head,
    camera_matrix,
    estimate_head_pose,
    euler_to_rotation,
    model_points,
)
from drowsy.vision.tracker import FaceTracker, TrackerOptions
from tests.helpers import face_images


@pytest.fixture(scope="module")
def faces():
    return face_images()  # (open eyes, closed eyes) portrait, 512x512


@pytest.fixture
def tracker():
    s = Settings()
    with FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze, static_images=True)) as t:
        yield t


def observe(tracker, image):
    return tracker.process(Frame(image, 0.0, 0))


def corr(a, b):
    a = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY).astype(float).ravel()
    b = cv2.cvtColor(b, cv2.COLOR_BGR2GRAY).astype(float).ravel()
    return np.corrcoef(a, b)[0, 1]


def test_face_found_with_crops_pose_and_quality(tracker, faces):
    obs = observe(tracker, faces[0])
    assert obs.present and obs.landmarks.shape == (478, 3)
    for name, spec in REGIONS.items():
        assert getattr(obs.crops, name).shape == (spec.size, spec.size, 3)
    assert abs(obs.pose.yaw) < 10 and abs(obs.pose.roll) < 10
    assert obs.quality.usable and obs.quality.iod_px > 30
    assert 0.25 < obs.ear_left < 0.45 and obs.mar < 0.3


def test_painted_closed_eyes_have_low_ear(tracker, faces):
    open_obs, closed_obs = observe(tracker, faces[0]), observe(tracker, faces[1])
    assert closed_obs.ear_left < 0.5 * open_obs.ear_left
    assert closed_obs.ear_right < 0.5 * open_obs.ear_right


def test_crops_are_invariant_to_roll_and_scale(tracker, faces):
    """The same face rotated 25 degrees and shrunk to 60 % gives the same aligned crops."""
    image = faces[0]
    ref = observe(tracker, image)
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 0.6)
    moved = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    obs = observe(tracker, moved)
    assert obs.present
    assert obs.pose.roll == pytest.approx(ref.pose.roll - 25, abs=4)
    for name in ("left_eye", "right_eye", "mouth", "face"):
        assert corr(getattr(ref.crops, name), getattr(obs.crops, name)) > 0.9, name


def test_training_sees_exactly_the_runtime_model_input(tracker, faces, tmp_path):
    """The face-level training crops (training.realdata) equal, pixel for pixel after
    preprocessing, what the runtime feeds its models for the same photo: a training pipeline
    that cut, aligned, resized or converted its crops its own way would fail here."""
    pytest.importorskip("torch", reason="the training extra is not installed")
    from drowsy.inference.preprocess import to_tensor
    from drowsy.sources import read_image
    from training.realdata import portrait_crops

    cv2.imwrite(str(tmp_path / "driver.jpg"), faces[0])
    eyes, mouths = portrait_crops(tmp_path)
    obs = observe(tracker, read_image(tmp_path / "driver.jpg"))
    crops = obs.crops
    runtime_eyes = to_tensor([crops.left_eye, crops.right_eye], eyes.images.shape[-1])
    runtime_mouth = to_tensor([crops.mouth], mouths.images.shape[-1])
    np.testing.assert_array_equal(to_tensor(list(eyes.images), eyes.images.shape[-1]), runtime_eyes)
    np.testing.assert_array_equal(
        to_tensor(list(mouths.images), mouths.images.shape[-1]), runtime_mouth
    )
    recut = cut_crops(faces[0], obs.landmarks)  # and the runtime's crops are cut_crops' crops
    assert not np.array_equal(recut.left_eye, recut.right_eye)


@pytest.mark.parametrize("side", [24, 48, 96])
def test_tight_small_face_crops_are_padded_and_upscaled(tracker, faces, side):
    face = faces[0][60:190, 170:280]  # tight around the face
    small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    obs = observe(tracker, small)
    assert obs.present, f"no face at {side}px"
    assert obs.bbox[0] > -0.3 * side and obs.bbox[2] < 1.3 * side  # landmarks mapped back


def test_no_face_is_an_empty_observation(tracker):
    obs = observe(tracker, np.full((240, 320, 3), 128, np.uint8))
    assert not obs.present and obs.landmarks is None and obs.crops is None


def two_faces(faces, driver: bool = True, passenger: bool = True, scale: float = 1.0):
    """A cabin: the driver (open eyes, larger, right of centre) and a passenger (painted
    closed eyes, ``scale`` times the usual passenger size, on the left)."""
    canvas = np.full((420, 700, 3), 90, np.uint8)
    if driver:
        big = cv2.resize(faces[0][20:260, 120:330], None, fx=1.4, fy=1.4)
        canvas[40 : 40 + big.shape[0], 680 - big.shape[1] : 680] = big
    if passenger:
        small = cv2.resize(faces[1][20:260, 120:330], None, fx=scale, fy=scale)
        canvas[40 : 40 + small.shape[0], 20 : 20 + small.shape[1]] = small
    return canvas


def video_tracker(**tracker_settings):
    s = Settings()
    for k, v in tracker_settings.items():
        setattr(s.tracker, k, v)
    return FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze))


def is_driver(obs) -> bool:
    return obs.present and obs.bbox[0] > 380 and obs.ear_left > 0.2


def test_driver_is_the_larger_central_face(tracker, faces):
    obs = observe(tracker, two_faces(faces))
    assert obs.faces_in_frame == 2
    assert obs.bbox[0] > 380  # the big face (open eyes) on the right
    assert obs.ear_left > 0.2


def test_video_tracking_follows_the_driver_when_two_faces_are_in_view(faces):
    with video_tracker(recheck_s=0.3) as tr:
        seen = [tr.process(Frame(two_faces(faces), i / 10, i)) for i in range(12)]
    assert all(is_driver(o) for o in seen)
    assert all(o.faces_in_frame == 2 for o in seen)


def test_driver_is_kept_when_a_second_face_appears(faces):
    """A passenger as large as the driver sits down: checks keep the tracked driver."""
    with video_tracker(recheck_s=0.3) as tr:
        alone = [tr.process(Frame(two_faces(faces, passenger=False), i / 10, i)) for i in range(5)]
        both = [tr.process(Frame(two_faces(faces, scale=1.4), i / 10, i)) for i in range(5, 15)]
    assert all(is_driver(o) for o in alone + both)
    assert alone[-1].faces_in_frame == 1 and both[-1].faces_in_frame == 2


def test_tracker_is_handed_over_to_the_driver_at_the_next_check(faces):
    """The tracker locked on the only face there was; when the driver (larger, central)
    appears, the next check hands the one-face tracker over, and tracking frames between
    checks then follow the driver too."""
    with video_tracker(recheck_s=0.3, stickiness=0.0) as tr:
        first = [tr.process(Frame(two_faces(faces, driver=False), i / 10, i)) for i in range(3)]
        later = [tr.process(Frame(two_faces(faces), i / 10, i)) for i in range(3, 12)]
    assert all(o.present and o.bbox[0] < 300 for o in first)  # the passenger, alone
    assert all(is_driver(o) for o in later)


def test_live_driver_checks_run_in_the_background_and_still_hand_over(faces):
    """Live: the periodic check runs beside the frames (off their latency); its answer hands
    the tracker over on a later frame."""
    s = Settings()
    s.tracker.recheck_s, s.tracker.stickiness = 0.3, 0.0
    options = TrackerOptions(s.tracker, s.quality, s.gaze, background_checks=True)
    with FaceTracker(options) as tr:
        first = [tr.process(Frame(two_faces(faces, driver=False), i / 10, i)) for i in range(3)]
        later = []
        for i in range(3, 15):
            later.append(tr.process(Frame(two_faces(faces), i / 10, i)))
            time.sleep(0.05)  # a live source's frame interval: the check finishes meanwhile
        assert tr._checker is not None  # the check did run in the background
    assert all(o.present and o.bbox[0] < 300 for o in first)
    assert not is_driver(later[0])  # frame 3 is not held up by the check...
    assert all(is_driver(o) for o in later[-8:])  # ...whose answer hands the tracker over


def test_video_mode_rejects_time_going_backwards(faces):
    s = Settings()
    with FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze)) as tr:
        tr.process(Frame(faces[0], 1.0, 0))
        with pytest.raises(ValueError, match="increase"):
            tr.process(Frame(faces[0], 0.5, 1))


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"), [(0, 0, 0), (30, 0, 0), (0, -20, 0), (-25, 10, 8)]
)
def test_head_pose_recovers_a_projected_model(yaw, pitch, roll):
    idx, model = model_points()
    rvec, _ = cv2.Rodrigues(euler_to_rotation(yaw, pitch, roll))
    pts, _ = cv2.projectPoints(
        model, rvec, np.array([10.0, -5.0, 550.0]), camera_matrix(640, 480), None
    )
    landmarks = np.zeros((478, 3))
    landmarks[idx, :2] = pts[:, 0]
    pose = estimate_head_pose(landmarks, 640, 480)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=0.5)


def test_head_turned_to_image_right_has_positive_yaw():
    idx, model = model_points()
    rvec, _ = cv2.Rodrigues(euler_to_rotation(20, 0, 0))
    pts, _ = cv2.projectPoints(
        model, rvec, np.array([0.0, 0.0, 550.0]), camera_matrix(640, 480), None
    )
    nose = pts[idx.index(1), 0, 0]
    eyes = pts[[idx.index(33), idx.index(263)], 0, 0].mean()
    assert nose > eyes  # the nose tip swings toward the image's right


def test_iris_offset_gives_eye_angle_sign():
    lm = np.zeros((478, 3))
    lm[33, :2], lm[133, :2] = (100, 100), (130, 100)
    lm[468, :2] = (120, 100)  # iris right of centre
    yaw, pitch = _eye_in_head(lm, (33, 133), 468)
    assert yaw > 10 and abs(pitch) < 1e-6
    lm[468, :2] = (115, 104)  # iris lower: looking down
    assert _eye_in_head(lm, (33, 133), 468)[1] < 0


def test_crop_aligned_rotation_convention():
    img = np.zeros((100, 100, 3), np.uint8)
    cv2.line(img, (20, 50), (80, 50), (255, 255, 255), 3)
    crop = crop_aligned(img, np.array([50.0, 50.0]), 0.0, 80, 40)
    assert crop[20, 5:35].mean() > 200  # a horizontal line stays horizontal
    rotated = crop_aligned(img, np.array([50.0, 50.0]), np.pi / 2, 80, 40)
    assert rotated[5:35, 20].mean() > 200  # a 90 degree eye line maps the line to vertical


def test_landmarks_read_from_the_wire_equal_the_attribute_by_attribute_reading():
    """The fast reader of MediaPipe's landmark list gives the slow reading's float32 values, and
    a list the wire view cannot read (a zero coordinate is left out of it) still comes out."""
    from mediapipe.framework.formats import landmark_pb2

    from drowsy.vision.landmarks import landmarks_px

    rng = np.random.default_rng(3)
    xyz = rng.uniform(-0.2, 1.2, size=(478, 3))

    def as_list(points):
        face = landmark_pb2.NormalizedLandmarkList()
        for x, y, z in points:
            face.landmark.add(x=x, y=y, z=z)
        return face

    def slow(face, w, h):
        return np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], np.float32)

    face = as_list(xyz)
    fast = landmarks_px(face, 640, 480)
    assert fast.dtype == np.float32 and fast.shape == (478, 3)
    assert np.array_equal(fast, slow(face, 640, 480))
    xyz[5, 2] = 0.0  # z of 0 is not on the wire: the record is shorter
    face = as_list(xyz)
    assert np.array_equal(landmarks_px(face, 33, 17), slow(face, 33, 17))
    assert landmarks_px(face, 33, 17)[5, 2] == 0.0
