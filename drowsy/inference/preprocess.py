"""Turning crops into network input, shared by training and runtime so both normalise the same.

Models see grayscale: webcams, near-infrared cabin cameras and the public crop sets differ most
in colour, least in shape, and a closed eyelid or an open jaw is a shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

MEAN = 0.5
STD = 0.25


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[..., 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to ``size`` (public crop sets come in any shape)."""
    h, w = image.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    image = image[y : y + side, x : x + side]
    if side == size:
        return image
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def to_tensor(
    crops: Sequence[np.ndarray], size: int, mean: float = MEAN, std: float = STD
) -> np.ndarray:
    """(N, 1, size, size) float32 from BGR or gray uint8 crops."""
    batch = np.empty((len(crops), 1, size, size), dtype=np.float32)
    for i, crop in enumerate(crops):
        gray = square(to_gray(crop), size)
        batch[i, 0] = (gray.astype(np.float32) / 255.0 - mean) / std
    return batch
