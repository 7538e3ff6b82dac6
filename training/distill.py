"""Distil a task's ensemble into one member: the teacher's soft answers on every unlabelled
crop of the runtime's domain, plus the labels where there are labels.

Why: the eye ensemble (three members on both eyes, every frame) is the largest cost of a frame
after MediaPipe. One student costs about a third, and it learns the teacher's behaviour on the
crops the runtime actually cuts (webcam, portraits, CK+ faces), not only on the close-up crops
that carry labels. Measured once (benchmarks/EVALUATION.md): dev video frame F1 0.947 against
the three members' 0.944; not shipped yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from training.augment import AugmentConfig, augment_batch
from training.data import CropSet
from training.errors import TrainingError
from training.models import CropNet
from training.recipes import DistillConfig
from training.train import FinetuneConfig, build_classifier, seed_everything, soft_kl, to_input


class Teacher(Protocol):
    """Anything that answers class probabilities (N, 2) for uint8 crops."""

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


def soft_targets(p_positive: torch.Tensor, temperature: float) -> torch.Tensor:
    """The teacher's two-class distribution softened by ``temperature`` (its log-odds / T)."""
    logit = torch.logit(p_positive.clamp(1e-4, 1 - 1e-4)) / temperature
    return torch.stack([torch.sigmoid(-logit), torch.sigmoid(logit)], dim=1)


def distill(
    teacher: Teacher,
    labelled: CropSet,
    unlabelled: CropSet,
    cfg: DistillConfig,
    task: str,
    progress_every: int = 0,
) -> CropNet:
    """Train one student: KL divergence to the softened teacher on every batch (labelled and
    unlabelled crops, augmented as in fine-tuning) plus cross-entropy on the labelled ones."""
    if len(np.unique(labelled.labels)) < 2:
        raise TrainingError("distillation needs labelled examples of both classes")
    if len(unlabelled) == 0:
        raise TrainingError("distillation needs unlabelled crops")
    images = np.concatenate([labelled.images, unlabelled.images])
    labels = np.concatenate([labelled.labels, np.full(len(unlabelled), -1)])
    p_teacher = np.concatenate(
        [teacher(images[i : i + 256])[:, 1] for i in range(0, len(images), 256)]
    ).astype(np.float32)
    rng = seed_everything(cfg.seed)
    model = build_classifier(
        FinetuneConfig(task=task, arch=cfg.arch, backbone=cfg.backbone, mode="full")
    )
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps)
    aug = AugmentConfig()
    with_label = np.flatnonzero(labels >= 0)
    without = np.flatnonzero(labels < 0)
    positives = without[p_teacher[without] >= 0.5]
    pools = [(with_label, cfg.labelled_per_batch), (without, cfg.unlabelled_per_batch)]
    if len(positives):
        pools.append((positives, cfg.positives_per_batch))
    model.train()
    for step in range(cfg.steps):
        idx = np.concatenate([rng.choice(pool, n) for pool, n in pools])
        logits = model(to_input(augment_batch(images[idx], rng, aug), model.input_size))
        target = soft_targets(torch.from_numpy(p_teacher[idx]), cfg.temperature)
        kd = soft_kl(logits, target, cfg.temperature).mean()
        known = torch.from_numpy(labels[idx] >= 0)
        ce = F.cross_entropy(
            logits[known], torch.from_numpy(labels[idx][labels[idx] >= 0]), label_smoothing=0.05
        )
        loss = kd + ce
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if progress_every and step % progress_every == 0:
            print(f"distill step {step}: kd {kd.item():.3f} ce {ce.item():.3f}", flush=True)
    model.eval()
    return model


def ensemble_teacher(folder: Path) -> Teacher:
    """The shipped ensemble in ``folder`` (soft voting: its confidence is the signal)."""
    from drowsy.inference.ensemble import Ensemble

    ens = Ensemble(folder, voting="soft")

    def answer(images: np.ndarray) -> np.ndarray:
        return ens.predict(list(images)).probs

    return answer
