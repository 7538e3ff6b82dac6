"""Temporal model: self-supervised pretraining on real sequences (masked-step prediction),
training on simulated labelled sequences, evaluation against the rule baseline, ONNX export.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F

from drowsy.inference.metadata import TEMPORAL_OUTPUTS, ModelMetadata
from drowsy.metrics import roc_auc
from drowsy.temporal.features import FEATURE_SPEC_VERSION, FEATURES, STEP_S
from training.errors import TrainingError
from training.export import accept
from training.recipes import TemporalConfig
from training.temporal.model import TemporalNet
from training.temporal.simulator import ALERT, DROWSY, NoiseModel, Sample, dataset, simulate
from training.train import seed_everything

log = logging.getLogger(__name__)
FI = {n: i for i, n in enumerate(FEATURES)}


def windows_of(seq: np.ndarray, window: int, stride: int) -> np.ndarray:
    if len(seq) < window:
        seq = np.vstack([np.zeros((window - len(seq), seq.shape[1]), np.float32), seq])
    starts = range(0, len(seq) - window + 1, stride)
    return np.stack([seq[s : s + window] for s in starts])


def pretrain(
    model: TemporalNet, real: np.ndarray, cfg: TemporalConfig, rng: np.random.Generator
) -> list[float]:
    """Masked-step prediction on unlabelled real windows: hide 15 % of the steps and rebuild
    their features from the context."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    losses = []
    for _ in range(cfg.pretrain_steps):
        idx = rng.integers(0, len(real), cfg.batch_size)
        x = torch.from_numpy(real[idx])
        mask = torch.from_numpy(rng.random(x.shape[:2]) < 0.15)
        pred = model.recon(model.encode(x.masked_fill(mask[..., None], 0.0)))
        loss = ((pred - x) ** 2)[mask].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def to_arrays(samples: list[Sample], window: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.stack([s.x[-window:] for s in samples]).astype(np.float32)
    y = np.array([[s.drowsy, s.distracted] for s in samples], np.float32)
    return x, y


def fit(
    model: TemporalNet, x: np.ndarray, y: np.ndarray, cfg: TemporalConfig, rng: np.random.Generator
) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.train_steps)
    model.train()
    for _ in range(cfg.train_steps):
        idx = rng.integers(0, len(x), cfg.batch_size)
        scores, _ = model(torch.from_numpy(x[idx]))
        loss = F.binary_cross_entropy(scores, torch.from_numpy(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()


@torch.no_grad()
def scores_of(model: TemporalNet, x: np.ndarray, batch: int = 256) -> np.ndarray:
    model.eval()
    return np.concatenate(
        [model(torch.from_numpy(x[i : i + batch]))[0].numpy() for i in range(0, len(x), batch)]
    )


def _longest_run(mask: np.ndarray) -> float:
    best = run = 0
    for v in mask:
        run = run + 1 if v else 0
        best = max(best, run)
    return best * STEP_S


def rule_scores(x: np.ndarray) -> np.ndarray:
    """The rule baseline on the same windows: drowsiness = max(PERCLOS / 0.15, longest
    closure / 1 s); distraction = longest off-road run / 3 s (the alert table's numbers)."""
    out = np.zeros((len(x), 2), np.float32)
    for i, w in enumerate(x):
        present = w[:, FI["face_present"]] > 0.5
        closed = (w[:, FI["eye_closed"]] >= 0.5) & present
        perclos = closed.sum() / max(1, present.sum())
        out[i, 0] = max(perclos / 0.15, _longest_run(closed) / 1.0)
        out[i, 1] = _longest_run(w[:, FI["off_road"]] > 0.5) / 3.0
    return out


def _first_sustained(t_end: np.ndarray, hit: np.ndarray, hold: int) -> float | None:
    """Time at which ``hit`` has held for ``hold`` consecutive evaluations."""
    run = 0
    for t, h in zip(t_end, hit, strict=True):
        run = run + 1 if h else 0
        if run >= hold:
            return float(t)
    return None


def onset_delays(
    model: TemporalNet,
    cfg: TemporalConfig,
    rng: np.random.Generator,
    noise: NoiseModel,
    threshold: float = 0.7,
    hold_s: int = 5,
) -> dict:
    """Alert for 60 s, then drowsy: seconds from the onset to the alert each method would
    raise (GRU: score >= ``threshold`` for ``hold_s`` s, the runtime's rule; rules: PERCLOS
    over 0.15 or a closure of 1 s), evaluated every second on the trailing window."""
    from drowsy.settings import AlertSettings

    rules = AlertSettings()
    threshold = rules.temporal_threshold if threshold is None else threshold
    hold_s = round(rules.temporal_min_s) if hold_s is None else hold_s
    found: dict[str, list[tuple[float | None, bool]]] = {"gru": [], "rules": []}
    for _ in range(cfg.n_onset):
        seq = simulate(150.0, DROWSY, rng, noise, onset_s=60.0, before=ALERT)
        ends = list(range(cfg.window, len(seq) + 1, round(1.0 / STEP_S)))
        wins = np.stack([seq[e - cfg.window : e] for e in ends])
        t_end = np.array(ends) * STEP_S
        for name, hit, hold in (
            ("gru", scores_of(model, wins)[:, 0] >= threshold, hold_s),
            ("rules", rule_scores(wins)[:, 0] >= 1.0, 1),
        ):
            alert_t = _first_sustained(t_end, hit, hold)
            early = alert_t is not None and alert_t < 60.0
            later = _first_sustained(t_end[t_end >= 60.0], hit[t_end >= 60.0], hold)
            found[name].append((None if later is None else later - 60.0, early))
    out = {}
    for name, v in found.items():
        delays = [d for d, _ in v if d is not None]
        out[name] = {
            "median_delay_s": float(np.median(delays)) if delays else None,
            "detected": len(delays) / len(v),
            "false_alarm_before_onset": float(np.mean([e for _, e in v])),
        }
    return out


class _Export(torch.nn.Module):
    def __init__(self, net: TemporalNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor):
        return self.net(x)


def export(
    model: TemporalNet,
    path: Path,
    cfg: TemporalConfig,
    metrics: dict,
    version: str,
    force: bool = False,
) -> dict:
    import onnxruntime as ort

    if path.exists() and not force:
        raise TrainingError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    wrapper = _Export(model.eval()).eval()
    example = torch.zeros(2, cfg.window, len(FEATURES))
    torch.onnx.export(
        wrapper,
        (example,),
        str(tmp),
        input_names=["input"],
        output_names=list(TEMPORAL_OUTPUTS),
        dynamic_axes={"input": {0: "batch"}, **{o: {0: "batch"} for o in TEMPORAL_OUTPUTS}},
        opset_version=17,
        dynamo=False,
    )
    proto = onnx.load(str(tmp))
    meta = ModelMetadata(
        task="temporal",
        classes=("drowsiness", "distraction"),
        input_size=cfg.window,
        normalisation={"mean": 0.0, "std": 1.0},
        version=version,
        outputs=TEMPORAL_OUTPUTS,
        member="gru_attention",
        input_shape=(cfg.window, len(FEATURES)),
        extra={
            "features": json.dumps(list(FEATURES)),
            "feature_spec_version": str(FEATURE_SPEC_VERSION),
            "step_s": str(STEP_S),
            "window_steps": str(cfg.window),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "training": json.dumps(asdict(cfg)),
            "metrics": json.dumps(metrics),
        },
    )
    for k, v in meta.to_props().items():
        proto.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    x = torch.from_numpy(
        np.random.default_rng(0).random((4, cfg.window, len(FEATURES)), dtype=np.float32)
    )
    with torch.no_grad():
        ref = [t.numpy() for t in wrapper(x)]
    got = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.numpy()}
    )
    diff = float(max(np.abs(a - b).max() for a, b in zip(ref, got, strict=True)))
    return accept(tmp, path, diff)


