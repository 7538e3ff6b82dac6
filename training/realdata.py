"""The labelled and unlabelled sets made from ../shared/data for the shipped models.

Test sets are crops the runtime pipeline itself cuts from people and cameras the models never
trained on: the two hand-labelled test webcam videos and the portraits. The development video
(webcam_glasses_3) validates choices; it is never a test set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from drowsy.contracts import Frame
from drowsy.inference.preprocess import square, to_gray
from drowsy.settings import Settings
from drowsy.sources import VideoFileSource, read_image
from drowsy.vision.tracker import FaceTracker, TrackerOptions
from training.data import SIZE, TASK_CLASSES, CropSet, tracker_crops

LABELS = Path(__file__).resolve().parents[1] / "benchmarks" / "blink_labels.json"
DEV_VIDEOS = ("webcam_glasses_3",)
TEST_VIDEOS = ("webcam_glasses_5_low_fps", "webcam_glasses_6_low_fps")


def frame_labels(stem: str) -> dict[int, bool]:
    """Our hand labels: frame index -> eyes closed."""
    video = json.loads(LABELS.read_text())["videos"][stem]
    closed = set(video["closed"])
    return {i: i in closed for i in range(video["frames"])}


def _g(img: np.ndarray) -> np.ndarray:
    return square(to_gray(img), SIZE)


def labelled_video_crops(video: Path, stem: str, open_every: int = 4) -> tuple[CropSet, CropSet]:
    """(eye crops, mouth crops) of a labelled video: every closed frame (both eyes) and every
    ``open_every``-th open frame at least 3 frames from a closure. Mouths are all no_yawn."""
    labels = frame_labels(stem)
    closed = [i for i, c in labels.items() if c]
    s = Settings()
    eyes, eye_y, mouths, src, ears, mars, pitches = [], [], [], [], [], [], []
    with (
        VideoFileSource(video) as frames,
        FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze)) as tracker,
    ):
        for frame in frames:
            obs = tracker.process(frame)  # every frame: tracking state as at run time
            i = frame.index
            is_closed = labels.get(i, False)
            far = all(abs(i - c) >= 3 for c in closed)
            if (
                not obs.present
                or obs.crops is None
                or not (is_closed or (far and i % open_every == 0))
            ):
                continue
            for crop, ear in (
                (obs.crops.left_eye, obs.ear_left),
                (obs.crops.right_eye, obs.ear_right),
            ):
                eyes.append(_g(crop))
                eye_y.append(int(is_closed))
                src.append(f"{stem}#{i}")
                ears.append(ear)
                pitches.append(obs.pose.pitch if obs.pose is not None else np.nan)
            if not is_closed:
                mouths.append(_g(obs.crops.mouth))
                mars.append(obs.mar)
    eye_set = CropSet(
        np.stack(eyes),
        np.asarray(eye_y),
        TASK_CLASSES["eyes"],
        src,
        ear=np.asarray(ears),
        pitch=np.asarray(pitches, np.float64),
    )
    mouth_set = CropSet(
        np.stack(mouths),
        np.zeros(len(mouths), np.int64),
        TASK_CLASSES["yawn"],
        [f"{stem}-mouth"] * len(mouths),
        mar=np.asarray(mars, np.float64),
    )
    return eye_set, mouth_set


def portrait_crops(folder: Path) -> tuple[CropSet, CropSet]:
    """Open eyes and closed mouths (some smiling) of every face in the portraits."""
    s = Settings()
    eyes, mouths, src, ears, mars = [], [], [], [], []
    with FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze, static_images=True)) as tr:
        for path in sorted(folder.glob("*.jpg")):
            img = read_image(path)
            obs = tr.process(Frame(img, 0.0, 0)) if img is not None else None
            if obs is None or not obs.present or obs.crops is None:
                continue
            eyes += [_g(obs.crops.left_eye), _g(obs.crops.right_eye)]
            ears += [obs.ear_left, obs.ear_right]
            mouths.append(_g(obs.crops.mouth))
            mars.append(obs.mar)
            src.append(path.name)
    return (
        CropSet(
            np.stack(eyes),
            np.zeros(len(eyes), np.int64),
            TASK_CLASSES["eyes"],
            [n for n in src for _ in (0, 1)],
            ear=np.asarray(ears),
        ),
        CropSet(
            np.stack(mouths),
            np.zeros(len(mouths), np.int64),
            TASK_CLASSES["yawn"],
            src,
            mar=np.asarray(mars, np.float64),
        ),
    )


def unlabelled_crops(data: Path, cache: Path) -> CropSet:
    """Pretraining data: every labelled-set image without its label, plus tracker crops (eyes
    and mouth) of the development video, the stage clip, the portraits and the CK+ faces of
    the train and validation subjects. The test videos and the CK+ test subjects are left out
    (the same person appears in the dev video, so pretraining has seen that face, without
    labels)."""
    from training.data import class_folders

    sets = [class_folders(data / "eyes", "eyes"), class_folders(data / "yawn", "yawn")]
    inputs = [data / "videos" / f"{s}.avi" for s in DEV_VIDEOS] + [
        data / "videos" / "stage_clip.mp4"
    ]
    inputs += sorted((data / "portraits").glob("*.jpg"))
    if (data / "mouth_negatives").is_dir():  # CK+ faces of the train/val subjects (118 people)
        from training.synthetic import ckplus_images, split_subjects

        split = split_subjects(ckplus_images(data / "mouth_negatives"))
        inputs += split["train"] + split["val"]
    sets.append(tracker_crops(inputs, cache, ("left_eye", "right_eye", "mouth"), every=1))
    out = CropSet.concat(sets)
    out.labels = np.full(len(out), -1)
    out.classes = ()
    return out
