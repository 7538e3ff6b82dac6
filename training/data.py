"""Datasets: class-per-folder crop sets, public layouts (MRL Eye, CEW, YawDD-style frame
folders), and crops cut by the runtime's face tracker from videos and face images.

Everything is loaded once into memory as 64x64 grayscale uint8 (the sets are small: 5000 crops
are 20 MB), so epochs cost only augmentation and the network.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from drowsy.inference.preprocess import square, to_gray
from drowsy.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES, read_image
from drowsy.vision.crops import CROP_SPEC_VERSION, REGIONS
from training.errors import TrainingError

log = logging.getLogger(__name__)

SIZE = 64
TASK_CLASSES: dict[str, tuple[str, str]] = {
    "eyes": ("open", "closed"),
    "yawn": ("no_yawn", "yawn"),
}
TASK_REGIONS: dict[str, tuple[str, ...]] = {"eyes": ("left_eye", "right_eye"), "yawn": ("mouth",)}


@dataclass
class CropSet:
    """Images (N, 64, 64) uint8 with integer labels (index into ``classes``; -1 = unlabelled)."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...] = ()
    sources: list[str] = field(default_factory=list)
    skipped: int = 0
    ear: np.ndarray | None = None  # per-crop eye-aspect ratio, where the pipeline measured one
    mar: np.ndarray | None = None  # per-crop mouth-aspect ratio, likewise
    pitch: np.ndarray | None = None  # per-crop head pitch in degrees (raw head pose), likewise

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, idx: np.ndarray) -> CropSet:
        return CropSet(
            self.images[idx],
            self.labels[idx],
            self.classes,
            [self.sources[i] for i in idx],
            0,
            None if self.ear is None else self.ear[idx],
            None if self.mar is None else self.mar[idx],
            None if self.pitch is None else self.pitch[idx],
        )

    @staticmethod
    def concat(sets: Iterable[CropSet]) -> CropSet:
        sets = [s for s in sets if len(s)]
        if not sets:
            return CropSet(np.zeros((0, SIZE, SIZE), np.uint8), np.zeros(0, np.int64))

        def joined(name: str) -> np.ndarray | None:
            parts = [getattr(s, name) for s in sets]
            return None if any(p is None for p in parts) else np.concatenate(parts)

        return CropSet(
            np.concatenate([s.images for s in sets]),
            np.concatenate([s.labels for s in sets]),
            sets[0].classes,
            [src for s in sets for src in s.sources],
            sum(s.skipped for s in sets),
            joined("ear"),
            joined("mar"),
            joined("pitch"),
        )

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}


def _load(items: list[tuple[Path, int]], classes: tuple[str, ...]) -> CropSet:
    images, labels, sources, skipped = [], [], [], 0
    for path, label in items:
        img = read_image(path)
        if img is None:
            skipped += 1
            log.warning("%s: not a readable image, skipped", path)
            continue
        images.append(square(to_gray(img), SIZE))
        labels.append(label)
        sources.append(str(path))
    if skipped:
        log.warning("skipped %d unreadable images", skipped)
    arr = np.stack(images) if images else np.zeros((0, SIZE, SIZE), np.uint8)
    return CropSet(arr, np.asarray(labels, np.int64), classes, sources, skipped)


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def class_folders(root: Path, task: str) -> CropSet:
    """``root/<class>/*`` for the task's two classes (e.g. eyes: open/, closed/)."""
    classes = TASK_CLASSES[task]
    if not root.is_dir():
        raise TrainingError(f"{root}: no such folder")
    items = []
    for label, name in enumerate(classes):
        folder = root / name
        found = _images_in(folder) if folder.is_dir() else []
        if not found:
            raise TrainingError(
                f"{root}: class {name!r} has no images (expected {'/, '.join(classes)}/ folders)"
            )
        items += [(p, label) for p in found]
    return _load(items, classes)


_MRL = re.compile(r"^s\d+_\d+_\d_\d_(?P<state>[01])_\d_\d_\d+$")


def mrl_eye(root: Path) -> CropSet:
    """MRL Eye: the eye state is the 5th field of the file name (0 closed, 1 open)."""
    items = []
    for p in _images_in(root):
        m = _MRL.match(p.stem)
        if m:
            items.append((p, 1 if m["state"] == "0" else 0))
    if not items:
        raise TrainingError(f"{root}: no MRL Eye files (names like s0001_00001_0_0_0_0_0_01.png)")
    return _load(items, TASK_CLASSES["eyes"])