def train_temporal(cfg: TemporalConfig, noise: NoiseModel, real: np.ndarray | None) -> dict:
    """Pretrain (when real windows are given), train on simulation, evaluate against rules."""
    t0 = time.monotonic()
    rng = seed_everything(cfg.seed)
    train = dataset(cfg.n_train, cfg.window_s, rng, noise)
    val = dataset(cfg.n_val, cfg.window_s, rng, noise)
    test = dataset(cfg.n_test, cfg.window_s, rng, noise)
    xtr, ytr = to_arrays(train, cfg.window)
    xva, yva = to_arrays(val, cfg.window)
    xte, yte = to_arrays(test, cfg.window)
    results: dict = {"config": asdict(cfg), "noise_source": noise.source, "variants": {}}
    models = {}
    variants = ["pretrained", "scratch"] if real is not None and len(real) else ["scratch"]
    for variant in variants:
        torch.manual_seed(cfg.seed)
        model = TemporalNet(hidden=cfg.hidden)
        if variant == "pretrained" and real is not None:
            losses = pretrain(model, real, cfg, rng)
            results["pretrain_loss"] = [float(np.mean(losses[:20])), float(np.mean(losses[-20:]))]
        fit(model, xtr, ytr, cfg, rng)
        sv = scores_of(model, xva)
        results["variants"][variant] = {
            "val_auc_drowsy": roc_auc(yva[:, 0], sv[:, 0]),
            "val_auc_distraction": roc_auc(yva[:, 1], sv[:, 1]),
        }
        models[variant] = model
    best = max(
        models,
        key=lambda v: (
            results["variants"][v]["val_auc_drowsy"] + results["variants"][v]["val_auc_distraction"]
        ),
    )
    model = models[best]
    st, sr = scores_of(model, xte), rule_scores(xte)
    results["chosen"] = best
    results["test"] = {
        "n": len(xte),
        "gru": {
            "auc_drowsy": roc_auc(yte[:, 0], st[:, 0]),
            "auc_distraction": roc_auc(yte[:, 1], st[:, 1]),
        },
        "rules": {
            "auc_drowsy": roc_auc(yte[:, 0], sr[:, 0]),
            "auc_distraction": roc_auc(yte[:, 1], sr[:, 1]),
        },
    }
    results["onset"] = onset_delays(model, cfg, rng, noise)
    results["seconds"] = round(time.monotonic() - t0, 1)
    results["model"] = model
    return results
