"""Recipes as data: the training configs are frozen dataclasses here (no torch: the command
line is made from them before anything heavy is imported), so a default is written once and
``--help`` shows it.

Also the registries a new task or dataset is added to: :data:`TASKS` (from
``training.data.TASK_CLASSES``), the labelled dataset layouts :data:`LAYOUTS`, and the
architectures (``training.models.ARCHS``).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drowsy.temporal.features import STEP_S
from training import data
from training.data import TASK_CLASSES, CropSet

TASKS: tuple[str, ...] = tuple(TASK_CLASSES)


@dataclass(frozen=True, slots=True)
class Layout:
    """A way labelled crops are laid out on disk, and how to read it."""

    help: str
    load: Callable[[Path, str, Path], CropSet]  # (folder, task, crop cache) -> crops


LAYOUTS: dict[str, Layout] = {
    "folders": Layout("DATA/<class>/", lambda root, task, _cache: data.class_folders(root, task)),
    "mrl": Layout("MRL Eye file names", lambda root, _task, _cache: data.mrl_eye(root)),
    "cew": Layout("CEW folders", lambda root, _task, _cache: data.cew(root)),
    "yawdd": Layout(
        "Yawning/Normal/Talking face-frame folders",
        lambda root, _task, cache: data.yawdd_frames(root, cache),
    ),
}


# ---------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class PretrainConfig:
    arch: str = "cnn_s"
    pretext: str = "rotation"
    steps: int = 600
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    mask_ratio: float = 0.45  # inpaint: share of 8x8 patches hidden
    seed: int = 0


@dataclass(frozen=True)
class FinetuneConfig:
    task: str = "eyes"
    arch: str = "cnn_s"
    backbone: str | None = None  # pretrain checkpoint; None = random initialisation
    mode: str = "full"  # "full" or "frozen" (early layers frozen)
    steps: int = 300
    batch_size: int = 64
    lr: float = 2e-4
    weight_decay: float = 1e-4
    label_fraction: float = 1.0
    seed: int = 0
    occlude_p: float = 0.0  # yawn: objects in front of the mouth (hard negatives)
    # small-loss truncation against wrong labels: after the first DROP_WARMUP of the steps,
    # each class's highest-loss fraction of a batch is left out of the loss (0 = off)
    drop_hard: float = 0.0
    # distillation: with a teacher network, T^2 x KL to its answer softened by this
    # temperature is added to the loss (0 = no teacher; docs/PROTOCOL.md, eleventh amendment)
    kd_temperature: float = 0.0


@dataclass(frozen=True)
class DistillConfig:
    arch: str = "cnn_s"
    backbone: str | None = None  # pretrain checkpoint; None = random initialisation
    steps: int = 800
    lr: float = 1e-3
    temperature: float = 2.0
    labelled_per_batch: int = 24
    unlabelled_per_batch: int = 32
    positives_per_batch: int = 8  # unlabelled crops the teacher calls positive (rare: closures)
    seed: int = 0


@dataclass(frozen=True)
class TemporalConfig:
    """The shipped temporal model's recipe (``python -m training temporal``)."""

    window_s: float = 20.0
    hidden: int = 32
    pretrain_steps: int = 600
    train_steps: int = 1500
    batch_size: int = 32
    lr: float = 3e-3
    n_train: int = 2400
    n_val: int = 400
    n_test: int = 800
    n_onset: int = 60
    seed: int = 0

    @property
    def window(self) -> int:
        return round(self.window_s / STEP_S)

    @classmethod
    def quick(cls) -> TemporalConfig:
        """Tiny budgets: a smoke test of the whole build."""
        return cls(pretrain_steps=5, train_steps=5, n_train=16, n_val=8, n_test=8, n_onset=2)


# flag -> (config field, help); the type, default and choices come from the dataclass
_CHOICES: dict[str, tuple[str, ...]] = {
    "pretext": ("rotation", "inpaint"),
    "mode": ("full", "frozen"),
}


def add_config_args(
    p: argparse.ArgumentParser, cls: type, fields: dict[str, tuple[str, str]]
) -> None:
    """``--flag`` options for the given fields of config dataclass ``cls``: ``fields`` maps a
    flag name to (field name, help). The default shown and used is the dataclass's."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for flag, (name, text) in fields.items():
        default = defaults[name]
        kind = type(default) if default is not None else str
        p.add_argument(
            f"--{flag}",
            dest=name,
            type=kind,
            default=default,
            choices=_CHOICES.get(name),
            help=f"{text} (default {default})" if text else f"default {default}",
        )


def config_from_args(cls: type, args: argparse.Namespace, **fixed: Any) -> Any:
    """An instance of ``cls`` from the parsed options (the fields they name) and ``fixed``."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names and k not in fixed}
    return cls(**values, **fixed)
