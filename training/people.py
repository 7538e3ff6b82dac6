"""Labelled crops of many people, each tagged with who it shows, for person-level validation.

Why: a model choice made on one person's video or on a random split of crops (the same person
on both sides) rewards learning that person. Every crop here carries a ``person`` id
(``mrl:s0001``, ``fl3d:P1042751``, ``ck:S010``, ``webcam:glasses``, ``portrait:<name>``);
sources without person ids (the Kaggle eye and mouth crops) get one id per source and are
training-only in :mod:`training.protocol`.

Whole faces (FL3D night drivers, CK+, webcam videos, portraits) go through the runtime's own
tracker and crop function, so their crops, eye-aspect ratios, mouth-aspect ratios and head
pose are what the product sees. Each source is cached as one ``.npz`` per crop spec, so a
recipe change does not re-run MediaPipe.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from drowsy.contracts import Frame
from drowsy.inference.preprocess import square, to_gray
from drowsy.settings import Settings
from drowsy.sources import read_image
from drowsy.vision.crops import CROP_SPEC_VERSION
from drowsy.vision.tracker import FaceTracker, TrackerOptions
from training.data import SIZE, _images_in
from training.errors import TrainingError

log = logging.getLogger(__name__)

FL3D_CLASSES = ("alert", "microsleep", "yawning")
_FL3D_NAME = re.compile(r"^(?P<driver>P\d+).*?__frame(?P<frame>\d+)$")
_MRL_NAME = re.compile(r"^(?P<person>s\d+)_\d+_\d_(?P<glasses>\d)_(?P<state>[01])_\d_\d_\d+$")
NAN = float("nan")


@dataclass
class PeopleSet:
    """Crops of one region with per-crop person, source and measurements.

    ``eye_label``: 1 closed, 0 open, -1 not eye-state data; ``yawn_label``: 1 yawn, 0 not,
    -1 not yawn data. ``ear``/``mar``/``pitch``/``roll`` are NaN where no landmarks exist
    (close-up crops). ``frame``/``face`` tie crops of one video frame together (-1: none)."""

    images: np.ndarray  # (N, 64, 64) uint8
    eye_label: np.ndarray
    yawn_label: np.ndarray
    person: np.ndarray  # str
    source: np.ndarray  # str
    ear: np.ndarray
    mar: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    frame: np.ndarray  # frame number within its video or sequence (-1: a still image)
    face: np.ndarray  # index of the face image the crop came from (both eyes share it)

    FIELDS: ClassVar[tuple[str, ...]] = (
        "images",
        "eye_label",
        "yawn_label",
        "person",
        "source",
        "ear",
        "mar",
        "pitch",
        "roll",
        "frame",
        "face",
    )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def take(self, idx: np.ndarray) -> PeopleSet:
        return PeopleSet(*(getattr(self, f)[idx] for f in self.FIELDS))

    @staticmethod
    def concat(sets: list[PeopleSet]) -> PeopleSet:
        sets = [s for s in sets if len(s)]
        if not sets:
            raise TrainingError("no crops in any source")
        offsets = np.cumsum([0] + [int(s.face.max()) + 1 for s in sets[:-1]])
        parts = {f: np.concatenate([getattr(s, f) for s in sets]) for f in PeopleSet.FIELDS}
        parts["face"] = np.concatenate([s.face + o for s, o in zip(sets, offsets, strict=True)])
        return PeopleSet(**parts)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **{f: getattr(self, f) for f in self.FIELDS})
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> PeopleSet:
        with np.load(path, allow_pickle=False) as z:
            return PeopleSet(**{f: z[f] for f in PeopleSet.FIELDS})


class _Rows:
    """Accumulates crops and their fields, then builds a :class:`PeopleSet`."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {f: [] for f in PeopleSet.FIELDS}

    def add(self, image: np.ndarray, **fields) -> None:
        self.rows["images"].append(square(to_gray(image), SIZE))
        defaults = {"eye_label": -1, "yawn_label": -1, "ear": NAN, "mar": NAN, "pitch": NAN}
        defaults |= {"roll": NAN, "frame": -1, "face": len(self.rows["face"])}
        for f in PeopleSet.FIELDS[1:]:
            self.rows[f].append(fields.get(f, defaults.get(f)))

    def build(self) -> PeopleSet:
        r = self.rows
        empty = np.zeros((0, SIZE, SIZE), np.uint8)
        return PeopleSet(
            np.stack(r["images"]) if r["images"] else empty,
            np.asarray(r["eye_label"], np.int64),
            np.asarray(r["yawn_label"], np.int64),
            np.asarray(r["person"], dtype=str),
            np.asarray(r["source"], dtype=str),
            np.asarray(r["ear"], np.float64),
            np.asarray(r["mar"], np.float64),
            np.asarray(r["pitch"], np.float64),
            np.asarray(r["roll"], np.float64),
            np.asarray(r["frame"], np.int64),
            np.asarray(r["face"], np.int64),
        )


