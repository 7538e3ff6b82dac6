"""Face-level training data from real faces of many people: the CK+ expression faces (118
subjects) as yawn hard negatives and as open/closed eye pairs whose closed half is painted by
the scenario renderer.

Why: the only labelled eye and mouth sets are close-up crops of one source, and a model learns
the source instead of the eye. These faces go through the runtime's own tracker and crop
function, so their crops are the crops the product sees. The painted lids are synthetic: they
are training data only, never test data. Subjects are split (``S010``...) so no person is in
two splits.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drowsy.contracts import Frame
from drowsy.inference.preprocess import square, to_gray
from drowsy.settings import Settings
from drowsy.sources import read_image
from drowsy.vision.crops import CROP_SPEC_VERSION
from drowsy.vision.tracker import FaceTracker, TrackerOptions
from training.data import SIZE, TASK_CLASSES, CropSet, split

log = logging.getLogger(__name__)

CKPLUS_FOLDERS = ("smiling", "surprise_open_mouth", "other_expression")
# Expressions whose eyes are open (disgust and anger squeeze them shut: not eye-state data).
OPEN_EYED = re.compile(r"^(surprise|happy|sadness|fear|contempt|neutral)", re.IGNORECASE)
SUBJECT = re.compile(r"(S\d{3})")
UPSCALE_TO = 192  # CK+ faces are 48 px: painted lids need room, and so does the tracker
MIN_OPEN_EAR = 0.2  # a face whose eyes are not clearly open gives no pair


def subject_of(path: Path) -> str:
    m = SUBJECT.search(path.name)
    return m.group(1) if m else path.stem


def ckplus_images(root: Path) -> list[Path]:
    return sorted(
        p
        for folder in CKPLUS_FOLDERS
        if (root / folder).is_dir()
        for p in (root / folder).glob("*.jpg")
    )


def split_subjects(paths: list[Path], seed: int = 1234) -> dict[str, list[Path]]:
    """train/val/test (70/15/15) by subject: every image of a person lands in one split."""
    subjects = sorted({subject_of(p) for p in paths})
    tr, va, te = split(len(subjects), (0.7, 0.15, 0.15), seed)
    names = {
        **{subjects[i]: "train" for i in tr},
        **{subjects[i]: "val" for i in va},
        **{subjects[i]: "test" for i in te},
    }
    out: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    for p in paths:
        out[names[subject_of(p)]].append(p)
    return out


def _upscaled(path: Path) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The image at >= UPSCALE_TO px, and its original (w, h)."""
    image = read_image(path)
    if image is None:
        return None
    h, w = image.shape[:2]
    if min(h, w) < UPSCALE_TO:
        f = UPSCALE_TO / min(h, w)
        image = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    return image, (w, h)


def _paint_closed(image: np.ndarray, landmarks: np.ndarray, native: tuple[int, int]) -> np.ndarray:
    """Lids painted shut, then taken through the original resolution and back, so the paint is
    exactly as blurred as the rest of the face (a crisp lash line on a blurred face would be a
    shortcut for the network)."""
    from drowsy.scenario.render import close_eyes

    return _degrade(close_eyes(image, landmarks), native)


def _key(paths: list[Path], what: str) -> str:
    h = hashlib.sha1(f"{what}|crop-v{CROP_SPEC_VERSION}|{UPSCALE_TO}|paint-v4".encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _g(img: np.ndarray) -> np.ndarray:
    return square(to_gray(img), SIZE)


def _degrade(image: np.ndarray, native: tuple[int, int]) -> np.ndarray:
    """Through the original resolution and back up."""
    if native == (image.shape[1], image.shape[0]):
        return image
    small = cv2.resize(image, native, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_CUBIC)


@dataclass
class FaceSets:
    """Crops of real faces through the runtime tracker: eye pairs (open, painted shut) and
    real mouths (no_yawn, with their MAR). No synthetic yawns: the renderer's jaw drop on these
    48 px faces is not read as an open mouth by the face mesh (median MAR 0.14), so it would
    teach paint, not yawns."""

    eyes: CropSet
    mouths: CropSet


def face_crops(paths: list[Path], cache: Path) -> FaceSets:
    """Crops of face images, cached (see :class:`FaceSets`).

    Eye pairs: for faces with an open-eyed expression and both EARs >= 0.2, the two eye crops
    (open) and the two crops of the same face with its lids painted shut, re-tracked as the
    runtime would (closed). Mouths: every face's mouth crop (no_yawn)."""
    cache.mkdir(parents=True, exist_ok=True)
    file = cache / f"faces-{_key(paths, 'faces')}.npz"
    if not file.exists():
        s = Settings()
        eyes, eye_y, eye_src, mouths, mouth_src, mars = [], [], [], [], [], []
        opts = TrackerOptions(s.tracker, s.quality, s.gaze, static_images=True)
        with FaceTracker(opts) as tracker:
            for path in paths:
                got = _upscaled(path)
                if got is None:
                    continue
                image, native = got
                obs = tracker.process(Frame(image, 0.0, 0))
                if not obs.present or obs.crops is None:
                    continue
                who = subject_of(path)
                mouths.append(_g(obs.crops.mouth))
                mouth_src.append(who)
                mars.append(obs.mar)
                open_eyed = OPEN_EYED.match(path.name) is not None
                if not open_eyed or min(obs.ear_left or 0, obs.ear_right or 0) < MIN_OPEN_EAR:
                    continue
                if obs.landmarks is None:
                    continue
                shut = tracker.process(Frame(_paint_closed(image, obs.landmarks, native), 0.0, 0))
                if not shut.present or shut.crops is None:
                    continue
                for crops, label in ((obs.crops, 0), (shut.crops, 1)):
                    for crop in (crops.left_eye, crops.right_eye):
                        eyes.append(_g(crop))
                        eye_y.append(label)
                        eye_src.append(who)
        np.savez_compressed(
            file,
            eyes=np.stack(eyes) if eyes else np.zeros((0, SIZE, SIZE), np.uint8),
            eye_y=np.asarray(eye_y, np.int64),
            eye_src=np.asarray(eye_src),
            mouths=np.stack(mouths) if mouths else np.zeros((0, SIZE, SIZE), np.uint8),
            mouth_src=np.asarray(mouth_src),
            mars=np.asarray(mars, np.float64),
        )
    with np.load(file) as z:
        eye_set = CropSet(
            z["eyes"], z["eye_y"], TASK_CLASSES["eyes"], [str(x) for x in z["eye_src"]]
        )
        mouth_set = CropSet(
            z["mouths"],
            np.zeros(len(z["mouths"]), np.int64),
            TASK_CLASSES["yawn"],
            [str(x) for x in z["mouth_src"]],
            mar=z["mars"],
        )
    log.info("faces: %d eye crops (pairs), %d mouths", len(eye_set), len(mouth_set))
    return FaceSets(eye_set, mouth_set)


def ckplus_sets(root: Path, cache: Path) -> dict[str, FaceSets]:
    """Face sets per subject split (train/val/test)."""
    return {
        name: face_crops(paths, cache)
        for name, paths in split_subjects(ckplus_images(root)).items()
    }
