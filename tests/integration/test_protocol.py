"""The person-level protocol: no person on both sides of a split, final-test people never
train or validate, groups without person ids never validate, and the choice rules."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from training.people import PeopleSet
from training.person_recipe import choose_gate, nested_fusion_oof
from training.protocol import FOLDS, out_of_fold, task_split


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


def test_the_pitch_fusion_learns_when_the_ear_stops_telling():
    # the EAR says the eye state with the head level and nothing with the head pitched down
    # (foreshortening): only the fusion with the pitch terms can weigh it by the pitch
    split = task_split(people_set(n_per=60), "eyes")
    y = split.labels
    rng = np.random.default_rng(2)
    pitch = rng.choice([0.0, -30.0], len(y))
    p_cnn = np.clip(0.5 + (y - 0.5) * 0.3 + rng.normal(0, 0.25, len(y)), 0.01, 0.99)
    g = np.where(pitch == 0, (y - 0.5) * 6, 0.0) + rng.normal(0, 1, len(y))
    plain, _ = nested_fusion_oof(split, p_cnn, g)
    with_pitch, fits = nested_fusion_oof(split, p_cnn, g, pitch)
    assert len(fits) == FOLDS and all(len(f) == 4 for f in fits)
    ok = ~np.isnan(with_pitch)
    down = ok & (pitch < 0)
    assert ((with_pitch[down] >= 0.5) == y[down]).mean() > ((plain[down] >= 0.5) == y[down]).mean()
    assert all(f[1] - f[2] < f[1] / 2 for f in fits)  # the EAR weighs less head-down


def mixed_people(n_per: int = 8) -> PeopleSet:
    """Eyes and mouths of every kind of source the build reads, random pixels."""
    rows: list[tuple[str, str, int, int]] = []  # person, source, eye label, yawn label
    for k in range(10):
        rows += [(f"mrl:s{k:04d}", "mrl", i % 2, -1) for i in range(n_per)]
    for d in ("P1042751", "P1042757", "P1042762", "P1042767", "P1042777"):
        rows += [(f"fl3d:{d}", "fl3d", i % 2, -1) for i in range(n_per)]
        yawns = d in ("P1042762", "P1042767")
        rows += [(f"fl3d:{d}", "fl3d", -1, int(yawns and i % 2)) for i in range(n_per)]
    for k in range(10, 40):
        rows += [(f"ck:S{k:03d}", "ckplus", 0, -1), (f"ck:S{k:03d}", "ckplus", -1, 0)]
    rows += [("kaggle:eyes", "kaggle_eyes", i % 2, -1) for i in range(n_per)]
    rows += [("kaggle:yawn", "kaggle_yawn", -1, i % 2) for i in range(n_per)]
    n = len(rows)
    rng = np.random.default_rng(0)
    person, source, eye, yawn = (np.asarray(c) for c in zip(*rows, strict=True))
    return PeopleSet(
        images=rng.integers(0, 255, (n, 64, 64), dtype=np.uint8),
        eye_label=eye.astype(np.int64),
        yawn_label=yawn.astype(np.int64),
        person=person,
        source=source,
        ear=np.where(source == "mrl", np.nan, rng.uniform(0.1, 0.35, n)),
        mar=np.where(source == "mrl", np.nan, rng.uniform(0.0, 0.8, n)),
        pitch=rng.uniform(-30, 10, n),
        roll=np.zeros(n),
        frame=np.full(n, -1),
        face=np.arange(n),
    )


@pytest.mark.slow
def test_the_people_build_exports_runtime_models_cards_and_fold_models(tmp_path, monkeypatch):
    from dataclasses import replace

    from drowsy.inference.ensemble import Ensemble
    from training import person_build
    from training.people_cards import write_people_cards

    monkeypatch.setattr(person_build, "load_people", lambda data, cache: mixed_people())

    def painted(data, cache):
        people = mixed_people()
        shut = people.take(np.flatnonzero((people.source == "ckplus") & (people.eye_label == 0)))
        shut.eye_label[:] = 1
        shut.source = np.full(len(shut), "ckplus_painted")
        return shut

    monkeypatch.setattr(person_build, "painted_people", painted)
    tiny = {"steps": 3, "batch_size": 8}
    cfg = person_build.PeopleBuildConfig(
        tmp_path / "data",
        tmp_path / "models",
        tmp_path / "work",
        members=2,
        eye_recipe=replace(person_build.EYE_RECIPE, **tiny),
        yawn_recipe=replace(person_build.YAWN_RECIPE, **tiny),
        # every candidate, also those only --all-candidates trains (truncation among them)
        eye_extra=tuple(replace(r, **tiny) for r in person_build.EYE_EXTRA + person_build.EYE_LOST),
        yawn_extra=tuple(
            replace(r, **tiny) for r in person_build.YAWN_EXTRA + person_build.YAWN_LOST
        ),
    )
    results = person_build.build_people_models(cfg)
    write_people_cards(results, cfg.out)
    for task in ("eyes", "yawn"):
        ens = Ensemble(cfg.out / task)  # the runtime loads what the build wrote
        assert ens.version == person_build.VERSION and ens.input_size == 32
        assert len(ens.members) == results[task]["members"]
        assert (cfg.out / task / "MODEL_CARD.md").read_text().count("| ") > 20
        assert "decision" in results[task]["final_test"]
        # the final-test people were never validation people
        people = set(results[task]["final_test"]["decision"]["by_person"])
        assert "fl3d:P1042762" in people
        assert not people & set(results[task]["oof"]["ensemble"]["by_person"])
        for f in range(5):
            Ensemble(cfg.work / "folds" / f"f{f}" / task)
    for extra in person_build.EYE_EXTRA:
        assert replace(extra, **tiny).label in results["eyes"]["choice"]["scores"]
    assert "decision" in results["eyes"]["oof_frames"]
    # sixth amendment (2): the winner with its mirror is scored at twice the winner's cost,
    # and the runtime folder says whether it won
    choice = results["eyes"]["choice"]
    mirrored = [k for k in choice["scores"] if k.endswith("+mirror")]
    assert len(mirrored) == 1
    winner = mirrored[0].removesuffix("+mirror")
    assert choice["cost_px"][mirrored[0]] == 2 * choice["cost_px"][winner]
    assert Ensemble(cfg.out / "eyes").mirror == choice["mirror"] == (choice["chosen"] in mirrored)
    assert not Ensemble(cfg.out / "yawn").mirror
    # seventh amendment: the threshold candidate is reported, and shipped only when it passed
    t = results["yawn"]["threshold"]
    assert set(t) >= {"per_fold", "recall", "fpr", "all_development", "ships", "at_0.5"}
    # ninth amendment: the per-source cap replaces the pooled one; only it can ship
    t9 = results["yawn"]["threshold_per_source"]
    assert not t["ships"] and "pooled" in t9["fpr_by_cap"]  # tiny sources: no per-source cap
    shipped = Ensemble(cfg.out / "yawn").threshold
    assert shipped == (t9["all_development"] if t9["ships"] else 0.5)
    assert Ensemble(cfg.out / "eyes").threshold == 0.5
    again = person_build.build_people_models(replace(cfg, force=True))  # resumes from work/
    assert again["eyes"]["choice"] == results["eyes"]["choice"]
    # the cards' build time says how much of the training it covers: all of it the first
    # time, none when every OOF prediction came from work/
    n = sum(len(person_build.PeopleBuild(cfg).recipes(t)) for t in ("eyes", "yawn"))
    card = (cfg.out / "eyes" / "MODEL_CARD.md").read_text()
    assert f"out-of-fold members of {n} of {n} recipes" in card
    write_people_cards(again, cfg.out)
    card = (cfg.out / "yawn" / "MODEL_CARD.md").read_text()
    assert f"out-of-fold members of 0 of {n} recipes (the rest read from" in card
    # the yawn card says where the shipped decision misses development yawns
    assert isinstance(results["yawn"]["missed_yawns"], list)
    assert "misses" in card


def test_missed_yawns_are_told_as_runs_of_consecutive_frames_longest_first():
    from training.metrics_people import missed_runs
    from training.people_cards import _missed_lines

    person = np.array(["a"] * 6 + ["b"] * 3 + ["c"])
    frame = np.array([10, 11, 12, 20, 21, 30, 5, 6, 7, -1])
    missed = np.array([1, 1, 1, 1, 0, 1, 1, 1, 0, 1], bool)  # "c" is a still: no run
    runs = missed_runs(missed, person, frame)
    assert runs == [
        {"person": "a", "first": 10, "last": 12, "frames": 3},
        {"person": "b", "first": 5, "last": 6, "frames": 2},
        {"person": "a", "first": 20, "last": 20, "frames": 1},
        {"person": "a", "first": 30, "last": 30, "frames": 1},
    ]
    assert missed_runs(np.zeros(10, bool), person, frame) == []
    told = _missed_lines(runs)[0]
    assert told.startswith("Development yawn frames the shipped decision misses (7): a frames")
    assert "misses no" in _missed_lines([])[0]
    assert _missed_lines(None) == []  # results built before the runs were recorded


def test_the_choice_takes_the_cheapest_candidate_within_the_tie():
    from training.person_build import EYE_LOST, EYE_RECIPE, cheapest_within_tie, group_cost

    members = {
        "member0": [EYE_RECIPE],
        "ensemble": [EYE_RECIPE] * 3,
        "cnn_t48_seed0": [EYE_LOST[0]],
    }
    groups = {k: group_cost(g) for k, g in members.items()}
    # the ensemble is best, the 48 px member within the tie: the 48 px member costs less
    assert (
        cheapest_within_tie({"member0": 0.90, "ensemble": 0.94, "cnn_t48_seed0": 0.937}, groups)
        == "cnn_t48_seed0"
    )
    # a 32 px member within the tie beats both
    assert (
        cheapest_within_tie({"member0": 0.936, "ensemble": 0.94, "cnn_t48_seed0": 0.938}, groups)
        == "member0"
    )
    # outside the tie the best wins whatever it costs
    assert (
        cheapest_within_tie({"member0": 0.92, "ensemble": 0.94, "cnn_t48_seed0": 0.93}, groups)
        == "ensemble"
    )


def test_the_wide_member_pays_for_its_width_in_the_tie():
    """Sixth amendment: cnn_w32 sees the pixels a 32 px member sees but costs 3.5 of them, so
    within the tie it loses to one narrow member and even to three narrow seeds."""
    from training.person_build import EYE_EXTRA, EYE_RECIPE, cheapest_within_tie, group_cost

    wide = next(r for r in EYE_EXTRA if r.arch == "cnn_w32")
    assert group_cost([wide]) == 3584 and group_cost([EYE_RECIPE]) == 1024
    members = {"member0": [EYE_RECIPE], "ensemble": [EYE_RECIPE] * 3, wide.label: [wide]}
    groups = {k: group_cost(g) for k, g in members.items()}
    assert cheapest_within_tie({"member0": 0.90, "ensemble": 0.94, wide.label: 0.943}, groups) == (
        "ensemble"
    )
    assert cheapest_within_tie({"member0": 0.90, "ensemble": 0.93, wide.label: 0.943}, groups) == (
        wide.label
    )


def test_mirror_averaging_scores_each_fold_through_its_own_models(tmp_path):
    """Sixth amendment (2): the winner's OOF probability averaged with its fold models'
    probability on the mirrored crop, each fold's crops through that fold's model."""
    import torch

    from training.person_build import EYE_RECIPE, PeopleBuild, PeopleBuildConfig
    from training.train import predict

    class Sided(torch.nn.Module):
        """log-odds = weight * (left half - right half) + offset"""

        input_size = 64

        def __init__(self, weight: float, offset: float) -> None:
            super().__init__()
            self.weight, self.offset = weight, offset

        def forward(self, x):
            d = x[..., :32].mean(dim=(1, 2, 3)) - x[..., 32:].mean(dim=(1, 2, 3))
            z = self.weight * d + self.offset
            return torch.stack([torch.zeros_like(z), z], dim=1)

    build = PeopleBuild(PeopleBuildConfig(tmp_path, tmp_path / "out", tmp_path / "work"))
    split = task_split(mixed_people(), "eyes")
    dev = split.fold >= 0
    # a model that reads one side: itself and its mirror view average to exactly 0.5
    sided = Sided(20.0, 0.0)
    build.fold_models[EYE_RECIPE] = dict.fromkeys(range(FOLDS), sided)
    own = np.where(dev, predict(sided, split.people.images)[:, 1], np.nan)
    assert np.abs(own[dev] - 0.5).max() > 0.05
    got = build.mirror_candidate([EYE_RECIPE], split, own)
    assert np.isnan(got[~dev]).all()
    np.testing.assert_allclose(got[dev], 0.5, atol=1e-5)
    # fold f's crops go through fold f's model
    build.fold_models[EYE_RECIPE] = {f: Sided(0.0, float(f)) for f in range(FOLDS)}
    got = build.mirror_candidate([EYE_RECIPE], split, np.where(dev, 0.0, np.nan))
    for f in range(FOLDS):
        np.testing.assert_allclose(got[split.fold == f], 0.5 / (1 + np.exp(-f)), atol=1e-6)
    del build.fold_models[EYE_RECIPE][0]
    assert build.mirror_candidate([EYE_RECIPE], split, own) is None  # fold models missing


def test_the_yawn_threshold_is_chosen_by_the_negatives_alone_and_scored_nested():
    """Seventh amendment: each fold is decided at the lowest threshold whose FPR on the other
    folds' negatives is <= 0.04; the yawns never move it."""
    from training.person_recipe import nested_threshold

    rng = np.random.default_rng(3)
    n = 2000
    fold = np.tile(np.arange(5), n // 5)
    fold[:100] = -1  # final test: never decided, never choosing
    negatives = np.zeros(n, bool)
    negatives[100:1600] = True
    positives = ~negatives & (fold >= 0)
    p = np.where(negatives, rng.uniform(0, 0.25, n), rng.uniform(0.2, 1.0, n))
    gate = np.ones(n)
    report, decision = nested_threshold(p, gate, fold, positives, negatives)
    # negatives uniform on [0, 0.25]: FPR <= 0.04 first at 0.25 (0.0) ... 0.20 gives 0.2
    assert set(report["per_fold"].values()) == {0.25} and report["all_development"] == 0.25
    assert report["fpr"] <= 0.04 and report["recall"] > 0.9
    assert np.isnan(decision).sum() == 0 and decision[fold == -1].sum() == 0
    moved = p.copy()
    moved[positives] = rng.uniform(0.0, 0.3, positives.sum())  # other yawns, same negatives
    again, _ = nested_threshold(moved, gate, fold, positives, negatives)
    assert again["per_fold"] == report["per_fold"]
    # every frame gated shut: every threshold passes the negatives, the lowest is chosen (it adds
    # no yawn, so the rule would not ship it)
    shut, _ = nested_threshold(p, np.zeros(n), fold, positives, negatives)
    assert shut["recall"] == 0.0 and shut["all_development"] == 0.1


def test_a_per_source_cap_holds_the_false_alarms_of_each_large_source():
    """Ninth amendment: a source whose mouths look like yawns (here: occluded, uniform on
    [0, 0.5]) pushes the threshold up for everyone, although the pooled FPR would allow less."""
    from training.person_recipe import nested_threshold, source_caps

    rng = np.random.default_rng(4)
    n = 3000
    fold = np.tile(np.arange(5), n // 5)
    source = np.array(
        ["fl3d"] * 2000 + ["ckplus_occluded"] * 300 + ["portraits"] * 20 + ["fl3d"] * 680
    )
    negatives = np.arange(n) < 2320
    positives = ~negatives
    p = np.where(source == "ckplus_occluded", rng.uniform(0, 0.5, n), rng.uniform(0, 0.15, n))
    p[positives] = rng.uniform(0.2, 1.0, positives.sum())
    p[2300:2320] = 0.9  # every portrait a false alarm: 20 crops, below the 50 a cap needs
    gate = np.ones(n)
    caps = source_caps(negatives, source)
    assert set(caps) == {"pooled", "fl3d", "ckplus_occluded"}
    pooled, yes = nested_threshold(p, gate, fold, positives, negatives)
    capped, _ = nested_threshold(p, gate, fold, positives, negatives, caps)
    assert pooled["all_development"] < capped["all_development"] == 0.5
    assert pooled["fpr_by_cap"] == {"pooled": pooled["fpr"]} and pooled["fpr"] <= 0.05
    # the pooled cap lets the occluded mouths through; the per-source cap does not
    assert yes[caps["ckplus_occluded"]].mean() > 0.1
    assert capped["fpr_by_cap"]["ckplus_occluded"] <= 0.04


def test_the_frame_decision_averages_both_eyes_as_the_runtime_does():
    from training.person_build import frame_table

    people = people_set()
    people.face = np.arange(len(people)) // 2  # consecutive crops: a frame's two eyes
    people.eye_label = (np.arange(len(people)) // 2) % 2  # both eyes of a frame agree
    split = task_split(people, "eyes")
    fl3d = np.flatnonzero(split.people.source == "fl3d")
    # closed frames: one eye sure (0.9), the other hesitant (0.2): the mean 0.55 is closed;
    # open frames: 0.6 and 0.3, mean 0.45, open. Per crop half of each class is wrong.
    p = np.where(split.labels == 1, 0.9, 0.6)
    p[1::2] = np.where(split.labels[1::2] == 1, 0.2, 0.3)
    t = frame_table(p, split, fl3d)["by_source"]["fl3d"]
    assert t["positives"] + t["negatives"] == len(fl3d) // 2
    assert t["balanced_accuracy"] == 1.0
    # the EAR baseline is one value per frame: the mean of the frame's two EARs below 0.2
    ear = split.people.ear[fl3d].reshape(-1, 2).mean(axis=1)
    frame_label = split.labels[fl3d].reshape(-1, 2)[:, 0]
    base = frame_table(split.people.ear, split, fl3d, threshold=0.2)["by_source"]["fl3d"]
    assert base["positives"] + base["negatives"] == len(fl3d) // 2
    closed_pred = ear < 0.2
    assert base["recall"] == pytest.approx(closed_pred[frame_label == 1].mean())
    assert base["fpr"] == pytest.approx(closed_pred[frame_label == 0].mean())
    # a frame with one eye missing (a crop of a face with no partner) is not a frame here
    people.face[fl3d[0]] = 10_000
    split = task_split(people, "eyes")
    t = frame_table(p, split, np.flatnonzero(split.people.source == "fl3d"))
    assert t["by_source"]["fl3d"]["positives"] + t["by_source"]["fl3d"]["negatives"] == (
        len(fl3d) // 2 - 1
    )


def test_painted_eyes_train_only_the_folds_whose_people_they_show():
    """A painted crop of a person in the held-out fold would teach that person's face to the
    model that predicts it: each fold's training rows hold the painted crops of its own
    training people only, and the final-test people's never."""
    from dataclasses import replace

    from training.person_recipe import MemberRecipe

    split = task_split(people_set(), "eyes")
    dev = [p for p in set(split.people.person.tolist()) if not p.startswith("kaggle:")]
    extra = split.people.take(np.arange(len(dev)))
    extra.person = np.asarray(sorted(dev))  # one painted crop per person
    extra.source = np.full(len(dev), "ckplus_painted")
    extra.eye_label = np.ones(len(dev), np.int64)
    split.extra = extra
    person_fold = {p: int(split.fold[split.people.person == p][0]) for p in dev}
    for f in range(FOLDS):
        train = np.flatnonzero((split.fold >= -1) & (split.fold != f))
        images, labels, sources = split.training_rows(train, with_extra=True)
        painted = sources == "ckplus_painted"
        expected = {p for p, k in person_fold.items() if k not in (f, -2)}
        assert int(painted.sum()) == len(expected)
        assert (labels[painted] == 1).all() and len(images) == len(labels) == len(sources)
        plain = split.training_rows(train)[2]
        assert "ckplus_painted" not in set(plain.tolist())  # recipes without painting: as before
    base = MemberRecipe()
    assert replace(base, painted=True).key != base.key
    assert "painted" not in base.key  # the caches of earlier recipes keep their names
    assert replace(base, painted=True).label == "cnn_t32_painted_seed0"


def test_painted_ckplus_eyes_are_closed_crops_of_the_painted_subjects(tmp_path):
    """A handful of real CK+ faces: every painted crop is labelled closed, belongs to the
    subject it was painted from, and differs from that face's open-eye crop (the paint
    changed the eye); faces whose expression squeezes the eyes are never painted."""
    import shutil

    from tests.conftest import need_shared_data
    from training.people import ckplus_people, painted_people
    from training.synthetic import OPEN_EYED, subject_of

    source = need_shared_data() / "mouth_negatives"
    data = tmp_path / "data"
    picked = sorted(source.glob("surprise_open_mouth/*.jpg"))[:6]
    squeezed = [
        p for p in sorted(source.glob("other_expression/*.jpg")) if not OPEN_EYED.match(p.name)
    ][:2]
    for p in picked + squeezed:
        (data / "mouth_negatives" / p.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, data / "mouth_negatives" / p.parent.name / p.name)
    shut = painted_people(data, tmp_path / "cache")
    assert len(shut) >= 4 and (shut.eye_label == 1).all()
    assert set(shut.source.tolist()) == {"ckplus_painted"}
    subjects = {f"ck:{subject_of(p)}" for p in picked}
    assert set(shut.person.tolist()) <= subjects
    open_eyes = ckplus_people(data / "mouth_negatives", tmp_path / "cache")
    open_eyes = open_eyes.take(np.flatnonzero(open_eyes.eye_label == 0))
    diff = np.abs(shut.images[:2].astype(float) - open_eyes.images[:2].astype(float)).mean()
    assert diff > 5  # grey levels: the lids cover the eye


def test_webcam_eye_crops_carry_the_head_pitch_the_pitch_fusion_is_scored_on(tmp_path):
    """Without the pitch the webcam person would drop out of the pitch fusion's check that
    no landmark source loses (docs/PROTOCOL.md, fifth amendment)."""
    import shutil

    from tests.conftest import need_shared_data
    from training.people import webcam_people

    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(need_shared_data() / "videos" / "webcam_glasses_6_low_fps.avi", videos)
    people = webcam_people(videos, tmp_path / "cache")
    eyes = people.eye_label >= 0
    assert eyes.sum() > 50
    pitch = people.pitch[eyes]
    assert np.isfinite(pitch).all() and (np.abs(pitch) < 45).all()  # a driver facing the camera
    assert np.isfinite(people.ear[eyes]).all()


def test_the_builds_fusion_over_arrays_is_the_runtimes_fusion():
    """The final-test decision of a shipped fusion must be what the runtime computes."""
    from drowsy.state.fusion import EyeFusion
    from training.person_recipe import apply_eye_fusion

    fusion = EyeFusion(1.2, 0.4, -0.3, 0.7)
    p_cnn, p_geo = np.array([0.2, 0.8, 0.6]), np.array([0.3, 0.9, 0.5])
    pitch = np.array([-20.0, 10.0, np.nan])  # no pose: a level head, as at run time
    got = apply_eye_fusion(fusion, p_cnn, np.log(p_geo / (1 - p_geo)), pitch)
    rows = zip(p_cnn, p_geo, pitch, strict=True)
    want = [fusion.apply(a, b, None if np.isnan(c) else c) for a, b, c in rows]
    assert np.allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("variant", ["drop_hard", "pretext", "teacher"])
def test_a_truncated_pretrained_or_distilled_member_is_chosen_only_well_above_its_twin(variant):
    """Eighth, tenth and eleventh amendments: the small-loss-truncated, the pretrained and the
    distilled painted members cost what their twin (the same recipe without it) costs, so each
    may win only at TWIN_GAIN above the twin, not by run-to-run noise inside the tie."""
    from training.person_build import (
        EYE_EXTRA,
        EYE_LOST,
        TWIN_GAIN,
        cheapest_within_tie,
        choosable,
        group_cost,
        twin,
    )

    plain = next(r for r in EYE_EXTRA if r.painted and r.arch == "cnn_t32" and twin(r) is None)
    other = next(r for r in EYE_EXTRA + EYE_LOST if getattr(r, variant))
    assert twin(other) == plain and other.key != plain.key and other.label != plain.label
    groups = {plain.label: [plain], other.label: [other]}
    costs = {k: group_cost(g) for k, g in groups.items()}
    assert costs[plain.label] == costs[other.label]
    near = {plain.label: 0.934, other.label: 0.934 + TWIN_GAIN / 2}
    assert cheapest_within_tie(choosable(groups, near), costs) == plain.label
    far = {plain.label: 0.934, other.label: 0.934 + TWIN_GAIN + 1e-4}
    assert cheapest_within_tie(choosable(groups, far), costs) == other.label
    # without its twin's score it cannot be judged, so it is not choosable
    assert other.label not in choosable({other.label: [other]}, {other.label: 0.99})


def test_small_loss_truncation_leaves_out_each_class_highest_losses():
    from training.train import small_loss_mask

    loss = np.array([0.1, 5.0, 0.2, 0.3, 9.0, 0.4, 0.5, 0.6, 0.7, 0.8])
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    keep = small_loss_mask(loss, labels, 0.2)  # one crop of each class of five
    assert keep.tolist() == [True, True, True, True, False, True, True, True, True, False]
    # not one global cut: class 1's worst goes although class 0 has two worse crops
    assert small_loss_mask(loss, labels, 0.1).all()  # 10 % of five rounds down to none


def test_fl3d_closures_are_the_runs_of_consecutive_microsleep_frame_numbers():
    from training.fl3d import closures

    numbers = [1, 2, 3, 5, 6, 9, 10, 11]
    labels = ["microsleep"] * 2 + ["alert"] + ["microsleep"] * 3 + ["yawning", "microsleep"]
    assert closures(numbers, labels) == [(1, 2), (5, 6), (9, 9), (11, 11)]
    assert closures([], []) == []