def _key(paths: list[Path], what: str) -> str:
    h = hashlib.sha1(f"{what}|crop-v{CROP_SPEC_VERSION}|size{SIZE}".encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p.name}|{st.st_size}".encode())
    return h.hexdigest()[:12]


def _cached(cache: Path, name: str, paths: list[Path], build) -> PeopleSet:
    cache.mkdir(parents=True, exist_ok=True)
    file = cache / f"people-{name}-{_key(paths, name)}.npz"
    if file.exists():
        return PeopleSet.load(file)
    log.info("building %s crops from %d files (cached in %s)", name, len(paths), file)
    got = build(paths)
    got.save(file)
    return got


def mrl_people(root: Path, cache: Path) -> PeopleSet:
    """MRL Eye crops (near-infrared close-ups); the person is the ``sPPPP`` prefix."""
    paths = [p for p in _images_in(root) if _MRL_NAME.match(p.stem)]
    if not paths:
        raise TrainingError(f"{root}: no MRL Eye files (names like s0001_00001_0_0_0_0_0_01.png)")

    def build(paths: list[Path]) -> PeopleSet:
        rows = _Rows()
        for p in paths:
            img = read_image(p)
            if img is None:
                log.warning("%s: not a readable image, skipped", p)
                continue
            m = _MRL_NAME.match(p.stem)
            assert m is not None
            rows.add(
                img, eye_label=int(m["state"] == "0"), person=f"mrl:{m['person']}", source="mrl"
            )
        return rows.build()

    return _cached(cache, "mrl", paths, build)


def _face_rows(
    rows: _Rows,
    tracker: FaceTracker,
    image: np.ndarray,
    *,
    person: str,
    source: str,
    eye_label: int,
    yawn_label: int,
    frame: int = -1,
) -> bool:
    """Both eyes and the mouth of one face image; False when the tracker finds no face."""
    obs = tracker.process(Frame(image, 0.0, 0))
    if not obs.present or obs.crops is None or obs.pose is None:
        return False
    face = len(rows.rows["face"])
    common = dict(
        person=person,
        source=source,
        mar=obs.mar,
        pitch=obs.pose.pitch,
        roll=obs.pose.roll,
        frame=frame,
        face=face,
    )
    rows.add(obs.crops.left_eye, eye_label=eye_label, ear=obs.ear_left, **common)
    rows.add(obs.crops.right_eye, eye_label=eye_label, ear=obs.ear_right, **common)
    rows.add(obs.crops.mouth, yawn_label=yawn_label, **common)
    return True


def _static_tracker() -> FaceTracker:
    s = Settings()
    return FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze, static_images=True))


def fl3d_frames(root: Path) -> list[Path]:
    return sorted(p for c in FL3D_CLASSES if (root / c).is_dir() for p in (root / c).glob("*.jpg"))


def fl3d_people(root: Path, cache: Path) -> PeopleSet:
    """FL3D night-driving faces: eyes (alert open, microsleep closed; yawning frames are not
    eye data: half-shut eyes while yawning) and mouths (yawning vs alert and microsleep)."""
    paths = fl3d_frames(root)
    if not paths:
        raise TrainingError(f"{root}: no FL3D frames (alert/, microsleep/, yawning/)")

    def build(paths: list[Path]) -> PeopleSet:
        rows, missed = _Rows(), 0
        with _static_tracker() as tracker:
            for p in paths:
                m = _FL3D_NAME.match(p.stem)
                img = read_image(p)
                if m is None or img is None:
                    log.warning("%s: not an FL3D frame, skipped", p)
                    continue
                cls = p.parent.name
                found = _face_rows(
                    rows,
                    tracker,
                    img,
                    person=f"fl3d:{m['driver']}",
                    source="fl3d",
                    eye_label={"alert": 0, "microsleep": 1}.get(cls, -1),
                    yawn_label=int(cls == "yawning"),
                    frame=int(m["frame"]),
                )
                missed += not found
        log.info("fl3d: no face in %d of %d frames", missed, len(paths))
        return rows.build()

    return _cached(cache, "fl3d", paths, build)


