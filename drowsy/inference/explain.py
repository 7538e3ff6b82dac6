"""Explanations for alerts: Grad-CAM of the ONNX models that made the decision, per crop, per
member and for the ensemble, drawn on the crop and on the face region of the frame.

Only frames that raise an alert (and the peak frame when it ends) are explained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from drowsy.contracts import AlertKind, FaceObservation
from drowsy.inference.ensemble import CnnEstimator, Ensemble, mirrored
from drowsy.inference.gradcam import gradcam, overlay
from drowsy.inference.preprocess import to_tensor
from drowsy.vision.crops import region_matrix

EYE_KINDS = frozenset(
    {AlertKind.MICROSLEEP, AlertKind.SLEEP, AlertKind.UNRESPONSIVE, AlertKind.DROWSY_PERCLOS}
)
# (task, crop regions, class explained) for each kind the CNNs decide
TARGETS: dict[AlertKind, list[tuple[str, tuple[str, ...], str]]] = {
    **{k: [("eyes", ("left_eye", "right_eye"), "closed")] for k in EYE_KINDS},
    AlertKind.DROWSY_YAWNS: [("yawn", ("mouth",), "yawn")],
    AlertKind.DROWSY_TEMPORAL: [
        ("eyes", ("left_eye", "right_eye"), "closed"),
        ("yawn", ("mouth",), "yawn"),
    ],
}
PANEL = 128


@dataclass(frozen=True)
class Explanation:
    """The images that explain one alert at one moment (raise or peak): Grad-CAM tiles or the
    tracker overlay."""

    moment: str  # "raise" or "peak"
    images: dict[str, np.ndarray]  # role -> BGR image
    member_probs: dict[str, dict[str, float]] = field(default_factory=dict)


REGION_WORDS = {"left_eye": "left eye", "right_eye": "right eye", "mouth": "mouth"}


def _label(img: np.ndarray, text: str) -> np.ndarray:
    """A tile with its caption on a dark band, large enough to read at a glance."""
    img = cv2.resize(img, (PANEL, PANEL), interpolation=cv2.INTER_NEAREST)
    cv2.rectangle(img, (0, 0), (PANEL, 22), (30, 30, 30), -1)
    cv2.putText(img, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def network_decides(kind: AlertKind) -> bool:
    """Whether a network decided this kind of alert (so Grad-CAM can say where it looked)."""
    return kind in TARGETS


class Explainer:
    """Grad-CAM of the CNN ensembles for the alerts they decided, drawn on crops and face."""

    def __init__(self, estimator: CnnEstimator) -> None:
        self.ensembles: dict[str, Ensemble] = {"eyes": estimator.eyes, "yawn": estimator.yawn}

    def _heat(
        self, ens: Ensemble, crops: list[np.ndarray], cls: str
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """(ensemble heat (N, S, S), member heats, member probabilities of ``cls``)."""
        c = ens.classes.index(cls)
        batch = to_tensor(crops, ens.input_size)
        n = len(batch)
        if ens.mirror:  # the decision averages each crop with its mirror: so does its heat
            batch = np.concatenate([batch, mirrored(batch)])
        heats, probs = [], []
        for out in ens.explain_outputs(batch):
            heat = gradcam(out["features"], out["grad_features"][:, c], ens.input_size)
            prob = out["probs"][:, c]
            if ens.mirror:  # the mirror's heat flipped back onto the crop
                heat, prob = (heat[:n] + heat[n:, :, ::-1]) / 2, (prob[:n] + prob[n:]) / 2
            heats.append(heat)
            probs.append(prob)
        w = np.asarray(ens.weights if ens.voting == "weighted" else [1.0] * len(heats))
        combined = np.tensordot(w / w.sum(), np.stack(heats), axes=1)
        peak = combined.reshape(len(crops), -1).max(axis=1).reshape(-1, 1, 1)
        return combined / np.maximum(peak, 1e-12), heats, probs

    def explain(
        self, kind: AlertKind, image: np.ndarray, obs: FaceObservation, moment: str
    ) -> Explanation | None:
        if kind not in TARGETS or not obs.present or obs.crops is None or obs.landmarks is None:
            return None
        h, w = image.shape[:2]
        frame_heat = np.zeros((h, w), np.float32)
        images: dict[str, np.ndarray] = {}
        member_probs: dict[str, dict[str, float]] = {}
        for task, regions, cls in TARGETS[kind]:
            ens = self.ensembles[task]
            crops = [getattr(obs.crops, r) for r in regions]
            combined, heats, probs = self._heat(ens, crops, cls)
            for i, region in enumerate(regions):
                crop = crops[i]
                tiles = [
                    _label(crop.copy(), REGION_WORDS.get(region, region)),
                    _label(overlay(crop, combined[i]), "all networks"),
                ]
                for k, (heat, p) in enumerate(zip(heats, probs, strict=True), start=1):
                    tiles.append(_label(overlay(crop, heat[i]), f"network {k}: {p[i]:.0%}"))
                images[f"{moment}_gradcam_{region}"] = np.hstack(tiles)
                member_probs[region] = {
                    m.member: round(float(p[i]), 4) for m, p in zip(ens.members, probs, strict=True)
                }
                m_affine = region_matrix(obs.landmarks, region)
                size = combined.shape[1]
                warped = cv2.warpAffine(combined[i].astype(np.float32), m_affine, (w, h))
                inside = cv2.warpAffine(np.ones((size, size), np.float32), m_affine, (w, h))
                frame_heat = np.maximum(frame_heat, warped * (inside > 0.5))
        x0, y0, x1, y1 = obs.bbox or (0, 0, w, h)
        pad = 0.25 * max(x1 - x0, y1 - y0)
        xa, ya = max(0, int(x0 - pad)), max(0, int(y0 - pad))
        xb, yb = min(w, int(x1 + pad)), min(h, int(y1 + pad))
        face = overlay(image[ya:yb, xa:xb].copy(), frame_heat[ya:yb, xa:xb], alpha=0.4)
        images[f"{moment}_gradcam_face"] = face
        return Explanation(moment, images, member_probs)
