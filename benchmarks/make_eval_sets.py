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
    print(f"wrote {out}: eyes_test open={counts['open']} closed={counts['closed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
