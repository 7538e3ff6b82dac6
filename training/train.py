"""Self-supervised pretraining and fine-tuning loops, with seeded, resumable checkpoints.

A checkpoint holds the stage's config dataclass, the weights, the optimizer and the step, so a
stopped run continues where it stopped, and a checkpoint made with another config is refused
rather than silently mixed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from drowsy.inference.preprocess import NORMALISATION, square, standardise
from training.augment import AugmentConfig, augment_batch
from training.data import CropSet
from training.errors import TrainingError
from training.models import CropNet, InpaintDecoder, RotationHead
from training.recipes import FinetuneConfig, PretrainConfig

log = logging.getLogger(__name__)

PRETEXTS = ("rotation", "inpaint")


def seed_everything(seed: int) -> np.random.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def input_key(data: CropSet) -> str:
    """What a checkpoint learned from: the crops and how they were normalised for the network
    (a change of either must not resume or reuse an old run)."""
    h = hashlib.sha1(np.ascontiguousarray(data.images).tobytes())
    h.update(np.ascontiguousarray(data.labels).tobytes())
    h.update(json.dumps(NORMALISATION, sort_keys=True).encode())
    return h.hexdigest()[:12]


def to_input(images: np.ndarray, size: int = 64) -> torch.Tensor:
    """uint8 (N, 64, 64) -> normalised float (N, 1, size, size), as
    drowsy.inference.preprocess does at run time (the same resize, then standardisation)."""
    images = np.asarray(images)
    if len(images) and images.shape[1] != size:
        images = np.stack([square(im, size) for im in images])
    return torch.from_numpy(standardise(images)).unsqueeze(1)


def _save(
    path: Path,
    stage: str,
    config: Any,
    model: nn.Module,
    opt,
    step: int,
    rng: np.random.Generator | None = None,
    **extra,
):
    """A checkpoint with everything a resumed run needs to continue exactly as an
    uninterrupted one would: weights, optimizer, step and both random generators."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "stage": stage,
            "config": asdict(config),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "rng_numpy": None if rng is None else rng.bit_generator.state,
            "rng_torch": torch.get_rng_state(),
            **extra,
        },
        tmp,
    )
    tmp.replace(path)


def load_checkpoint(path: Path, stage: str | None = None) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise TrainingError(f"{path}: not a readable checkpoint ({exc})") from exc
    if not isinstance(ckpt, dict) or "config" not in ckpt or "stage" not in ckpt:
        raise TrainingError(f"{path}: not a drowsy training checkpoint")
    if stage and ckpt["stage"] != stage:
        raise TrainingError(f"{path}: a {ckpt['stage']} checkpoint, expected {stage}")
    return ckpt


def _resume(
    path: Path,
    stage: str,
    config: Any,
    data: str,
    model: nn.Module,
    opt,
    rng: np.random.Generator | None = None,
) -> int:
    """Step to continue from (0 for a fresh run); refuses a checkpoint of another config or
    of other data (``data`` is the training set's :func:`input_key`). Restores ``rng`` and
    torch's generator, so the batches and augmentations go on where they stopped."""
    if not path.exists():
        return 0
    ckpt = load_checkpoint(path, stage)
    # a field added to the config after the checkpoint was written counts at its default
    saved = {**asdict(type(config)()), **ckpt["config"]}
    if saved != asdict(config):
        diff = sorted(k for k in asdict(config) if saved.get(k) != asdict(config)[k])
        raise TrainingError(
            f"{path}: checkpoint from another config (differs in {', '.join(diff)}); "
            "choose another output or delete it"
        )
    if ckpt.get("data") != data:
        raise TrainingError(
            f"{path}: checkpoint trained on other data (crop set {ckpt.get('data')}, now "
            f"{data}); choose another output or delete it"
        )
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    if rng is not None and ckpt.get("rng_numpy") is not None:
        rng.bit_generator.state = ckpt["rng_numpy"]
    if ckpt.get("rng_torch") is not None:
        torch.set_rng_state(ckpt["rng_torch"])
    return int(ckpt["step"])