def ckplus_people(root: Path, cache: Path) -> PeopleSet:
    """CK+ expression faces (upscaled for the tracker): mouths are yawn negatives (smiles,
    surprised open mouths); eyes are open-eye data only for expressions with open eyes."""
    from training.synthetic import OPEN_EYED, UPSCALE_TO, ckplus_images, subject_of

    paths = ckplus_images(root)
    if not paths:
        raise TrainingError(f"{root}: no CK+ faces")

    def build(paths: list[Path]) -> PeopleSet:
        import cv2

        rows = _Rows()
        with _static_tracker() as tracker:
            for p in paths:
                img = read_image(p)
                if img is None:
                    continue
                f = UPSCALE_TO / min(img.shape[:2])
                img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
                open_eyed = bool(OPEN_EYED.match(p.name)) or p.parent.name != "other_expression"
                _face_rows(
                    rows,
                    tracker,
                    img,
                    person=f"ck:{subject_of(p)}",
                    source="ckplus",
                    eye_label=0 if open_eyed else -1,
                    yawn_label=0,
                )
        return rows.build()

    return _cached(cache, "ckplus", paths, build)


def portrait_people(root: Path, cache: Path) -> PeopleSet:
    """The portraits: open eyes, closed or smiling mouths, one person each."""
    paths = sorted(root.glob("*.jpg"))

    def build(paths: list[Path]) -> PeopleSet:
        rows = _Rows()
        with _static_tracker() as tracker:
            for p in paths:
                img = read_image(p)
                if img is not None:
                    _face_rows(
                        rows,
                        tracker,
                        img,
                        person=f"portrait:{p.stem}",
                        source="portraits",
                        eye_label=0,
                        yawn_label=0,
                    )
        return rows.build()

    return _cached(cache, "portraits", paths, build)


def webcam_people(videos: Path, cache: Path) -> PeopleSet:
    """The three hand-labelled webcam videos of one person with glasses (benchmarks'
    blink labels): every closed frame and every 4th open frame away from a closure."""
    from training.realdata import DEV_VIDEOS, TEST_VIDEOS, labelled_video_crops

    stems = DEV_VIDEOS + TEST_VIDEOS
    paths = [videos / f"{s}.avi" for s in stems if (videos / f"{s}.avi").is_file()]

    def build(paths: list[Path]) -> PeopleSet:
        rows, face = _Rows(), 0
        for p in paths:
            eyes, mouths = labelled_video_crops(p, p.stem)
            assert eyes.ear is not None and eyes.pitch is not None and mouths.mar is not None
            for k, (img, y) in enumerate(zip(eyes.images, eyes.labels, strict=True)):
                # left then right eye of each frame: one face id per pair
                idx = int(eyes.sources[k].rsplit("#", 1)[1])
                rows.add(
                    img,
                    eye_label=int(y),
                    person="webcam:glasses",
                    source="webcam",
                    ear=float(eyes.ear[k]),
                    pitch=float(eyes.pitch[k]),
                    frame=idx,
                    face=face + k // 2,
                )
            face += len(eyes) // 2
            for k, img in enumerate(mouths.images):
                rows.add(
                    img,
                    yawn_label=0,
                    person="webcam:glasses",
                    source="webcam",
                    mar=float(mouths.mar[k]),
                    face=face + k,
                )
            face += len(mouths)
        return rows.build()

    # "webcam-pose": the cache name since the eye crops carry the head pitch (fusion input)
    return _cached(cache, "webcam-pose", paths, build)


