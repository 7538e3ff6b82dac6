"""``python -m training`` (or ``drowsy-train``): build crop sets, pretrain, fine-tune, evaluate,
ensemble, export, and ``reproduce`` the shipped models end to end."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from drowsy.errors import UserError
from training import MODEL_VERSION
from training.recipes import (
    LAYOUTS,
    TASKS,
    DistillConfig,
    FinetuneConfig,
    PretrainConfig,
    TemporalConfig,
    add_config_args,
    config_from_args,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "reproduce",
        help="rebuild the shipped models/eyes and models/yawn: members trained on many people, "
        "every choice made out of fold by person (docs/PROTOCOL.md)",
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=ROOT / "models")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "people")
    p.add_argument("--force", action="store_true", help="overwrite existing exported models")
    p.add_argument("--members", type=int, default=3, help="seeds per task (default 3)")
    p.add_argument("--steps", type=int, default=None, help="training steps per member")
    p.add_argument(
        "--oof-only",
        choices=TASKS,
        help="only fill one task's out-of-fold cache in --work and stop",
    )
    p.add_argument(
        "--all-candidates",
        action="store_true",
        help="also train the candidates that lost the rule (eyes: 48 px, 4000 steps, small-loss "
        "truncation, rotation pretraining; yawn: truncation; ~50 min more): docs/PROTOCOL.md, "
        "'Candidates that lost'",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes training out-of-fold members side by side, one thread each (default 2)",
    )

    p = sub.add_parser(
        "selfsup",
        help="the self-supervised study of the version-2/3 models: pretext tasks, fine-tuning "
        "modes, label efficiency, leave-one-source-out",
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--work", type=Path, default=ROOT / "build" / "training")
    p.add_argument("--force", action="store_true", help="overwrite existing exported models")
    p.add_argument("--quick", action="store_true", help="tiny budgets (a smoke test)")
    p.add_argument("--version", default=MODEL_VERSION)

    p = sub.add_parser("temporal", help="build models/temporal (needs the eye and yawn models)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--models", type=Path, default=ROOT / "models")
    p.add_argument("--force", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny budgets (a smoke test)")

    p = sub.add_parser(
        "temporal-real",
        help="the temporal model with real FL3D and webcam sequences beside the simulator, "
        "chosen leave-one-driver-out (needs `reproduce`'s work folder)",
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--models", type=Path, default=ROOT / "models")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "people")

    p = sub.add_parser("crops", help="cut aligned crops with the runtime tracker (cached)")
    p.add_argument("inputs", nargs="+", type=Path, help="videos, face images or folders of them")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/unlabelled/*.png")
    p.add_argument("--regions", default="left_eye,right_eye,mouth")
    p.add_argument("--every", type=int, default=1, help="every N-th video frame")
    p.add_argument("--cache", type=Path, default=ROOT / "build" / "training" / "crop_cache")

    p = sub.add_parser("pretrain", help="self-supervised pretraining on unlabelled crops")
    p.add_argument("--data", type=Path, nargs="+", required=True, help="folders of crop images")
    p.add_argument("--out", type=Path, required=True, help="checkpoint file (resumes if present)")
    add_config_args(
        p,
        PretrainConfig,
        {
            "arch": ("arch", ""),
            "pretext": ("pretext", ""),
            "steps": ("steps", ""),
            "lr": ("lr", "learning rate"),
            "seed": ("seed", ""),
        },
    )

    p = sub.add_parser("finetune", help="train a classifier on labelled crops")
    _labelled(p)
    p.add_argument("--out", type=Path, required=True, help="checkpoint file (resumes if present)")
    p.add_argument("--backbone", type=Path, help="pretrain checkpoint (default: random init)")
    add_config_args(
        p,
        FinetuneConfig,
        {
            "arch": ("arch", ""),
            "mode": ("mode", "frozen: early layers frozen"),
            "steps": ("steps", ""),
            "lr": ("lr", "learning rate"),
            "fraction": ("label_fraction", "share of the labels to use"),
            "seed": ("seed", ""),
        },
    )

    p = sub.add_parser(
        "evaluate", help="metrics of checkpoints (and their votes) on labelled crops"
    )
    _labelled(p)
    p.add_argument("checkpoints", nargs="+", type=Path)

    p = sub.add_parser("distill", help="distil a task's ensemble into one member (ONNX)")
    _labelled(p)
    p.add_argument("--unlabelled", type=Path, nargs="+", required=True, help="crop folders")
    p.add_argument("--teacher", type=Path, required=True, help="ensemble folder (models/eyes)")
    p.add_argument("--out", type=Path, required=True, help="the student's .onnx file")
    p.add_argument("--backbone", type=Path, help="pretrain checkpoint (default: random init)")
    add_config_args(
        p,
        DistillConfig,
        {"arch": ("arch", ""), "steps": ("steps", ""), "seed": ("seed", "")},
    )
    p.add_argument("--version", default=MODEL_VERSION)
    p.add_argument("--force", action="store_true")

    p = sub.add_parser("export", help="export a fine-tuned checkpoint to ONNX (+ .sha256)")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--version", default=MODEL_VERSION)
    p.add_argument("--force", action="store_true")
    return ap


def _labelled(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument(
        "--layout",
        default="folders",
        choices=tuple(LAYOUTS),
        help="; ".join(f"{name}: {layout.help}" for name, layout in LAYOUTS.items()),
    )


def _load_labelled(args: argparse.Namespace):
    cache = ROOT / "build" / "training" / "crop_cache"
    return LAYOUTS[args.layout].load(args.data, args.task, cache)


def _images_in(folders: list[Path]):
    from training.data import CropSet, _images_in, _load
    from training.errors import TrainingError

    sets = []
    for folder in folders:
        if not folder.is_dir():
            raise TrainingError(f"{folder}: no such folder")
        sets.append(_load([(p, -1) for p in _images_in(folder)], ()))
    out = CropSet.concat(sets)
    if not len(out):
        raise TrainingError(f"no images in {', '.join(map(str, folders))}")
    return out


def cmd_temporal(args: argparse.Namespace) -> int:
    from training.temporal.build import build

    cfg = TemporalConfig.quick() if args.quick else TemporalConfig()
    t0 = time.monotonic()
    results = build(args.data, args.models, cfg, force=args.force)
    print(
        json.dumps(
            {
                "test": results["test"],
                "false_alarms": results["real_false_alarms"]["alerts"],
                "minutes": round((time.monotonic() - t0) / 60, 1),
            }
        )
    )
    return 0


def cmd_crops(args: argparse.Namespace) -> int:
    from drowsy.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES
    from training.data import save_crops, tracker_crops

    files = []
    for item in args.inputs:
        if item.is_dir():
            files += sorted(
                p for p in item.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
        elif item.exists():
            files.append(item)
        else:
            raise UserError(f"{item}: no such file or folder")
    crops = tracker_crops(files, args.cache, tuple(args.regions.split(",")), args.every)
    save_crops(crops, args.out)
    print(json.dumps({"inputs": len(files), "crops": len(crops), "out": str(args.out)}))
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from training.train import pretrain

    cfg = config_from_args(PretrainConfig, args)
    report = pretrain(cfg, _images_in(args.data), args.out, progress=sys.stderr.isatty())
    print(json.dumps({"checkpoint": str(args.out), **report}))
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    from training.data import split, stratified_fraction
    from training.reproduce import _metrics
    from training.train import finetune, predict

    crops = _load_labelled(args)
    tr, va = split(len(crops), (0.85, 0.15), seed=1234)
    train = crops.subset(tr)
    cfg = config_from_args(
        FinetuneConfig,
        args,
        task=args.task,
        backbone=str(args.backbone) if args.backbone else None,
    )
    if cfg.label_fraction < 1.0:
        train = train.subset(stratified_fraction(train.labels, cfg.label_fraction, cfg.seed))
    model = finetune(cfg, train, args.out, progress=sys.stderr.isatty())
    val = crops.subset(va)
    positive = crops.classes[1]
    print(
        json.dumps(
            {
                "checkpoint": str(args.out),
                "train": len(train),
                "val": _metrics(predict(model, val.images), val.labels, positive),
            }
        )
    )
    return 0


def _load_classifier(path: Path):
    from training.train import FinetuneConfig, build_classifier, load_checkpoint

    ckpt = load_checkpoint(path, "finetune")
    cfg = FinetuneConfig(**ckpt["config"])
    model = build_classifier(FinetuneConfig(**{**ckpt["config"], "backbone": None}))
    model.load_state_dict(ckpt["model"])
    return cfg, model.eval()


def cmd_evaluate(args: argparse.Namespace) -> int:
    from drowsy.inference.voting import MODES, vote
    from training.reproduce import _metrics
    from training.train import predict

    crops = _load_labelled(args)
    positive = crops.classes[1]
    probs, report = [], {"n": len(crops), "skipped_unreadable": crops.skipped, "members": {}}
    for path in args.checkpoints:
        _, model = _load_classifier(path)
        p = predict(model, crops.images)
        probs.append(p)
        report["members"][path.name] = _metrics(p, crops.labels, positive)
    if len(probs) > 1:
        report["voting"] = {m: _metrics(vote(probs, m), crops.labels, positive) for m in MODES}
    print(json.dumps(report))
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    from training.distill import distill, ensemble_teacher

    cfg = config_from_args(
        DistillConfig, args, backbone=str(args.backbone) if args.backbone else None
    )
    labelled = _load_labelled(args)
    model = distill(
        ensemble_teacher(args.teacher), labelled, _images_in(args.unlabelled), cfg, args.task
    )
    return _export(
        model, args, args.task, {"distilled_from": str(args.teacher), "config": vars(cfg)}
    )


def cmd_export(args: argparse.Namespace) -> int:
    cfg, model = _load_classifier(args.checkpoint)
    return _export(model, args, cfg.task, {"config": dict(vars(cfg))})


def _export(model, args: argparse.Namespace, task: str, training: dict) -> int:
    """One member to ``args.out`` (ONNX + checksum, parity checked); prints its report."""
    from training.data import TASK_CLASSES, TASK_REGIONS
    from training.export import export_onnx

    info = export_onnx(
        model,
        args.out,
        task=task,
        classes=TASK_CLASSES[task],
        regions=TASK_REGIONS[task],
        member=args.out.stem,
        version=args.version,
        training=training,
        metrics={},
        force=args.force,
    )
    print(json.dumps(info))
    return 0


def cmd_temporal_real(args: argparse.Namespace) -> int:
    from training.temporal.build import write_card
    from training.temporal.real import RealBuildConfig, build_real

    for path in (args.data / "fl3d", args.data / "videos"):
        if not path.is_dir():
            raise UserError(f"{path}: no such data folder")
    results = build_real(RealBuildConfig(args.data, args.work, args.models))
    write_card(args.models)
    summary = {k: results["oof"][k] for k in ("candidate", "shipped")}
    print(
        json.dumps(
            {
                "ships": results["ships"],
                "oof": {
                    k: {m: v[m] for m in ("recall", "false_alerts")} for k, v in summary.items()
                },
                "awake_alerts": results["awake_alerts"],
                "minutes": results["minutes"],
            }
        )
    )
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from training.people_cards import write_people_cards
    from training.person_build import (
        EYE_EXTRA,
        EYE_LOST,
        EYE_RECIPE,
        YAWN_EXTRA,
        YAWN_LOST,
        YAWN_RECIPE,
        PeopleBuildConfig,
        build_people_models,
    )

    if not args.data.is_dir():
        raise UserError(f"{args.data}: no such data folder")
    if args.members < 1:
        raise UserError("--members must be at least 1")
    if args.workers < 1:
        raise UserError("--workers must be at least 1")
    eye, yawn = EYE_RECIPE, YAWN_RECIPE
    if args.steps is not None:
        if args.steps < 1:
            raise UserError("--steps must be at least 1")
        eye, yawn = replace(eye, steps=args.steps), replace(yawn, steps=args.steps)
    cfg = PeopleBuildConfig(
        args.data,
        args.out,
        args.work,
        args.members,
        eye,
        yawn,
        args.force,
        args.oof_only,
        eye_extra=tuple(
            replace(r, steps=args.steps or r.steps)
            for r in EYE_EXTRA + (EYE_LOST if args.all_candidates else ())
        ),
        yawn_extra=tuple(
            replace(r, steps=args.steps or r.steps)
            for r in YAWN_EXTRA + (YAWN_LOST if args.all_candidates else ())
        ),
        workers=args.workers,
    )
    t0 = time.monotonic()
    results = build_people_models(cfg)
    if not args.oof_only:
        write_people_cards(results, args.out)
    print(json.dumps({"out": str(args.out), "minutes": round((time.monotonic() - t0) / 60, 1)}))
    return 0


def cmd_selfsup(args: argparse.Namespace) -> int:
    from training.cards import write_cards
    from training.reproduce import ReproduceConfig, quick_config, reproduce

    cfg = ReproduceConfig(
        args.data,
        args.out,
        args.work,
        version=args.version,
        force=args.force,
        progress=sys.stderr.isatty(),
    )
    if args.quick:
        cfg = quick_config(cfg)
    t0 = time.monotonic()
    results = reproduce(cfg)
    write_cards(results, args.out)
    print(json.dumps({"out": str(args.out), "minutes": round((time.monotonic() - t0) / 60, 1)}))
    return 0


COMMANDS = {
    "reproduce": cmd_reproduce,
    "selfsup": cmd_selfsup,
    "temporal": cmd_temporal,
    "temporal-real": cmd_temporal_real,
    "crops": cmd_crops,
    "pretrain": cmd_pretrain,
    "finetune": cmd_finetune,
    "evaluate": cmd_evaluate,
    "distill": cmd_distill,
    "export": cmd_export,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
