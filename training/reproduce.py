"""Rebuild the shipped eye-state and yawn ensembles end to end from ../shared/data.

Stages (each checkpoint is named by its config, so an interrupted run resumes and identical
runs are done once):
1. data: labelled crop sets split 70/15/15 per task; pipeline-cut crops of the labelled webcam
   videos (dev: webcam_glasses_3; test: the other two) and of the portraits; unlabelled crops.
2. self-supervised pretraining: every architecture x every pretext task.
3. choices by validation only: the pretext task, then the fine-tuning mode (frozen early
   layers vs full fine-tuning at a tenth of the pretraining learning rate).
4. label efficiency: 5/10/25/100 % of the labels, pretrained vs random init, same step
   budget, 3 seeds.
5. three members per task that differ in architecture, pretext and seed; every member and
   every voting mode evaluated; weights from validation accuracy; default mode by validation.
6. ONNX export with metadata, parity check and checksums; ensemble.json; results.json;
   MODEL_CARD.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from drowsy.inference.voting import MODES, vote
from drowsy.metrics import binary_metrics
from training import MODEL_VERSION
from training.data import (
    TASK_CLASSES,
    TASK_REGIONS,
    CropSet,
    class_folders,
    split,
    stratified_fraction,
)
from training.export import export_onnx
from training.models import ARCHS, CropNet
from training.realdata import (
    DEV_VIDEOS,
    TEST_VIDEOS,
    labelled_video_crops,
    portrait_crops,
    unlabelled_crops,
)
from training.train import (
    PRETEXTS,
    FinetuneConfig,
    PretrainConfig,
    finetune,
    input_key,
    predict,
    pretrain,
)

log = logging.getLogger(__name__)

BASELINE_EAR = 0.2


@dataclass(frozen=True)
class ReproduceConfig:
    data: Path
    out: Path
    work: Path
    version: str = MODEL_VERSION
    pretrain_steps: int = 600
    select_steps: int = 400
    le_steps: int = 200
    member_steps: int = 400
    fractions: tuple[float, ...] = (0.05, 0.1, 0.25, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    pretrain_lr: float = 2e-3
    force: bool = False
    progress: bool = True


def _key(cfg: object) -> str:
    return hashlib.sha1(json.dumps(asdict(cfg), sort_keys=True).encode()).hexdigest()[:10]


def _metrics(probs: np.ndarray, labels: np.ndarray, positive: str) -> dict:
    return binary_metrics(labels == 1, probs[:, 1] >= 0.5, positive)


class Run:
    def __init__(self, cfg: ReproduceConfig) -> None:
        self.cfg = cfg
        self.ckpt = cfg.work / "checkpoints"
        self.t0 = time.monotonic()
        self.results: dict = {"timings_s": {}, "version": cfg.version}
        self.checkpoints = {"reused": 0, "trained": 0}
        self._members: dict[str, list[tuple[str, FinetuneConfig, CropNet]]] = {}

    def tick(self, stage: str) -> None:
        self.results["timings_s"][stage] = round(time.monotonic() - self.t0, 1)
        log.info("%s done at %.0f s", stage, time.monotonic() - self.t0)

    # ------------------------------------------------------------------------------ data
    def load(self) -> None:
        d = self.cfg.data
        self.sets: dict[str, dict[str, CropSet]] = {}
        for task in ("eyes", "yawn"):
            full = class_folders(d / task, task)
            tr, va, te = split(len(full), (0.7, 0.15, 0.15), seed=1234)
            self.sets[task] = {
                "train": full.subset(tr),
                "val": full.subset(va),
                "test": full.subset(te),
            }
        dev = [labelled_video_crops(d / "videos" / f"{s}.avi", s) for s in DEV_VIDEOS]
        test = [labelled_video_crops(d / "videos" / f"{s}.avi", s) for s in TEST_VIDEOS]
        p_eyes, p_mouths = portrait_crops(d / "portraits")
        self.sets["eyes"]["dev_pipeline"] = CropSet.concat(e for e, _ in dev)
        self.sets["eyes"]["test_pipeline"] = CropSet.concat([*(e for e, _ in test), p_eyes])
        self.sets["yawn"]["dev_pipeline"] = CropSet.concat(m for _, m in dev)
        self.sets["yawn"]["test_pipeline"] = CropSet.concat([*(m for _, m in test), p_mouths])
        self.unlabelled = unlabelled_crops(d, self.cfg.work / "crop_cache")
        self.results["data"] = {
            task: {name: {"n": len(s), **s.counts()} for name, s in sets.items()}
            for task, sets in self.sets.items()
        }
        self.results["data"]["unlabelled"] = len(self.unlabelled)
        self.tick("data")

    # ---------------------------------------------------------------------------- stages
    def pretrain_all(self) -> None:
        self.backbones: dict[tuple[str, str], Path] = {}
        data_key = input_key(self.unlabelled)[:8]
        for arch in ARCHS:
            for pretext in PRETEXTS:
                pc = PretrainConfig(
                    arch, pretext, steps=self.cfg.pretrain_steps, lr=self.cfg.pretrain_lr
                )
                path = self.ckpt / f"pretrain-{arch}-{pretext}-{_key(pc)}-{data_key}.pt"
                self._count(path)
                pretrain(pc, self.unlabelled, path, progress=self.cfg.progress)
                self.backbones[(arch, pretext)] = path
        self.tick("pretrain")

    def _count(self, path: Path) -> None:
        self.checkpoints["reused" if path.exists() else "trained"] += 1

    def from_scratch_s(self) -> float | None:
        """Seconds of the last run that trained everything: this one, or the one recorded in
        the results.json a cached re-run replaces (so the card keeps the honest figure)."""
        if self.checkpoints["reused"] == 0:
            return self.results["timings_s"]["total"]
        old = self.cfg.out / "results.json"
        try:
            return json.loads(old.read_text()).get("from_scratch_s")
        except (OSError, ValueError):
            return None

    def fit(self, fc: FinetuneConfig) -> CropNet:
        train = self.sets[fc.task]["train"]
        if fc.label_fraction < 1.0:
            train = train.subset(stratified_fraction(train.labels, fc.label_fraction, fc.seed))
        path = self.ckpt / f"finetune-{fc.task}-{_key(fc)}-{input_key(train)[:8]}.pt"
        self._count(path)
        return finetune(fc, train, path, progress=self.cfg.progress)

    def ft_config(
        self, task: str, arch: str, pretext: str | None, mode: str, **kw
    ) -> FinetuneConfig:
        lr = {"full": self.cfg.pretrain_lr / 10, "frozen": self.cfg.pretrain_lr / 2}[mode]
        if pretext is None:  # from scratch: the pretraining learning rate, all layers
            return FinetuneConfig(
                task=task, arch=arch, backbone=None, mode="full", lr=self.cfg.pretrain_lr, **kw
            )
        return FinetuneConfig(
            task=task,
            arch=arch,
            backbone=str(self.backbones[(arch, pretext)]),
            mode=mode,
            lr=lr,
            **kw,
        )

    def val_score(self, model: CropNet, task: str) -> float:
        """Selection score: balanced accuracy on the validation split, averaged with the
        pipeline-cut development crops where there are both classes (eyes)."""
        positive = TASK_CLASSES[task][1]
        scores = []
        for name in ("val", "dev_pipeline"):
            s = self.sets[task][name]
            if len(np.unique(s.labels)) == 2:
                scores.append(
                    _metrics(predict(model, s.images), s.labels, positive)["balanced_accuracy"]
                )
        return float(np.mean(scores))

    def _selection_score(self, pretext: str, mode: str) -> float:
        """The selection protocol: eyes, cnn_s, all labels and the members' step budget (choose
        under the conditions the members are trained in), the first two seeds, mean validation
        score."""
        scores = [
            self.val_score(
                self.fit(
                    self.ft_config(
                        "eyes",
                        "cnn_s",
                        pretext,
                        mode,
                        steps=self.cfg.select_steps,
                        label_fraction=1.0,
                        seed=s,
                    )
                ),
                "eyes",
            )
            for s in self.cfg.seeds[:2]
        ]
        return float(np.mean(scores))

    def choose(self) -> None:
        table = {pretext: self._selection_score(pretext, "full") for pretext in PRETEXTS}
        self.pretext = max(table, key=table.get)
        modes = {mode: self._selection_score(self.pretext, mode) for mode in ("full", "frozen")}
        self.mode = max(modes, key=modes.get)
        self.results["selection"] = {
            "protocol": f"eyes, cnn_s, all labels, {self.cfg.select_steps} steps, seeds 0-1; "
            "mean balanced accuracy on the val split and the dev-video pipeline crops",
            "pretext_scores": table,
            "pretext": self.pretext,
            "mode_scores": modes,
            "mode": self.mode,
        }
        self.tick("selection")

    def label_efficiency(self) -> None:
        out = {}
        for task in ("eyes", "yawn"):
            positive = TASK_CLASSES[task][1]
            rows = {}
            for frac in self.cfg.fractions:
                for init in ("pretrained", "random"):
                    vals = {"test": [], "test_pipeline": []}
                    for seed in self.cfg.seeds:
                        fc = self.ft_config(
                            task,
                            "cnn_s",
                            self.pretext if init == "pretrained" else None,
                            self.mode,
                            steps=self.cfg.le_steps,
                            label_fraction=frac,
                            seed=seed,
                        )
                        model = self.fit(fc)
                        for name in vals:
                            s = self.sets[task][name]
                            m = _metrics(predict(model, s.images), s.labels, positive)
                            vals[name].append(
                                m["balanced_accuracy"]
                                if len(np.unique(s.labels)) == 2
                                else 1.0 - (m["false_positive_rate"] or 0.0)
                            )
                    rows[f"{frac}:{init}"] = {
                        k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "runs": v}
                        for k, v in vals.items()
                    }
            out[task] = rows
        self.results["label_efficiency"] = out
        self.tick("label_efficiency")

    def members(self, task: str) -> list[tuple[str, FinetuneConfig, CropNet]]:
        other = next(p for p in PRETEXTS if p != self.pretext)
        plan = [
            ("m1_cnn_s_" + self.pretext, "cnn_s", self.pretext, 0),
            ("m2_cnn_dw_" + self.pretext, "cnn_dw", self.pretext, 1),
            ("m3_cnn_s_" + other, "cnn_s", other, 2),
        ]
        out = []
        for name, arch, pretext, seed in plan:
            fc = self.ft_config(
                task, arch, pretext, self.mode, steps=self.cfg.member_steps, seed=seed
            )
            out.append((name, fc, self.fit(fc)))
        return out

    def ensemble(self, task: str) -> dict:
        positive = TASK_CLASSES[task][1]
        members = self.members(task)
        sets = self.sets[task]
        probs = {
            name: {k: predict(m, s.images) for k, s in sets.items() if k != "train"}
            for name, _, m in members
        }
        report: dict = {"members": {}, "voting": {}}
        for name, fc, _ in members:
            report["members"][name] = {
                "config": asdict(fc)
                | {"backbone": Path(fc.backbone).name if fc.backbone else None},
                **{k: _metrics(p, sets[k].labels, positive) for k, p in probs[name].items()},
            }
        weights = [report["members"][n]["val"]["accuracy"] for n, _, _ in members]
        for mode in MODES:
            report["voting"][mode] = {
                k: _metrics(
                    vote([probs[n][k] for n, _, _ in members], mode, weights),
                    sets[k].labels,
                    positive,
                )
                for k in probs[members[0][0]]
            }

        def sel(block: dict) -> float:
            keys = ["val"] + (["dev_pipeline"] if task == "eyes" else [])
            return float(np.mean([block[k]["balanced_accuracy"] for k in keys]))

        order = sorted(MODES, key=lambda m: (sel(report["voting"][m]), m == "soft"), reverse=True)
        report["default_voting"] = order[0]
        report["weights"] = dict(zip([n for n, _, _ in members], weights, strict=True))
        if task == "eyes":
            report["baseline_ear"] = {
                k: binary_metrics(sets[k].labels == 1, sets[k].ear < BASELINE_EAR, positive)
                for k in ("dev_pipeline", "test_pipeline")
                if sets[k].ear is not None
            }
        self._members[task] = members
        return report

    def export(self, task: str, report: dict) -> None:
        folder = self.cfg.out / task
        entries = []
        data_summary = {
            "labelled": f"../shared/data/{task} (public Kaggle set via a GitHub copy), 70% train",
            "unlabelled_pretraining": self.results["data"]["unlabelled"],
            "counts": self.results["data"][task],
        }
        for (name, _fc, model), weight in zip(
            self._members[task], report["weights"].values(), strict=True
        ):
            info = export_onnx(
                model,
                folder / f"{name}.onnx",
                task=task,
                classes=TASK_CLASSES[task],
                regions=TASK_REGIONS[task],
                member=name,
                version=self.cfg.version,
                training=data_summary | {"config": report["members"][name]["config"]},
                metrics={
                    k: report["members"][name][k]["balanced_accuracy"] for k in ("val", "test")
                },
                force=self.cfg.force,
            )
            entries.append({**info, "weight": weight})
        spec = {
            "task": task,
            "version": self.cfg.version,
            "classes": TASK_CLASSES[task],
            "voting": report["default_voting"],
            "members": entries,
        }
        (folder / "ensemble.json").write_text(json.dumps(spec, indent=2) + "\n")
        report["export"] = entries

    def run(self) -> dict:
        torch.set_num_threads(max(1, torch.get_num_threads()))
        self.load()
        self.pretrain_all()
        self.choose()
        self.label_efficiency()
        for task in ("eyes", "yawn"):
            report = self.ensemble(task)
            self.export(task, report)
            self.results[task] = report
        self.tick("total")
        self.results["checkpoints"] = self.checkpoints
        self.results["from_scratch_s"] = self.from_scratch_s()
        self.cfg.out.mkdir(parents=True, exist_ok=True)
        (self.cfg.out / "results.json").write_text(json.dumps(self.results, indent=2) + "\n")
        return self.results


def reproduce(cfg: ReproduceConfig) -> dict:
    return Run(cfg).run()


def quick_config(cfg: ReproduceConfig) -> ReproduceConfig:
    """Tiny budgets for smoke tests."""
    return replace(
        cfg,
        pretrain_steps=4,
        select_steps=3,
        le_steps=3,
        member_steps=3,
        fractions=(0.1, 1.0),
        seeds=(0, 1),
    )