def _fast_forward(sched, steps: int) -> None:
    """Bring a fresh scheduler to where a resumed run stopped (it warns that the optimizer
    has not stepped, which is the point here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):
            sched.step()


def _patch_mask(n: int, ratio: float, rng: np.random.Generator, size: int = 64, patch: int = 8):
    grid = size // patch
    m = rng.random((n, 1, grid, grid)) < ratio
    return torch.from_numpy(np.kron(m, np.ones((1, 1, patch, patch)))).float()


def pretrain(
    cfg: PretrainConfig,
    data: CropSet,
    out: Path,
    progress: bool = True,
    checkpoint_every: int = 100,
) -> dict:
    """Self-supervised pretraining of a backbone on unlabelled crops."""
    if cfg.pretext not in PRETEXTS:
        raise TrainingError(f"unknown pretext {cfg.pretext!r}; known: {PRETEXTS}")
    if len(data) < cfg.batch_size:
        raise TrainingError(f"pretraining needs at least {cfg.batch_size} crops, got {len(data)}")
    rng = seed_everything(cfg.seed)
    model = CropNet(cfg.arch)
    if cfg.pretext == "inpaint" and model.input_size != 64:
        raise TrainingError(
            f"inpainting rebuilds 64 px crops; {cfg.arch} sees {model.input_size} px"
        )
    head: nn.Module = (
        RotationHead(model.num_features)
        if cfg.pretext == "rotation"
        else InpaintDecoder(model.num_features)
    )
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    both = nn.ModuleDict({"backbone": model, "head": head})
    fingerprint = input_key(data)
    start = _resume(out, "pretrain", cfg, fingerprint, both, opt, rng)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps)
    _fast_forward(sched, start)
    aug = AugmentConfig()
    losses: list[float] = []
    both.train()
    bar = tqdm(
        range(start, cfg.steps),
        desc=f"pretrain {cfg.arch}/{cfg.pretext}",
        disable=not progress,
        leave=False,
    )
    for step in bar:
        # a batch drawn from the generator alone (no epoch state), so a resumed run goes on
        # with exactly the batches an uninterrupted one would have seen
        idx = rng.choice(len(data), cfg.batch_size, replace=False)
        x = to_input(augment_batch(data.images[idx], rng, aug), model.input_size)
        if cfg.pretext == "rotation":
            k = torch.from_numpy(rng.integers(0, 4, len(x)))
            x = torch.stack(
                [torch.rot90(xi, int(ki), dims=(1, 2)) for xi, ki in zip(x, k, strict=True)]
            )
            loss = F.cross_entropy(head(model.forward_features(x)), k)
        else:
            mask = _patch_mask(len(x), cfg.mask_ratio, rng)
            recon = head(model.forward_features(x * (1 - mask)))
            # loss on the hidden patches (what must be inferred), plus a little on the rest
            loss = (((recon - x) ** 2) * (mask + 0.1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (step + 1) % checkpoint_every == 0 or step + 1 == cfg.steps:
            _save(out, "pretrain", cfg, both, opt, step + 1, rng, data=fingerprint)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
    return {"final_loss": float(np.mean(losses[-50:])) if losses else None}


def build_classifier(cfg: FinetuneConfig) -> CropNet:
    model = CropNet(cfg.arch)
    if cfg.backbone:
        ckpt = load_checkpoint(Path(cfg.backbone), "pretrain")
        if ckpt["config"]["arch"] != cfg.arch:
            raise TrainingError(
                f"{cfg.backbone}: backbone is {ckpt['config']['arch']}, "
                f"fine-tuning wants {cfg.arch}"
            )
        state = {
            k.removeprefix("backbone."): v
            for k, v in ckpt["model"].items()
            if k.startswith("backbone.features.")
        }
        missing = model.load_state_dict(state, strict=False).missing_keys
        if any(k.startswith("features.") for k in missing):
            raise TrainingError(f"{cfg.backbone}: backbone weights do not fit {cfg.arch}")
    return model


# the share of the steps fitted on every crop before small-loss truncation starts: a network
# fits the labels most crops agree on first and memorises the wrong ones later
DROP_WARMUP = 0.3


def small_loss_mask(loss: np.ndarray, labels: np.ndarray, fraction: float) -> np.ndarray:
    """Which crops of a batch to fit: all but each class's ``fraction`` of highest losses
    (rounded down, so a class of few crops keeps them all). Per class, so that a wrong label
    of the rarer state cannot push the batch's balance away from half and half."""
    keep = np.ones(len(loss), bool)
    for c in np.unique(labels):
        ix = np.flatnonzero(labels == c)
        n = int(fraction * len(ix))
        if n:
            keep[ix[np.argsort(loss[ix])[-n:]]] = False
    return keep


