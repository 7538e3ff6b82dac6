"""Eleventh amendment: a cheap eye member distilled from a wide one of the same fold."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the training extra is not installed")

from tests.training_fixtures import easy_set  # noqa: E402
from training.errors import TrainingError  # noqa: E402
from training.models import CropNet  # noqa: E402
from training.recipes import FinetuneConfig  # noqa: E402
from training.train import distillation_loss, finetune, predict  # noqa: E402


class Constant(torch.nn.Module):
    """A teacher that answers the same logits for every crop."""

    def __init__(self, logits: tuple[float, float], input_size: int = 32) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)
        self.input_size = input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), 2)


def test_the_distillation_loss_is_zero_only_where_student_and_teacher_agree():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5]])
    same = distillation_loss(logits, lambda x: x, logits, temperature=2.0)
    assert torch.allclose(same, torch.zeros(2), atol=1e-6)
    other = distillation_loss(logits, lambda x: x.flip(1), logits, temperature=2.0)
    assert other[0] > 0.1 and abs(float(other[1])) < 1e-6  # the tie is its own mirror


def test_a_teacher_pulls_the_student_toward_its_answers():
    """A teacher sure of "closed" everywhere makes the student call more crops closed than
    its twin trained on the labels alone, from the same batches and seed."""
    data = easy_set(96, 0)
    cfg = FinetuneConfig(arch="cnn_t32", steps=30, batch_size=16, lr=3e-3, seed=0)
    twin = finetune(cfg, data, None, progress=False)
    taught = finetune(
        replace(cfg, kd_temperature=2.0),
        data,
        None,
        progress=False,
        teacher=Constant((-4.0, 4.0)),
    )
    p_twin = predict(twin, data.images)[:, 1].mean()
    p_taught = predict(taught, data.images)[:, 1].mean()
    assert p_taught > p_twin + 0.1


def test_distillation_refuses_a_teacher_it_cannot_use():
    data = easy_set(32, 0)
    cfg = FinetuneConfig(arch="cnn_t32", steps=2, batch_size=16)
    with pytest.raises(TrainingError, match="kd_temperature"):
        finetune(cfg, data, None, progress=False, teacher=Constant((0.0, 1.0)))
    with pytest.raises(TrainingError, match="kd_temperature"):
        finetune(replace(cfg, kd_temperature=2.0), data, None, progress=False)
    with pytest.raises(TrainingError, match="64 px"):
        finetune(
            replace(cfg, kd_temperature=2.0),
            data,
            None,
            progress=False,
            teacher=Constant((0.0, 1.0), input_size=64),
        )


def test_each_fold_student_learns_from_that_fold_teacher(tmp_path, monkeypatch):
    """The teacher's fold models (trained on the fold's training people only) are the
    student's teachers, the teacher's OOF is filled first and cached, and both are read back
    from the cache without training again."""
    import training.person_build as pb
    from training.protocol import FOLDS

    student = next(r for r in pb.EYE_EXTRA if r.teacher)
    teacher = student.teacher_recipe
    assert teacher in pb.EYE_EXTRA and teacher.arch == "cnn_w32" and not teacher.teacher
    calls: list[tuple[str, object]] = []

    def fake_oof(recipe, split, keep=None, teachers=None):
        calls.append((recipe.label, teachers))
        keep.update({f: CropNet(recipe.arch).eval() for f in range(FOLDS)})
        return np.full(len(split.labels), 0.25 if recipe.teacher else 0.75)

    monkeypatch.setattr(pb, "recipe_oof", fake_oof)
    split = SimpleNamespace(labels=np.zeros(10, int))
    build = pb.PeopleBuild(pb.PeopleBuildConfig(data=tmp_path, out=tmp_path, work=tmp_path))
    got = build.oof(student, split)
    assert [c[0] for c in calls] == [teacher.label, student.label]
    assert calls[0][1] is None and calls[1][1] is build.fold_models[teacher]
    assert np.all(got == 0.25)

    again = pb.PeopleBuild(pb.PeopleBuildConfig(data=tmp_path, out=tmp_path, work=tmp_path))
    assert np.all(again.oof(student, split) == 0.25) and len(calls) == 2
    assert sorted(again.fold_models[student]) == list(range(FOLDS))


def test_the_shipped_student_learns_from_a_teacher_of_every_development_person(monkeypatch):
    import training.person_build as pb

    student = next(r for r in pb.EYE_EXTRA if r.teacher)
    rows = (np.zeros((4, 64, 64), np.uint8), np.array([0, 1, 0, 1]), np.array(["mrl"] * 4))
    trained: list[tuple[str, object]] = []

    def fake_member(recipe, images, labels, sources=None, teacher=None):
        assert images is rows[0]  # the same development crops for teacher and student
        trained.append((recipe.label, teacher))
        return f"model of {recipe.label}"

    monkeypatch.setattr(pb, "train_member", fake_member)
    split = SimpleNamespace(development=np.arange(4), training_rows=lambda idx, painted: rows)
    b = pb.TaskBuild("eyes", split, results={"choice": {}})
    build = pb.PeopleBuild.__new__(pb.PeopleBuild)
    build.results, build._t0 = {"timings_s": {}}, 0.0
    build.train_final(b, [student])
    teacher = student.teacher_recipe
    assert trained == [(teacher.label, None), (student.label, f"model of {teacher.label}")]
    assert b.models == [f"model of {student.label}"]


def test_a_distilled_recipe_needs_its_teacher_and_others_none():
    from training.person_recipe import MemberRecipe, train_member

    data = easy_set(32, 0)
    with pytest.raises(ValueError, match="teacher"):
        train_member(MemberRecipe(teacher="cnn_w32"), data.images, data.labels)
    with pytest.raises(ValueError, match="teacher"):
        train_member(MemberRecipe(), data.images, data.labels, teacher=CropNet("cnn_t32"))


def test_parallel_filling_starts_a_student_once_its_teacher_is_cached(tmp_path, monkeypatch):
    """Longest recipe first, two at a time; the distilled recipe waits for its teacher's
    fold models (its worker would otherwise train them again), then takes the next free
    worker ahead of shorter recipes."""
    import concurrent.futures
    import threading
    import time

    import training.person_build as pb

    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def fake_fill(cfg, recipe):
        with lock:
            events.append(("start", recipe.label))
        time.sleep(0.05 if recipe.arch == "cnn_w32" else 0.02)
        with lock:
            events.append(("end", recipe.label))
        return recipe.label

    class Threads(concurrent.futures.ThreadPoolExecutor):
        def __init__(self, workers, mp_context=None):
            super().__init__(workers)

    monkeypatch.setattr(pb, "_fill_oof", fake_fill)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Threads)
    student = next(r for r in pb.EYE_EXTRA if r.teacher)
    cfg = pb.PeopleBuildConfig(data=tmp_path, out=tmp_path, work=tmp_path, workers=2)
    build = pb.PeopleBuild(cfg)
    build.fill_oof_in_parallel(("eyes",))
    labels = [r.label for r in build.recipes("eyes")]
    starts = [k for e, k in events if e == "start"]
    assert sorted(starts) == sorted(labels)  # every recipe once
    assert starts[0] == student.teacher_recipe.label  # the longest first
    teacher_end = events.index(("end", student.teacher_recipe.label))
    assert events.index(("start", student.label)) > teacher_end
    # then the student goes ahead of the 32 px recipes still waiting
    after = [k for e, k in events[teacher_end:] if e == "start"]
    assert after[0] == student.label
