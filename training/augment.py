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
    shift: float = 0.1  # off-centre crops (landmark jitter)
    flip: float = 0.5
    low_res: tuple[int, int] = (10, 64)  # downscale to this side, then back up (eyes ~8 px)
    low_res_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.0, 1.4)
    brightness: float = 0.3
    contrast: tuple[float, float] = (0.6, 1.4)
    gamma: tuple[float, float] = (0.7, 1.5)
    noise_sigma: tuple[float, float] = (0.0, 8.0)
    jpeg_quality: tuple[int, int] = (25, 95)
    jpeg_p: float = 0.5
    glare_p: float = 0.25
    occlude_p: float = 0.0  # mouth crops: a hand, phone, cup, cigarette or food in front


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


def occlude(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Something in front of the mouth, as drivers eat, drink, smoke and phone: the yawn
    model must learn that an odd shape near the mouth is not an open mouth. Grey levels and
    soft edges vary; the object covers part of the crop, entering from an edge."""
    h, w = img.shape
    out = img.copy()
    level = int(rng.integers(20, 236))
    kind = rng.choice(["hand", "phone", "cup", "cigarette", "food"])
    cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.35, 1.0) * h
    if kind == "hand":  # a palm with fingers across the mouth
        cv2.ellipse(
            out, (int(cx), int(cy + h * 0.25)), (int(w * 0.3), int(h * 0.25)), 0, 0, 360, level, -1
        )
        for k in range(4):
            x = int(cx - w * 0.22 + k * w * 0.13)
            cv2.rectangle(
                out, (x, int(cy - h * 0.2)), (x + int(w * 0.1), int(cy + h * 0.2)), level, -1
            )
    elif kind == "phone":
        angle = rng.uniform(-30, 30)
        box = cv2.boxPoints(
            ((cx, cy), (w * rng.uniform(0.25, 0.4), h * rng.uniform(0.6, 0.9)), angle)
        )
        cv2.fillPoly(out, [np.round(box).astype(np.int32)], level)
    elif kind == "cup":
        x0, x1 = int(cx - w * 0.18), int(cx + w * 0.18)
        cv2.rectangle(out, (x0, int(cy)), (x1, h), level, -1)
        cv2.ellipse(
            out,
            (int(cx), int(cy)),
            (int(w * 0.18), int(h * 0.06)),
            0,
            0,
            360,
            max(0, level - 40),
            -1,
        )
    elif kind == "cigarette":
        angle = np.deg2rad(rng.uniform(-35, 35))
        length = w * rng.uniform(0.3, 0.5)
        x1, y1 = cx + length * np.cos(angle), cy + length * np.sin(angle)
        thick = max(2, int(w * 0.05))
        cv2.line(out, (int(cx), int(cy)), (int(x1), int(y1)), int(rng.integers(170, 250)), thick)
    else:  # food: a few irregular blobs
        for _ in range(int(rng.integers(2, 5))):
            c = (int(cx + rng.normal(0, w * 0.08)), int(cy + rng.normal(0, h * 0.08)))
            axes = (int(rng.uniform(0.06, 0.16) * w), int(rng.uniform(0.05, 0.12) * h))
            shade = int(np.clip(level + rng.normal(0, 25), 0, 255))
            cv2.ellipse(out, c, axes, float(rng.uniform(0, 180)), 0, 360, shade, -1)
    mask = (out != img).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.5, 1.5))
    texture = rng.normal(0, rng.uniform(2, 10), img.shape)
    blended = img * (1 - mask) + (out + texture) * mask
    return np.clip(blended, 0, 255).astype(np.uint8)


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
    if rng.random() < cfg.occlude_p:
        img = occlude(img, rng)
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
