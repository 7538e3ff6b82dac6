"""The person-level protocol: who is final test, which fold each person validates in, and the
out-of-fold (OOF) predictions every model choice is made on.

The rules, fixed before any test number was looked at (docs/PROTOCOL.md repeats them):

- **Final test people** never train and never validate a choice: FL3D driver ``P1042762``
  (of the two drivers with yawns the one with fewer, so training keeps the most real yawns;
  it also holds the most microsleep frames, the hardest video test), two MRL people drawn
  with a fixed seed among those with both eye states, and the CK+ test subjects of
  :func:`training.synthetic.split_subjects`.
- **Folds**: the remaining people of each source are dealt round-robin, in a seeded order,
  into :data:`FOLDS` folds, so each fold holds people of every source. Groups that are not a
  person (the Kaggle close-ups, which carry no person id) are in every fold's training set
  and in no validation set.
- A model is trained once per fold on everything outside the fold and predicts the fold: the
  pooled predictions are the OOF set. A choice of architecture, voting, fusion or gate is
  the best OOF score by the rule written where the choice is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.people import PeopleSet

FOLDS = 5
FOLD_SEED = 2026
TEST_FL3D = ("fl3d:P1042762",)
TEST_MRL_COUNT = 2
TRAIN_ONLY_PREFIX = "kaggle:"  # groups without person ids


def final_test_people(people: PeopleSet) -> set[str]:
    from training.synthetic import split_subjects

    persons = set(people.person.tolist())
    out = {p for p in TEST_FL3D if p in persons}
    mrl = sorted(
        p
        for p in persons
        if p.startswith("mrl:") and {0, 1} <= set(people.eye_label[people.person == p].tolist())
    )
    rng = np.random.default_rng(FOLD_SEED)
    out |= set(rng.choice(mrl, size=min(TEST_MRL_COUNT, len(mrl)), replace=False).tolist())
    ck = sorted(p.removeprefix("ck:") for p in persons if p.startswith("ck:"))
    if ck:
        from pathlib import Path

        # split_subjects splits paths by their S-number: give it one stand-in path a subject
        split = split_subjects([Path(f"{s}_x.png") for s in ck])
        out |= {f"ck:{p.name.split('_')[0]}" for p in split["test"]}
    return out


def assign_folds(people: PeopleSet, test: set[str], folds: int = FOLDS) -> np.ndarray:
    """Per crop: its validation fold (0..folds-1), -1 for train-only groups, -2 for final
    test people."""
    rng = np.random.default_rng(FOLD_SEED)
    fold_of: dict[str, int] = {}
    for source in sorted(set(people.source.tolist())):
        persons = sorted(set(people.person[people.source == source].tolist()))
        persons = [p for p in persons if p not in test and not p.startswith(TRAIN_ONLY_PREFIX)]
        for k, p in enumerate(rng.permutation(persons)):
            fold_of[str(p)] = k % folds
    out = np.full(len(people), -1, np.int64)
    for i, p in enumerate(people.person.tolist()):
        if p in test:
            out[i] = -2
        elif p in fold_of:
            out[i] = fold_of[p]
    return out


@dataclass
class Split:
    """The protocol applied to one task's crops."""

    people: PeopleSet  # this task's labelled crops
    labels: np.ndarray
    fold: np.ndarray  # as assign_folds
    # training-only eye crops tied to a person (painted lids; labelled by their eye_label, so
    # eyes only): never predicted, never scored; a model trains on those of its training people
    extra: PeopleSet | None = None

    @property
    def test(self) -> np.ndarray:
        return np.flatnonzero(self.fold == -2)

    @property
    def development(self) -> np.ndarray:
        return np.flatnonzero(self.fold != -2)

    def training_rows(
        self, idx: np.ndarray, with_extra: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images, labels, sources) a model trained on rows ``idx`` sees; with ``with_extra``
        also the extra crops of the people among those rows (so a held-out person's painted
        eyes never train the model that predicts them)."""
        images, labels = self.people.images[idx], self.labels[idx]
        sources = self.people.source[idx]
        if with_extra and self.extra is not None and len(self.extra):
            ex = self.extra
            m = np.isin(ex.person, np.unique(self.people.person[idx]))
            images = np.concatenate([images, ex.images[m]])
            labels = np.concatenate([labels, ex.eye_label[m]])
            sources = np.concatenate([sources, ex.source[m]])
        return images, labels, sources


def task_split(people: PeopleSet, task: str, folds: int = FOLDS) -> Split:
    labels = people.eye_label if task == "eyes" else people.yawn_label
    keep = np.flatnonzero(labels >= 0)
    test = final_test_people(people)
    sub = people.take(keep)
    return Split(sub, labels[keep], assign_folds(sub, test, folds))


def out_of_fold(
    split: Split,
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    folds: int = FOLDS,
) -> np.ndarray:
    """OOF probabilities of the positive class for every crop in a validation fold (NaN for
    train-only and test crops). ``fit_predict(train_idx, predict_idx)`` trains on the first
    and returns probabilities for the second."""
    out = np.full(len(split.labels), np.nan)
    for f in range(folds):
        val = np.flatnonzero(split.fold == f)
        train = np.flatnonzero((split.fold >= -1) & (split.fold != f))
        if len(val):
            out[val] = fit_predict(train, val)
    return out
