"""Every training stage on a tiny generated dataset, in seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the training extra is not installed")

from drowsy.inference.onnx_model import OnnxModel  # noqa: E402
from tests.training_fixtures import easy_image, easy_set  # noqa: E402
from training.data import cew, class_folders, mrl_eye, stratified_fraction  # noqa: E402
from training.errors import TrainingError  # noqa: E402
from training.export import export_onnx  # noqa: E402
from training.models import CropNet  # noqa: E402
from training.train import (  # noqa: E402
    FinetuneConfig,
    PretrainConfig,
    finetune,
    load_checkpoint,
    predict,
    pretrain,
)


def write_folders(root, n=20, seed=0):
    data = easy_set(n, seed)
    for i, (img, y) in enumerate(zip(data.images, data.labels, strict=True)):
        (root / data.classes[y]).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / data.classes[y] / f"{i}.png"), img)
    return root


def test_finetune_learns_an_easy_task():
    cfg = FinetuneConfig(steps=40, batch_size=32, lr=3e-3, seed=0)
    model = finetune(cfg, easy_set(200, 0), None, progress=False)
    test = easy_set(100, 1)
    acc = (predict(model, test.images).argmax(1) == test.labels).mean()
    assert acc >= 0.9


@pytest.mark.parametrize("pretext", ["rotation", "inpaint"])
def test_pretrain_checkpoints_and_resumes(tmp_path, pretext):
    data = easy_set(64, 0)
    out = tmp_path / "pt.ckpt"
    cfg = PretrainConfig(pretext=pretext, steps=3, batch_size=16)
    report = pretrain(cfg, data, out, progress=False, checkpoint_every=2)
    assert np.isfinite(report["final_loss"])
    ckpt = load_checkpoint(out, "pretrain")
    assert ckpt["step"] == 3 and ckpt["config"]["pretext"] == pretext
    pretrain(cfg, data, out, progress=False)  # finished: resumes at the end, trains nothing
    with pytest.raises(TrainingError, match="another config"):
        pretrain(PretrainConfig(pretext=pretext, steps=5, batch_size=16), data, out, progress=False)
    with pytest.raises(TrainingError, match="other data"):  # e.g. crops of a new crop spec
        pretrain(cfg, easy_set(64, 1), out, progress=False)


def test_frozen_finetune_from_a_backbone_keeps_early_layers(tmp_path):
    data = easy_set(64, 0)
    backbone = tmp_path / "pt.ckpt"
    pretrain(PretrainConfig(steps=2, batch_size=16), data, backbone, progress=False)
    early = {
        k: v.clone()
        for k, v in load_checkpoint(backbone)["model"].items()
        if k.startswith("backbone.features.0.")
    }
    cfg = FinetuneConfig(backbone=str(backbone), mode="frozen", steps=3, batch_size=16)
    model = finetune(cfg, data, tmp_path / "ft.ckpt", progress=False)
    state = model.state_dict()
    for k, v in early.items():
        assert torch.equal(state[k.removeprefix("backbone.")], v), k
    wrong = FinetuneConfig(arch="cnn_dw", backbone=str(backbone), steps=1)
    with pytest.raises(TrainingError, match="backbone is cnn_s"):
        finetune(wrong, data, None, progress=False)


def test_export_metadata_parity_checksum_and_refusal(tmp_path):
    model = finetune(FinetuneConfig(steps=2, batch_size=16), easy_set(32, 0), None, progress=False)
    path = tmp_path / "m.onnx"
    kw = dict(
        task="eyes",
        classes=("open", "closed"),
        regions=("left_eye", "right_eye"),
        member="m",
        version="t",
        training={"n": 32},
        metrics={"val": 1.0},
    )
    info = export_onnx(model, path, **kw)
    assert info["parity_max_abs_diff"] < 1e-4
    # one self-contained graph and its checksum, no external-data or temporary files beside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.sha256"]
    loaded = OnnxModel(path)  # checksum verified on load
    assert loaded.info.meta.classes == ("open", "closed")
    assert json.loads(loaded.info.meta.extra["val_metrics"]) == {"val": 1.0}
    assert {"logits", "probs", "features", "grad_features"} <= set(loaded.output_names)
    x = np.random.default_rng(0).normal(size=(3, 1, 64, 64)).astype(np.float32)
    out = loaded.run(x, ["probs", "features", "grad_features"])
    assert out["features"].shape[:2] == (3, model.num_features)
    assert out["grad_features"].shape == (3, 2, model.num_features, 4, 4)
    with torch.no_grad():
        ref = torch.softmax(model(torch.from_numpy(x)), 1).numpy()
    assert np.abs(ref - out["probs"]).max() < 1e-5
    with pytest.raises(TrainingError, match="exists"):
        export_onnx(model, path, **kw)
    export_onnx(model, path, force=True, **kw)


def test_grad_features_are_the_true_gradient():
    model = CropNet("cnn_s").eval()
    from training.export import _GradCamGraph

    x = torch.randn(2, 1, 64, 64)
    feats = model.forward_features(x).detach().requires_grad_(True)
    logits = model.forward_head(feats)
    logits[:, 1].sum().backward()
    _, _, _, grad = _GradCamGraph(model)(x)
    assert torch.allclose(grad[:, 1], feats.grad, atol=1e-7)


def test_dataset_layouts_and_bad_folders(tmp_path, caplog):
    root = write_folders(tmp_path / "folders")
    (root / "open" / "broken.png").write_bytes(b"nope")
    data = class_folders(root, "eyes")
    assert len(data) == 20 and data.skipped == 1 and "broken.png" in caplog.text
    (tmp_path / "one").mkdir()
    write_folders(tmp_path / "one")
    for f in (tmp_path / "one" / "closed").iterdir():
        f.unlink()
    with pytest.raises(TrainingError, match="'closed' has no images"):
        class_folders(tmp_path / "one", "eyes")
    with pytest.raises(TrainingError, match="no such folder"):
        class_folders(tmp_path / "missing", "eyes")

    mrl = tmp_path / "mrl" / "s0001"
    mrl.mkdir(parents=True)
    img = easy_image(True, np.random.default_rng(0))
    cv2.imwrite(str(mrl / "s0001_00001_0_0_0_0_0_01.png"), img)  # state 0: closed
    cv2.imwrite(str(mrl / "s0001_00002_0_0_1_0_0_01.png"), img)  # state 1: open
    got = mrl_eye(tmp_path / "mrl")
    assert sorted(zip(got.sources, got.labels.tolist(), strict=True))[0][1] == 1

    for name in ("closedLeftEyes", "openRightEyes"):
        (tmp_path / "cew" / name).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "cew" / name / "a.jpg"), img)
    assert sorted(cew(tmp_path / "cew").labels.tolist()) == [0, 1]


def test_stratified_fraction_keeps_both_classes():
    labels = np.array([0] * 90 + [1] * 10)
    idx = stratified_fraction(labels, 0.05, seed=0)
    assert set(labels[idx].tolist()) == {0, 1}


def test_cli_errors_are_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "training",
            "finetune",
            "--task",
            "eyes",
            "--data",
            str(empty),
            "--out",
            str(tmp_path / "x.ckpt"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_finetune_evaluate_export(tmp_path):
    root = write_folders(tmp_path / "data", n=40)
    ckpt = tmp_path / "ft.ckpt"
    run = [sys.executable, "-m", "training"]
    subprocess.run(
        [
            *run,
            "finetune",
            "--task",
            "eyes",
            "--data",
            str(root),
            "--out",
            str(ckpt),
            "--steps",
            "3",
        ],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [*run, "evaluate", "--task", "eyes", "--data", str(root), str(ckpt), str(ckpt)],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(out.stdout)
    assert report["n"] == 40 and set(report["voting"]) == {"hard", "soft", "weighted"}
    onnx_path = tmp_path / "m.onnx"
    subprocess.run(
        [*run, "export", str(ckpt), "--out", str(onnx_path)], check=True, capture_output=True
    )
    again = subprocess.run(
        [*run, "export", str(ckpt), "--out", str(onnx_path)], capture_output=True, text=True
    )
    assert again.returncode == 2 and "--force" in again.stderr


def test_ckplus_split_keeps_each_person_in_one_split(tmp_path):
    from training.synthetic import split_subjects, subject_of

    paths = [
        tmp_path / f"{expr}_S{s:03d}_00{k}_0000001{k}.jpg"
        for s in range(40)
        for expr in ("happy", "surprise")
        for k in range(3)
    ]
    parts = split_subjects(paths)
    seen = {name: {subject_of(p) for p in ps} for name, ps in parts.items()}
    assert sum(len(ps) for ps in parts.values()) == len(paths)
    assert not (
        seen["train"] & seen["val"] or seen["train"] & seen["test"] or seen["val"] & seen["test"]
    )
    assert len(seen["train"]) == 28 and len(seen["test"]) == 6


def test_occlusion_puts_something_in_front_of_the_mouth():
    import numpy as np

    from training.augment import AugmentConfig, augment, occlude

    mouth = np.tile(np.linspace(60, 200, 64, dtype=np.uint8), (64, 1))
    covered = [occlude(mouth, np.random.default_rng(i)) for i in range(40)]
    share = [np.mean(np.abs(c.astype(int) - mouth.astype(int)) > 8) for c in covered]
    assert all(c.shape == (64, 64) and c.dtype == np.uint8 for c in covered)
    assert np.mean([0.01 < x < 0.8 for x in share]) >= 0.9  # part of the crop, not all of it
    out = augment(mouth, np.random.default_rng(0), AugmentConfig(occlude_p=1.0))
    assert out.shape == (64, 64)


def test_yawn_gate_rule_takes_the_smallest_center_under_the_fpr_limit():
    from training.reproduce import gate_center

    assert gate_center({0.3: 0.12, 0.35: 0.06, 0.4: 0.04, 0.45: 0.01, 0.5: 0.0}) == 0.4
    assert gate_center({0.3: 0.2, 0.5: 0.1}) == 0.5  # none qualifies: the strictest


def test_reproduce_counts_a_checkpoint_it_made_and_uses_twice_as_trained(tmp_path):
    """The LOSO model is member m1's recipe: its second use must not make a from-scratch run
    look cached (the card would then keep an older run's duration)."""
    from training.reproduce import ReproduceConfig, Run

    (tmp_path / "checkpoints").mkdir()
    old = tmp_path / "checkpoints" / "old.pt"
    old.write_bytes(b"")
    run = Run(ReproduceConfig(data=tmp_path, out=tmp_path, work=tmp_path))
    new = tmp_path / "checkpoints" / "new.pt"
    run._count(new)
    new.write_bytes(b"")
    run._count(new)
    run._count(old)
    assert run.checkpoints == {"reused": 1, "trained": 1}


def test_distilled_student_follows_its_teacher_where_there_are_no_labels():
    """Four labelled crops and many unlabelled ones with the teacher's answers (here the easy
    task's truth): the student matches the teacher on crops it never saw."""
    from training.distill import DistillConfig, distill

    pool = easy_set(300, 0)
    truth_of = {img.tobytes(): y for img, y in zip(pool.images, pool.labels, strict=True)}

    def teacher(images):
        y = np.array([truth_of[im.tobytes()] for im in images])
        return np.stack([1.0 - 0.95 * y - 0.025, 0.95 * y + 0.025], axis=1)

    few = pool.subset(np.concatenate([np.flatnonzero(pool.labels == c)[:2] for c in (0, 1)]))
    rest = pool.subset(np.arange(len(pool))[4:])
    rest.labels = np.full(len(rest), -1)
    cfg = DistillConfig(steps=40, lr=3e-3, labelled_per_batch=4, unlabelled_per_batch=28)
    student = distill(teacher, few, rest, cfg, "eyes")
    test = easy_set(100, 1)
    assert (predict(student, test.images).argmax(1) == test.labels).mean() >= 0.9


def test_cli_distill_writes_a_runtime_loadable_member(tmp_path):
    from tests.onnx_fixtures import write_models_dir

    teacher = write_models_dir(tmp_path / "models") / "eyes"
    labelled = write_folders(tmp_path / "data", n=20)
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for i, img in enumerate(easy_set(30, 3).images):
        cv2.imwrite(str(unlabelled / f"{i}.png"), img)
    out = tmp_path / "s1.onnx"
    run = [sys.executable, "-m", "training", "distill", "--task", "eyes", "--data", str(labelled)]
    run += ["--unlabelled", str(unlabelled), "--teacher", str(teacher), "--out", str(out)]
    subprocess.run([*run, "--steps", "3"], check=True, capture_output=True)
    model = OnnxModel(out)
    assert model.info.meta.task == "eyes" and model.info.meta.classes == ("open", "closed")
    bad = subprocess.run(
        [*run[:-6], "--unlabelled", str(tmp_path / "nowhere"), *run[-4:], "--force"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("stage", ["finetune", "pretrain"])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch, stage):
    """Before: a fine-tune interrupted at step 2 and resumed differed from an uninterrupted
    one by up to 0.0102 in the weights (the random generators were not in the checkpoint)."""
    from training import train

    data = easy_set(64, 0)
    if stage == "finetune":
        cfg = FinetuneConfig(steps=5, batch_size=16)

        def run(out):
            return train.finetune(cfg, data, out, progress=False, checkpoint_every=1).state_dict()
    else:
        cfg = PretrainConfig(steps=5, batch_size=16)

        def run(out):
            train.pretrain(cfg, data, out, progress=False, checkpoint_every=1)
            return load_checkpoint(out)["model"]

    whole = run(tmp_path / "whole.ckpt")
    real = train.augment_batch
    calls = {"n": 0}

    def dies_at_step_three(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed after the checkpoint of step 2
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "augment_batch", dies_at_step_three)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed.ckpt")
    monkeypatch.setattr(train, "augment_batch", real)
    assert load_checkpoint(tmp_path / "resumed.ckpt")["step"] == 2
    resumed = run(tmp_path / "resumed.ckpt")
    for key, value in whole.items():
        assert torch.equal(value, resumed[key]), key


def test_checkpoint_keys_do_not_depend_on_where_the_work_folder_is():
    """Before: the key hashed the backbone's absolute path, so moving --work retrained all."""
    from training.reproduce import _key

    here = FinetuneConfig(backbone="/work/build/checkpoints/pretrain-cnn_s-rotation-ab12.pt")
    moved = FinetuneConfig(backbone="/elsewhere/ck/pretrain-cnn_s-rotation-ab12.pt")
    other = FinetuneConfig(backbone="/work/build/checkpoints/pretrain-cnn_s-inpaint-cd34.pt")
    assert _key(here) == _key(moved) != _key(other)
    assert _key(FinetuneConfig()) != _key(FinetuneConfig(steps=FinetuneConfig().steps + 1))


def test_command_line_defaults_are_the_recipes_defaults():
    """Before: `finetune --steps` defaulted to 400 while FinetuneConfig.steps was 300."""
    from training.cli import build_parser
    from training.recipes import DistillConfig, config_from_args

    parser = build_parser()
    ft = parser.parse_args(["finetune", "--task", "eyes", "--data", "d", "--out", "o"])
    assert config_from_args(FinetuneConfig, ft, task="eyes", backbone=None) == FinetuneConfig()
    pre = parser.parse_args(["pretrain", "--data", "d", "--out", "o"])
    assert config_from_args(PretrainConfig, pre) == PretrainConfig()
    distill = [
        "distill",
        "--task",
        "eyes",
        "--data",
        "d",
        "--unlabelled",
        "u",
        "--teacher",
        "t",
        "--out",
        "o",
    ]
    dis = parser.parse_args(distill)
    assert config_from_args(DistillConfig, dis, backbone=None) == DistillConfig()
    assert (
        parser.parse_args(
            ["finetune", "--task", "yawn", "--data", "d", "--out", "o", "--steps", "7"]
        ).steps
        == 7
    )


def test_finetune_with_small_loss_truncation_still_learns_an_easy_task():
    cfg = FinetuneConfig(steps=40, batch_size=32, lr=3e-3, seed=0, drop_hard=0.1)
    model = finetune(cfg, easy_set(200, 0), None, progress=False)
    test = easy_set(100, 1)
    assert (predict(model, test.images).argmax(1) == test.labels).mean() >= 0.9


def test_a_checkpoint_older_than_a_config_field_resumes_at_its_default(tmp_path):
    data = easy_set(64, 0)
    out = tmp_path / "ft.ckpt"
    cfg = FinetuneConfig(steps=3, batch_size=16)
    finetune(cfg, data, out, progress=False)
    ckpt = torch.load(out, weights_only=False)
    del ckpt["config"]["drop_hard"]  # written before the field existed
    torch.save(ckpt, out)
    finetune(cfg, data, out, progress=False)  # same config at the default: resumes, no error
    with pytest.raises(TrainingError, match="differs in drop_hard"):
        finetune(FinetuneConfig(steps=3, batch_size=16, drop_hard=0.1), data, out, progress=False)


def test_a_32px_network_pretrains_by_rotation_and_refuses_inpainting(tmp_path):
    data = easy_set(64, 0)
    out = tmp_path / "pt.ckpt"
    pretrain(PretrainConfig(arch="cnn_t32", steps=2, batch_size=16), data, out, progress=False)
    assert load_checkpoint(out, "pretrain")["config"]["arch"] == "cnn_t32"
    cfg = PretrainConfig(arch="cnn_t32", pretext="inpaint", steps=2, batch_size=16)
    with pytest.raises(TrainingError, match="64 px"):
        pretrain(cfg, data, tmp_path / "ip.ckpt", progress=False)


def test_a_pretrained_member_starts_from_a_backbone_of_its_own_training_crops(monkeypatch):
    """Tenth amendment: the backbone is pretrained on exactly the crops the member then
    fine-tunes on (a fold's training people: nobody held out is seen, even unlabelled), and
    fine-tuning starts from it; without a pretext nothing is pretrained."""
    import training.person_recipe as pr

    seen: dict[str, object] = {}
    real_pretrain, real_finetune = pr.pretrain, pr.finetune

    def spy_pretrain(cfg, crops, out, **kw):
        seen["pretrained_on"] = crops.images.copy()
        seen["pretext"] = (cfg.arch, cfg.pretext)
        seen["budget"] = (cfg.steps, cfg.batch_size)
        return real_pretrain(replace(cfg, steps=2, batch_size=16), crops, out, **kw)

    def spy_finetune(cfg, crops, out, **kw):
        seen["backbone"] = cfg.backbone
        if cfg.backbone:
            ckpt = load_checkpoint(Path(cfg.backbone), "pretrain")
            seen["backbone_arch"] = ckpt["config"]["arch"]
        return real_finetune(replace(cfg, steps=3, batch_size=16), crops, out, **kw)

    monkeypatch.setattr(pr, "pretrain", spy_pretrain)
    monkeypatch.setattr(pr, "finetune", spy_finetune)
    data = easy_set(48, 0)
    recipe = pr.MemberRecipe(arch="cnn_t32", pretext="rotation")
    model = pr.train_member(recipe, data.images, data.labels)
    assert seen["pretext"] == ("cnn_t32", "rotation")
    assert seen["budget"] == (600, 64)  # the amendment's, for the 1500-step recipe of 128
    assert np.array_equal(seen["pretrained_on"], data.images)
    assert seen["backbone_arch"] == "cnn_t32"  # a finished pretraining checkpoint at the start
    assert not Path(seen["backbone"]).exists()  # a temporary file, gone afterwards
    assert isinstance(model, CropNet) and model.arch == "cnn_t32"

    seen.clear()
    pr.train_member(replace(recipe, pretext=""), data.images, data.labels)
    assert "pretrained_on" not in seen and seen["backbone"] is None
