"""Tiny labelled crop sets for the training tests: easy enough to learn in a few steps."""

from __future__ import annotations

import cv2
import numpy as np

from training.data import CropSet


def easy_image(closed: bool, rng: np.random.Generator) -> np.ndarray:
    """'open': a dark disc (pupil); 'closed': a dark horizontal line (lid)."""
    img = np.full((64, 64), int(rng.integers(150, 210)), np.uint8)
    cx, cy = (int(v) for v in rng.integers(24, 40, 2))
    if closed:
        cv2.line(img, (cx - 16, cy), (cx + 16, cy), 40, 3)
    else:
        cv2.circle(img, (cx, cy), 9, 40, -1)
    return img


def easy_set(n: int, seed: int) -> CropSet:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = np.stack([easy_image(bool(y), rng) for y in labels])
    return CropSet(images, labels, ("open", "closed"), [f"gen{i}" for i in range(n)])