def kaggle_people(data: Path, cache: Path) -> PeopleSet:
    """The Kaggle eye and mouth close-ups: no person ids, so one id per source (training
    only: :mod:`training.protocol` never validates on a group that is not a person)."""
    from training.data import class_folders

    paths = _images_in(data / "eyes") + _images_in(data / "yawn")

    def build(paths: list[Path]) -> PeopleSet:
        rows = _Rows()
        eyes, yawn = class_folders(data / "eyes", "eyes"), class_folders(data / "yawn", "yawn")
        for img, y in zip(eyes.images, eyes.labels, strict=True):
            rows.add(img, eye_label=int(y), person="kaggle:eyes", source="kaggle_eyes")
        for img, y in zip(yawn.images, yawn.labels, strict=True):
            rows.add(img, yawn_label=int(y), person="kaggle:yawn", source="kaggle_yawn")
        return rows.build()

    return _cached(cache, "kaggle", paths, build)


PAINTED_MIN_EAR = 0.2  # only a face whose eyes are clearly open is painted shut


def painted_people(data: Path, cache: Path) -> PeopleSet:
    """Closed-eye crops made from open-eyed daylight faces of many people: the CK+ faces with
    an open-eyed expression, their lids painted shut by the scenario renderer, taken through
    the face's native 48 px and back (so the paint is as blurred as the face) and tracked again
    as the runtime would. Why: every real closed eye of several people is a night-time
    near-infrared or in-car one (MRL, FL3D), so nothing shows the network a closed eye in a
    daylight face; these do, paired with the same faces' open eyes. (The portraits are left
    out: at their resolution the paint is a flat patch with a crisp lash line, a shortcut.)
    Synthetic, so training data only (:attr:`training.protocol.Split.extra`: never scored),
    tied to the face's person, so a fold trains on the painted eyes of its training people
    only."""
    import cv2

    from training.synthetic import OPEN_EYED, UPSCALE_TO, _paint_closed, ckplus_images, subject_of

    paths = [p for p in ckplus_images(data / "mouth_negatives") if OPEN_EYED.match(p.name)]
    if not paths:
        raise TrainingError(f"{data / 'mouth_negatives'}: no open-eyed CK+ faces to paint")

    def build(paths: list[Path]) -> PeopleSet:
        rows, face = _Rows(), 0
        with _static_tracker() as tracker:
            for p in paths:
                img = read_image(p)
                if img is None:
                    continue
                native = (img.shape[1], img.shape[0])
                f = UPSCALE_TO / min(img.shape[:2])
                img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
                obs = tracker.process(Frame(img, 0.0, 0))
                if not obs.present or obs.landmarks is None:
                    continue
                if min(obs.ear_left or 0.0, obs.ear_right or 0.0) < PAINTED_MIN_EAR:
                    continue
                shut = tracker.process(Frame(_paint_closed(img, obs.landmarks, native), 0.0, 0))
                if not shut.present or shut.crops is None:
                    continue
                for crop, ear in (
                    (shut.crops.left_eye, shut.ear_left),
                    (shut.crops.right_eye, shut.ear_right),
                ):
                    rows.add(
                        crop,
                        eye_label=1,
                        person=f"ck:{subject_of(p)}",
                        source="ckplus_painted",
                        ear=NAN if ear is None else float(ear),
                        face=face,
                    )
                face += 1
        return rows.build()

    return _cached(cache, "painted", paths, build)


SOURCES = {
    "mrl": lambda data, cache: mrl_people(data / "eyes_mrl", cache),
    "fl3d": lambda data, cache: fl3d_people(data / "fl3d", cache),
    "ckplus": lambda data, cache: ckplus_people(data / "mouth_negatives", cache),
    "portraits": lambda data, cache: portrait_people(data / "portraits", cache),
    "webcam": lambda data, cache: webcam_people(data / "videos", cache),
    "kaggle": kaggle_people,
}


def load_people(data: Path, cache: Path, sources: tuple[str, ...] = tuple(SOURCES)) -> PeopleSet:
    """Every source present under ``data`` (a missing folder is skipped with a warning)."""
    got = []
    for name in sources:
        try:
            got.append(SOURCES[name](data, cache))
        except (TrainingError, FileNotFoundError) as exc:
            log.warning("%s: skipped (%s)", name, exc)
    return PeopleSet.concat(got)