def soft_kl(logits: torch.Tensor, target: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per crop: T^2 x KL(target || student softened by T), ``target`` a teacher's softened
    class distribution (the T^2 keeps the gradient on the cross-entropy's scale whatever T)."""
    log_student = F.log_softmax(logits / temperature, dim=1)
    kl = (target * (torch.log(target.clamp_min(1e-8)) - log_student)).sum(dim=1)
    return kl * temperature**2


def distillation_loss(
    logits: torch.Tensor, teacher: nn.Module, x: torch.Tensor, temperature: float
) -> torch.Tensor:
    """:func:`soft_kl` to ``teacher``'s answer on the same batch ``x``, softened by T."""
    with torch.no_grad():
        target = F.softmax(teacher(x) / temperature, dim=1)
    return soft_kl(logits, target, temperature)


def finetune(
    cfg: FinetuneConfig,
    train: CropSet,
    out: Path | None,
    progress: bool = True,
    checkpoint_every: int = 100,
    sample_weights: np.ndarray | None = None,
    teacher: nn.Module | None = None,
) -> CropNet:
    """Supervised training of the classifier on labelled crops (balanced batches);
    ``sample_weights``: how often each crop is drawn, relative to the others of its class
    (e.g. to let a small source count for more than its size); ``teacher`` (with
    ``cfg.kd_temperature``): a trained network whose softened answer on each augmented batch
    the student also fits, so a cheap network can learn what a wider one found."""
    if cfg.mode not in ("full", "frozen"):
        raise TrainingError(f"unknown fine-tuning mode {cfg.mode!r}")
    if (teacher is None) != (cfg.kd_temperature <= 0):
        raise TrainingError("a teacher needs kd_temperature > 0, and kd_temperature a teacher")
    if teacher is not None:
        teacher.eval()
    labels = train.labels
    if len(np.unique(labels)) < 2:
        raise TrainingError("fine-tuning needs examples of both classes")
    rng = seed_everything(cfg.seed)
    model = build_classifier(cfg)
    if teacher is not None and getattr(teacher, "input_size", None) != model.input_size:
        raise TrainingError(
            f"the teacher sees {getattr(teacher, 'input_size', '?')} px crops, "
            f"the student {model.input_size} px: distillation feeds both the same batch"
        )
    if cfg.mode == "frozen":
        for p in model.early_layers().parameters():
            p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    fingerprint = input_key(train)
    start = _resume(out, "finetune", cfg, fingerprint, model, opt, rng) if out else 0
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps)
    _fast_forward(sched, start)
    # balanced sampling: each batch half of each class, whatever the class ratio
    by_class = [np.flatnonzero(labels == c) for c in (0, 1)]
    draws: list[np.ndarray | None] = [None, None]
    if sample_weights is not None:
        draws = [sample_weights[ix] / sample_weights[ix].sum() for ix in by_class]
    aug = AugmentConfig(occlude_p=cfg.occlude_p)
    model.train()
    if cfg.mode == "frozen":
        model.early_layers().eval()  # keep frozen BatchNorm statistics too
    bar = tqdm(
        range(start, cfg.steps),
        desc=f"finetune {cfg.task}/{cfg.arch}",
        disable=not progress,
        leave=False,
    )
    for step in bar:
        half = cfg.batch_size // 2
        idx = np.concatenate(
            [
                rng.choice(ix, half, replace=len(ix) < half)
                if draw is None
                else rng.choice(ix, half, replace=True, p=draw)
                for ix, draw in zip(by_class, draws, strict=True)
            ]
        )
        x = to_input(augment_batch(train.images[idx], rng, aug), model.input_size)
        y = torch.from_numpy(labels[idx])
        logits = model(x)
        per_crop = F.cross_entropy(logits, y, label_smoothing=0.05, reduction="none")
        if teacher is not None:
            per_crop = per_crop + distillation_loss(logits, teacher, x, cfg.kd_temperature)
        if cfg.drop_hard and step >= DROP_WARMUP * cfg.steps:
            keep = small_loss_mask(per_crop.detach().numpy(), labels[idx], cfg.drop_hard)
            per_crop = per_crop[torch.from_numpy(keep)]
        loss = per_crop.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if out and ((step + 1) % checkpoint_every == 0 or step + 1 == cfg.steps):
            _save(out, "finetune", cfg, model, opt, step + 1, rng, data=fingerprint)
    model.eval()
    return model


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Class probabilities (N, 2) for uint8 crops."""
    model.eval()
    input_size = int(getattr(model, "input_size", 64))  # CropNet's; 64 for older modules
    out = [
        F.softmax(model(to_input(images[i : i + batch], input_size)), dim=1).numpy()
        for i in range(0, len(images), batch)
    ]
    return np.concatenate(out) if out else np.zeros((0, 2))
