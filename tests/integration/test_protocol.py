"""The person-level protocol: no person on both sides of a split, final-test people never
train or validate, groups without person ids never validate, and the choice rules."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from training.people import PeopleSet  # noqa: E402
from training.person_recipe import choose_gate, nested_fusion_oof  # noqa: E402
from training.protocol import FOLDS, out_of_fold, task_split  # noqa: E402


def people_set(n_per: int = 6) -> PeopleSet:
    persons, sources = [], []
    for k in range(12):
        persons += [f"mrl:s{k:04d}"] * n_per
        sources += ["mrl"] * n_per
    for d in ("P1042751", "P1042757", "P1042762", "P1042767"):
        persons += [f"fl3d:{d}"] * n_per
        sources += ["fl3d"] * n_per
    persons += ["kaggle:eyes"] * n_per
    sources += ["kaggle_eyes"] * n_per
    n = len(persons)
    rng = np.random.default_rng(0)
    return PeopleSet(
        images=rng.integers(0, 255, (n, 64, 64), dtype=np.uint8),
        eye_label=np.tile([0, 1], n // 2),
        yawn_label=np.full(n, -1),
        person=np.asarray(persons),
        source=np.asarray(sources),
        ear=rng.uniform(0.1, 0.35, n),
        mar=np.full(n, np.nan),
        pitch=np.zeros(n),
        roll=np.zeros(n),
        frame=np.full(n, -1),
        face=np.arange(n),
    )


def test_each_person_is_in_one_fold_and_test_people_are_out_of_every_fold():
    split = task_split(people_set(), "eyes")
    person, fold = split.people.person, split.fold
    for p in set(person.tolist()):
        assert len(set(fold[person == p].tolist())) == 1, p
    assert set(fold[person == "fl3d:P1042762"].tolist()) == {-2}  # the final-test driver
    assert len({p for p in person[fold == -2] if p.startswith("mrl:")}) == 2
    assert set(fold[person == "kaggle:eyes"].tolist()) == {-1}  # no person id: train only
    # FL3D's three development drivers land in three different folds
    dev_drivers = [
        p for p in set(person.tolist()) if p.startswith("fl3d:") and p != "fl3d:P1042762"
    ]
    assert len({int(fold[person == p][0]) for p in dev_drivers}) == 3


def test_out_of_fold_never_trains_on_the_fold_it_predicts_or_on_test_people():
    split = task_split(people_set(), "eyes")
    seen = []

    def fit_predict(train, val):
        assert not set(split.people.person[train]) & set(split.people.person[val])
        assert not (split.fold[train] == -2).any()
        seen.append(val)
        return np.full(len(val), 0.5)

    oof = out_of_fold(split, fit_predict)
    assert len(seen) == FOLDS
    assert np.isnan(oof[split.fold < 0]).all() and not np.isnan(oof[split.fold >= 0]).any()


def test_gate_rule_takes_the_best_recall_within_the_fpr_limit_and_ties_go_low():
    table = {
        "none": {"center": None, "recall": 0.95, "fpr": 0.20},
        "0.1": {"center": 0.1, "recall": 0.90, "fpr": 0.04},
        "0.15": {"center": 0.15, "recall": 0.90, "fpr": 0.02},
        "0.2": {"center": 0.2, "recall": 0.50, "fpr": 0.00},
    }
    assert choose_gate(table) == "0.1"
    worse = {k: v | {"fpr": v["fpr"] + 0.1} for k, v in table.items()}
    assert choose_gate(worse) == "0.2"  # none meets 0.05: the lowest FPR


def test_fusion_is_fitted_without_the_fold_it_scores():
    split = task_split(people_set(n_per=40), "eyes")
    y = split.labels
    rng = np.random.default_rng(1)
    p_cnn = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.2, len(y)), 0.01, 0.99)
    g = (y - 0.5) * 4 + rng.normal(0, 1, len(y))
    p_cnn[split.fold < 0] = np.nan
    fused, fits = nested_fusion_oof(split, p_cnn, g)
    assert len(fits) == FOLDS and all(a > 0 and b > 0 for a, b, _ in fits)
    ok = ~np.isnan(fused)
    acc_fused = ((fused[ok] >= 0.5) == y[ok]).mean()
    acc_cnn = ((p_cnn[ok] >= 0.5) == y[ok]).mean()
    assert acc_fused > acc_cnn  # two independent noisy sources beat one
