"""Augmentations that bridge the public crop sets (close-ups, sharp, other cameras) and the
crops the pipeline cuts from a webcam (small, blurred, compressed, noisy, glasses glare).

They work on 64x64 grayscale uint8 with OpenCV, one crop at a time, from a seeded generator so
runs repeat exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    scale: tuple[float, float] = (0.85, 1.2)
    rotate_deg: float = 12.0
    shift: float = 0.08
    flip: float = 0.5
    low_res: tuple[int, int] = (14, 64)  # downscale to this side, then back up
    low_res_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.0, 1.4)
    brightness: float = 0.3
    contrast: tuple[float, float] = (0.6, 1.4)
    gamma: tuple[float, float] = (0.7, 1.5)
    noise_sigma: tuple[float, float] = (0.0, 8.0)
    jpeg_quality: tuple[int, int] = (25, 95)
    jpeg_p: float = 0.5
    glare_p: float = 0.25


def _glare(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bright soft streak or blob, like a lamp reflected in glasses."""
    h, w = img.shape
    mask = np.zeros((h, w), np.float32)
    center = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
    axes = (int(rng.uniform(3, w / 3)), int(rng.uniform(1, h / 8)))
    cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(1.0, 3.0))
    alpha = rng.uniform(0.3, 0.8)
    out = img.astype(np.float32) * (1 - alpha * mask) + 255.0 * alpha * mask
    return np.clip(out, 0, 255).astype(np.uint8)


def augment(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    h, w = img.shape
    if rng.random() < cfg.flip:
        img = img[:, ::-1]
    s = rng.uniform(*cfg.scale)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-cfg.rotate_deg, cfg.rotate_deg), s)
    m[:, 2] += rng.uniform(-cfg.shift, cfg.shift, 2) * (w, h)
    img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < cfg.low_res_p:
        side = int(rng.integers(cfg.low_res[0], cfg.low_res[1] + 1))
        img = cv2.resize(cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA), (w, h))
    sigma = rng.uniform(*cfg.blur_sigma)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if rng.random() < cfg.glare_p:
        img = _glare(img, rng)
    x = img.astype(np.float32) / 255.0
    x = np.clip(x, 0, 1) ** rng.uniform(*cfg.gamma)
    x = (x - 0.5) * rng.uniform(*cfg.contrast) + 0.5 + rng.uniform(-1, 1) * cfg.brightness / 2
    x = x * 255.0 + rng.normal(0, rng.uniform(*cfg.noise_sigma), x.shape)
    img = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < cfg.jpeg_p:
        q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img


def augment_batch(
    images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig | None
) -> np.ndarray:
    if cfg is None:
        return images
    return np.stack([augment(im, rng, cfg) for im in images])
