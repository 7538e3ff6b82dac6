"""Eye and yawn members trained on many people, every choice made out-of-fold by person.

One recipe per task (:class:`MemberRecipe`: architecture, steps, learning rate, augmentation),
trained from random initialisation: with 15k+ labelled crops of 40+ people the labels are no
longer the bottleneck that self-supervised pretraining was there to ease (the label-efficiency
experiment of ``training reproduce`` measures that trade on the old sets).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

import numpy as np

from training.data import TASK_CLASSES, CropSet
from training.models import CropNet
from training.protocol import FOLDS, Split, out_of_fold
from training.train import FinetuneConfig, finetune, predict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemberRecipe:
    task: str = "eyes"
    arch: str = "cnn_t32"
    steps: int = 1500
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0
    occlude_p: float = 0.0  # yawn: objects drawn in front of the mouth, as negatives

    def finetune_config(self) -> FinetuneConfig:
        return FinetuneConfig(
            task=self.task,
            arch=self.arch,
            backbone=None,
            mode="full",
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            occlude_p=self.occlude_p,
        )


def train_member(recipe: MemberRecipe, images: np.ndarray, labels: np.ndarray) -> CropNet:
    crops = CropSet(images, labels.astype(np.int64), TASK_CLASSES[recipe.task])
    return finetune(recipe.finetune_config(), crops, None, progress=False)


def recipe_oof(recipe: MemberRecipe, split: Split, folds: int = FOLDS) -> np.ndarray:
    """OOF positive-class probabilities of one recipe (NaN outside the validation folds)."""
    images = split.people.images

    def fit_predict(train: np.ndarray, val: np.ndarray) -> np.ndarray:
        model = train_member(recipe, images[train], split.labels[train])
        return predict(model, images[val])[:, 1]

    return out_of_fold(split, fit_predict, folds)


def seeds(recipe: MemberRecipe, n: int) -> list[MemberRecipe]:
    return [replace(recipe, seed=recipe.seed + k) for k in range(n)]


def recipe_dict(recipe: MemberRecipe) -> dict:
    return asdict(recipe)
