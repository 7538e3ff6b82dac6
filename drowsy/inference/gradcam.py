"""Grad-CAM without torch, from the ``features`` and ``grad_features`` outputs the exported
graphs provide (see training/export.py).

heat = ReLU(sum_k alpha_k * A_k), alpha_k = spatial mean of d score_c / d A_k, upsampled to the
crop and scaled to 0..1. It runs only for frames that raised an alert, never per frame.
"""

from __future__ import annotations

import cv2
import numpy as np


def gradcam(features: np.ndarray, grads: np.ndarray, size: int) -> np.ndarray:
    """Heat maps (N, size, size) in 0..1 from features (N, K, h, w) and the chosen class's
    gradients (N, K, h, w)."""
    alpha = grads.mean(axis=(2, 3))  # (N, K)
    cam = np.maximum(np.einsum("nk,nkhw->nhw", alpha, features), 0.0)
    out = np.empty((cam.shape[0], size, size), np.float32)
    for i, m in enumerate(cam):
        up = cv2.resize(m.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        lo, hi = float(up.min()), float(up.max())
        out[i] = (up - lo) / (hi - lo) if hi - lo > 1e-12 else np.zeros_like(up)
    return out


def overlay(crop: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The heat map (0..1) in the JET colour map over a BGR or gray crop."""
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    heat = cv2.resize(heat, (crop.shape[1], crop.shape[0]))
    colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)
    return cv2.addWeighted(crop, 1 - alpha, colour, alpha, 0)
