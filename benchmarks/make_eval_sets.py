"""Build the labelled evaluation sets for ``drowsy evaluate`` from ../shared/data.

Usage: python benchmarks/make_eval_sets.py OUT_DIR [--data ../shared/data]

Nothing from the data is copied into the repository: videos are symlinked and frames are written
under OUT_DIR. The only labels are ours: benchmarks/blink_labels.json, made by hand by looking at
eye-crop contact sheets of every frame whose EAR fell below 80 % of the video's typical value
(closed = the eyelid hides the pupil). webcam_glasses_3 is the development video (thresholds were
chosen on it); the other two are the test videos.

Sets written:
- blinks_dev/, blinks_test/: videos + <stem>.csv frame labels
- eyes_test/open, eyes_test/closed: whole frames of the test videos (closed: every labelled
  closed frame; open: every 8th frame at least 3 frames from a closure) plus the same faces as
  tight crops scaled to 64 px, plus the portraits (open)
- yawn_test/no_yawn: portraits and every 20th test-video frame; yawn/ is empty because the data
  has no whole-face yawning images (the yawn folder holds mouth crops only)
- yawn_ckplus_test/no_yawn: the CK+ faces of the test subjects (training.synthetic's subject
  split; no model trained or chose anything on them): smiles, wide-open surprised mouths and
  other expressions of people the models never saw, hard negatives for yawn
- yawn_occluded_test/no_yawn: the same faces (upscaled to 192 px) with an object drawn over the
  mouth where MediaPipe finds it (a hand, phone, cup, cigarette or food, seeded; the shapes of
  training.augment.occlude, which the yawn members saw on other people's mouth crops): what a
  driver eating, drinking, smoking or phoning looks like to the yawn decision
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.sources import VideoFileSource  # noqa: E402

LABELS = ROOT / "benchmarks" / "blink_labels.json"
DEV = ["webcam_glasses_3"]
TEST = ["webcam_glasses_5_low_fps", "webcam_glasses_6_low_fps"]


def labels(stem: str) -> dict[int, bool]:
    video = json.loads(LABELS.read_text())["videos"][stem]
    closed = set(video["closed"])
    return {i: i in closed for i in range(video["frames"])}


def link_videos(data: Path, out: Path, stems: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        target = out / f"{stem}.avi"
        if not target.exists():
            target.symlink_to((data / "videos" / f"{stem}.avi").resolve())
        lab = labels(stem)
        lines = ["frame,closed", *(f"{i},{int(c)}" for i, c in sorted(lab.items()))]
        (out / f"{stem}.csv").write_text("\n".join(lines) + "\n")


def tight(image, face_box):
    """A square crop around the face centre: what a face detector upstream might hand over."""
    h, w = image.shape[:2]
    x, y, side = face_box
    return image[max(0, y) : min(h, y + side), max(0, x) : min(w, x + side)]


OCCLUDED_SIDE = 192  # CK+ faces are 48 px: objects are drawn at a size MediaPipe works at


def occlude_mouth(image, landmarks, rng):
    """An object over the mouth: ``training.augment.occlude`` on a square around the lips
    (1.8 mouth widths), pasted back in colour."""
    from training.augment import occlude

    lips = landmarks[[61, 291, 0, 17], :2]
    cx, cy = lips.mean(axis=0)
    half = 0.9 * (lips[:, 0].max() - lips[:, 0].min())
    h, w = image.shape[:2]
    x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
    x1, y1 = min(w, int(cx + half)), min(h, int(cy + half))
    gray = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
    drawn = occlude(gray, rng)
    changed = drawn != gray
    out = image.copy()
    out[y0:y1, x0:x1][changed] = drawn[changed][:, None]
    return out


def occluded_faces(faces: list[Path], out: Path) -> int:
    """yawn_occluded_test/no_yawn from the CK+ test faces (see the module docstring)."""
    import numpy as np

    from drowsy.contracts import Frame
    from drowsy.pipeline import Pipeline
    from drowsy.settings import Settings

    (out / "yawn").mkdir(parents=True, exist_ok=True)
    (out / "no_yawn").mkdir(parents=True, exist_ok=True)
    settings = Settings()
    settings.runtime.estimator = "geometric"  # landmarks only: no model chooses the objects
    rng = np.random.default_rng(2026)
    n = 0
    with Pipeline(settings, static_images=True) as pipe:
        for path in faces:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                continue
            f = OCCLUDED_SIDE / min(image.shape[:2])
            image = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
            obs = pipe.tracker.process(Frame(image, 0.0, 0))
            if not obs.present or obs.landmarks is None:
                continue
            occluded = occlude_mouth(image, obs.landmarks, rng)
            cv2.imwrite(str(out / "no_yawn" / f"{path.stem}_occluded.png"), occluded)
            n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    data, out = args.data, args.out
    link_videos(data, out / "blinks_dev", DEV)
    link_videos(data, out / "blinks_test", TEST)
    eyes, yawn = out / "eyes_test", out / "yawn_test"
    for d in (eyes / "open", eyes / "closed", yawn / "no_yawn", yawn / "yawn"):
        d.mkdir(parents=True, exist_ok=True)
    for portrait in sorted((data / "portraits").glob("*.jpg")):
        shutil.copy(portrait, eyes / "open" / portrait.name)
        shutil.copy(portrait, yawn / "no_yawn" / portrait.name)
    # a fixed box around where the face sits in these recordings, for the tight crops
    boxes = {
        "webcam_glasses_5_low_fps": (200, 180, 220),
        "webcam_glasses_6_low_fps": (200, 170, 220),
    }
    counts = {"open": 0, "closed": 0}
    for stem in TEST:
        lab = labels(stem)
        closed = [i for i, c in lab.items() if c]
        with VideoFileSource(data / "videos" / f"{stem}.avi") as src:
            for frame in src:
                i = frame.index
                is_closed = lab.get(i, False)
                far = all(abs(i - c) >= 3 for c in closed)
                if is_closed or (far and i % 8 == 0):
                    label = "closed" if is_closed else "open"
                    cv2.imwrite(str(eyes / label / f"{stem}_{i:04d}.jpg"), frame.image)
                    small = cv2.resize(
                        tight(frame.image, boxes[stem]), (64, 64), interpolation=cv2.INTER_AREA
                    )
                    cv2.imwrite(str(eyes / label / f"{stem}_{i:04d}_tight64.jpg"), small)
                    counts[label] += 2
                if far and i % 20 == 0:
                    cv2.imwrite(str(yawn / "no_yawn" / f"{stem}_{i:04d}.jpg"), frame.image)
    ck = out / "yawn_ckplus_test" / "no_yawn"
    ck.mkdir(parents=True, exist_ok=True)
    if (data / "mouth_negatives").is_dir():
        from training.synthetic import ckplus_images, split_subjects

        for p in split_subjects(ckplus_images(data / "mouth_negatives"))["test"]:
            shutil.copy(p, ck / p.name)
    (out / "yawn_ckplus_test" / "yawn").mkdir(exist_ok=True)
    occluded = occluded_faces(sorted(ck.iterdir()), out / "yawn_occluded_test")
    print(
        f"wrote {out}: eyes_test open={counts['open']} closed={counts['closed']}, "
        f"yawn_occluded_test no_yawn={occluded}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