def cew(root: Path) -> CropSet:
    """CEW (Closed Eyes in the Wild) eye patches: folders like closedLeftEyes, openRightEyes."""
    items = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        name = folder.name.lower()
        if name.startswith("closed") and "eye" in name:
            items += [(p, 1) for p in _images_in(folder)]
        elif name.startswith("open") and "eye" in name:
            items += [(p, 0) for p in _images_in(folder)]
    if not items:
        raise TrainingError(f"{root}: no CEW folders (closedLeftEyes/, openRightEyes/, ...)")
    return _load(items, TASK_CLASSES["eyes"])


def yawdd_frames(root: Path, cache: Path) -> CropSet:
    """YawDD-style frame folders: faces in folders whose name says Yawning / Normal / Talking.
    Mouth crops are cut by the runtime tracker (cached)."""
    items: list[tuple[Path, int]] = []
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        name = folder.name.lower()
        label = 1 if "yawn" in name else 0 if ("normal" in name or "talk" in name) else None
        if label is None:
            continue
        items += [
            (p, label) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
        ]
    if not items:
        raise TrainingError(f"{root}: no Yawning/Normal/Talking frame folders")
    crops, labels, sources = [], [], []
    for path, label in items:
        got = tracker_crops([path], cache, ("mouth",))
        if len(got):
            crops.append(got.images[0])
            labels.append(label)
            sources.append(str(path))
    return CropSet(np.stack(crops), np.asarray(labels), TASK_CLASSES["yawn"], sources)


def _cache_key(path: Path, every: int) -> str:
    st = path.stat()
    raw = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{every}|crop-v{CROP_SPEC_VERSION}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def tracker_crops(
    inputs: Iterable[Path], cache: Path, regions: tuple[str, ...], every: int = 1
) -> CropSet:
    """Unlabelled crops the runtime tracker cuts from videos (every ``every``-th frame) and face
    images, cached as .npz per input file so re-runs skip MediaPipe."""
    from drowsy.contracts import Frame
    from drowsy.settings import Settings
    from drowsy.sources import VideoFileSource
    from drowsy.vision.tracker import FaceTracker, TrackerOptions

    s = Settings()
    cache.mkdir(parents=True, exist_ok=True)
    sets = []
    for path in inputs:
        file = cache / f"{path.stem}-{_cache_key(path, every)}.npz"
        if not file.exists():
            is_video = path.suffix.lower() in VIDEO_SUFFIXES
            opts = TrackerOptions(s.tracker, s.quality, s.gaze, static_images=not is_video)
            found: dict[str, list[np.ndarray]] = {r: [] for r in REGIONS}
            with FaceTracker(opts) as tracker:
                frames = VideoFileSource(path) if is_video else None
                still = None if is_video else read_image(path)
                stream: Iterable[Frame] = frames if frames is not None else []
                if still is not None:
                    stream = [Frame(still, 0.0, 0)]
                for frame in stream:
                    if frame.image is None or frame.index % every:
                        continue
                    obs = tracker.process(frame)
                    if obs.present and obs.crops is not None:
                        for r in REGIONS:
                            found[r].append(square(to_gray(getattr(obs.crops, r)), SIZE))
                if frames is not None:
                    frames.close()
            np.savez_compressed(
                file,
                **{
                    r: np.stack(v) if v else np.zeros((0, SIZE, SIZE), np.uint8)
                    for r, v in found.items()
                },
            )
        with np.load(file) as z:
            for r in regions:
                imgs = z[r]
                sets.append(CropSet(imgs, np.full(len(imgs), -1), (), [str(path)] * len(imgs)))
    return CropSet.concat(sets)


def split(n: int, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Random disjoint index sets with the given fractions (the last takes the rest)."""
    idx = np.random.default_rng(seed).permutation(n)
    out, start = [], 0
    for f in fractions[:-1]:
        end = start + round(f * n)
        out.append(idx[start:end])
        start = end
    out.append(idx[start:])
    return out


def stratified_fraction(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A class-balanced subset holding ``fraction`` of each class (at least 2 per class)."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(2, round(fraction * len(idx)))
        keep.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))


def save_crops(crops: CropSet, out: Path) -> None:
    """Write crops as PNGs under ``out/<class>/`` (or ``out/unlabelled/``) for inspection."""
    for i, (img, label) in enumerate(zip(crops.images, crops.labels, strict=True)):
        name = crops.classes[label] if label >= 0 and crops.classes else "unlabelled"
        (out / name).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / name / f"{i:06d}.png"), img)
