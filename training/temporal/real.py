"""The temporal model with real drowsiness: FL3D night drivers and an awake webcam video as
labelled real sequences beside the simulator, chosen by leave-one-driver-out (docs/PROTOCOL.md,
"a temporal model that has seen real drowsiness").

Why recordings and replay: each driver goes through the runtime once (MediaPipe, the eye and
yawn models that never saw the driver) and its per-frame signals are kept; every candidate is
then scored by replaying them through the runtime's own :class:`TemporalModel` and
:class:`AlertEngine`, so "alerted" means what it means in the product (0.9 for 5 s, the
withholding rules) without re-running the face mesh per candidate.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from drowsy.alerts.engine import AlertEngine
from drowsy.contracts import AlertAction, AlertKind, Calibration, Frame, FrameSignals
from drowsy.inference.temporal import MAX_ROLL_DEG, TemporalModel
from drowsy.pipeline import Pipeline
from drowsy.settings import Settings
from drowsy.sources import VideoFileSource
from drowsy.temporal.features import FEATURES, STEP_S, StepBuffer, frame_vector
from training.errors import TrainingError
from training.fl3d import AFTER_S, driver_frames, temporal_scores
from training.recipes import TemporalConfig
from training.temporal.model import TemporalNet
from training.temporal.simulator import NoiseModel, dataset
from training.temporal.train import export, to_arrays
from training.train import seed_everything

log = logging.getLogger(__name__)

TEST_DRIVER = "P1042762"  # training/protocol.py's FL3D final-test driver
AWAKE_TRAIN = ("webcam_glasses_3",)  # the dev video: alert windows for training
AWAKE_VIDEOS = ("webcam_glasses_3", "webcam_glasses_5_low_fps", "webcam_glasses_6_low_fps")
REAL_SHARE = 0.25  # of every batch
MIN_DROWSY_S = 1.0  # a window must hold this much of a stretch to be labelled drowsy
CADENCE_S = 1.0  # the runtime scores once a second


@dataclass
class Recording:
    """One video's per-frame signals as the runtime measured them, and its drowsy stretches
    (none for an awake driver)."""

    name: str
    signals: list[FrameSignals]
    calibrations: list[Calibration]
    stretches: list[tuple[float, float]] = field(default_factory=list)


def record(name: str, frames: Iterable[Frame], settings: Settings, stretches=()) -> Recording:
    """The runtime's per-frame signals of a video (temporal model off: only its inputs)."""
    runtime = settings.runtime.model_copy(update={"temporal": False})
    settings = settings.model_copy(update={"runtime": runtime})
    sigs, cals = [], []
    with Pipeline(settings) as pipe:
        for frame in frames:
            r = pipe.process(frame)
            sigs.append(r.signals)
            cals.append(pipe.calibrator.result)
    return Recording(name, sigs, cals, list(stretches))


def with_models(settings: Settings, models: Path) -> Settings:
    runtime = settings.runtime.model_copy(update={"models_dir": str(models)})
    return settings.model_copy(update={"runtime": runtime})


def fl3d_recordings(
    root: Path, models_for: dict[str, Path], settings: Settings
) -> dict[str, Recording]:
    """Every driver of ``models_for`` through the runtime with that driver's models."""
    frames = driver_frames(root)
    out = {}
    for driver, models in models_for.items():
        if driver not in frames:
            raise TrainingError(f"{root}: no frames of FL3D driver {driver}")
        df = frames[driver]
        video = (frame for frame, _ in df.video())
        out[driver] = record(driver, video, with_models(settings, models), df.stretches())
    return out


def video_frames(path: Path, rotate: bool = False) -> Iterable[Frame]:
    import cv2

    with VideoFileSource(path) as src:
        for frame in src:
            if rotate:
                frame = replace(frame, image=cv2.rotate(frame.image, cv2.ROTATE_90_CLOCKWISE))
            yield frame


def awake_recordings(videos: Path, settings: Settings, rotated: bool) -> dict[str, Recording]:
    out = {}
    for stem in AWAKE_VIDEOS:
        path = next(videos.glob(f"{stem}.*"), None)
        if path is None:
            raise TrainingError(f"{videos}: no video {stem}")
        out[stem] = record(stem, video_frames(path), settings)
        if rotated:
            name = f"{stem} (turned 90 degrees)"
            out[name] = record(name, video_frames(path, rotate=True), settings)
    return out


# --- labelled windows -------------------------------------------------------------------------


def scored_windows(rec: Recording, window: int, min_fill: float = 0.5):
    """The windows the runtime would score (once a second, the same withholding rules as
    :class:`TemporalModel`): (N, window, F) and each window's end time."""
    buf = StepBuffer(window, STEP_S)
    xs, ts, next_run = [], [], None
    need = int(min_fill * window)
    for s, cal in zip(rec.signals, rec.calibrations, strict=True):
        buf.push(s.timestamp_s, frame_vector(s, cal))
        buf.resets = 0
        withheld = (
            not s.usable
            or (s.roll is not None and abs(s.roll) > MAX_ROLL_DEG)
            or len(buf.steps) < need
            or buf.usable_steps < need
        )
        if withheld:
            next_run = None
            continue
        if next_run is None or s.timestamp_s >= next_run:
            xs.append(buf.array()[0])
            ts.append(s.timestamp_s)
            next_run = s.timestamp_s + CADENCE_S
    if not xs:
        return np.zeros((0, window, len(FEATURES)), np.float32), np.zeros(0)
    return np.stack(xs).astype(np.float32), np.array(ts)


def window_labels(
    t_end: np.ndarray, stretches: list[tuple[float, float]], window_s: float
) -> np.ndarray:
    """1: the window ends at least 1 s into a drowsy stretch and at most 5 s past its end;
    0: no drowsy frame in the window (nor within 5 s before it); -1: in between (left out)."""
    y = np.zeros(len(t_end), np.int64)
    for i, t in enumerate(t_end):
        for a, b in stretches:
            if a + MIN_DROWSY_S <= t <= b + AFTER_S:
                y[i] = 1
                break
            if t - window_s <= b + AFTER_S and t >= a:
                y[i] = -1
    return y


def labelled(recs: Iterable[Recording], window: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for rec in recs:
        x, t = scored_windows(rec, window)
        y = window_labels(t, rec.stretches, window * STEP_S)
        keep = y >= 0
        xs.append(x[keep])
        ys.append(y[keep])
    return np.concatenate(xs), np.concatenate(ys).astype(np.float32)


# --- training and replay ----------------------------------------------------------------------


def fit_with_real(
    cfg: TemporalConfig, noise: NoiseModel, real_x: np.ndarray, real_y: np.ndarray
) -> TemporalNet:
    """The shipped recipe's simulated windows (same seed) with a quarter of each batch real;
    real windows carry a drowsiness label only (their distraction loss is masked)."""
    rng = seed_everything(cfg.seed)
    xs, ys = to_arrays(dataset(cfg.n_train, cfg.window_s, rng, noise), cfg.window)
    torch.manual_seed(cfg.seed)
    model = TemporalNet(hidden=cfg.hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.train_steps)
    n_real = round(cfg.batch_size * REAL_SHARE) if len(real_x) else 0
    n_sim = cfg.batch_size - n_real
    model.train()
    for _ in range(cfg.train_steps):
        si = rng.integers(0, len(xs), n_sim)
        ri = rng.integers(0, max(1, len(real_x)), n_real)
        x, y = xs[si], ys[si]
        if n_real:
            x = np.concatenate([x, real_x[ri]])
            y = np.concatenate([y, np.stack([real_y[ri], np.zeros(n_real)], axis=1)])
        mask = np.ones_like(y)
        mask[n_sim:, 1] = 0.0
        scores, _ = model(torch.from_numpy(x))
        loss = F.binary_cross_entropy(
            scores, torch.from_numpy(y.astype(np.float32)), weight=torch.from_numpy(mask)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return model


def replay(rec: Recording, model: Path, settings: Settings) -> dict:
    """The recording through the runtime's temporal model and alert engine: when each
    ``drowsy_temporal`` alert was raised, and the peak drowsiness score."""
    tm = TemporalModel(model, threads=1)
    engine = AlertEngine(settings.alerts, settings.signals)
    raised, peak = [], 0.0
    for s, cal in zip(rec.signals, rec.calibrations, strict=True):
        state = tm.update(s, cal)
        if state is not None:
            peak = max(peak, state.drowsiness)
        for u in engine.update(s, state):
            if u.action is AlertAction.RAISED and u.alert.kind is AlertKind.DROWSY_TEMPORAL:
                raised.append(round(u.alert.start_s, 2))
    engine.finish()
    seconds = rec.signals[-1].timestamp_s if rec.signals else 0.0
    return {"raised_s": raised, "peak_drowsiness": round(peak, 3), "seconds": round(seconds, 1)}


def score_drivers(runs: dict[str, dict], recs: dict[str, Recording]) -> dict:
    """Per driver and pooled: stretches alerted, delays, alerts outside every stretch."""
    per = {d: temporal_scores(r["raised_s"], recs[d].stretches) for d, r in runs.items()}
    hits = sum(v["temporal_hits"] for v in per.values())
    n = sum(v["temporal_stretches"] for v in per.values())
    delays = [x for v in per.values() for x in v["temporal_delays_s"]]
    return {
        "drivers": per,
        "stretches": n,
        "alerted": hits,
        "recall": hits / n if n else None,
        "delay_s_median": float(np.median(delays)) if delays else None,
        "false_alerts": sum(v["temporal_false_alerts"] for v in per.values()),
    }


def _to_onnx(model: TemporalNet, cfg: TemporalConfig, folder: Path, name: str) -> Path:
    path = folder / f"{name}.onnx"
    export(model, path, cfg, {}, "candidate", force=True)
    return path


@dataclass(frozen=True)
class RealBuildConfig:
    data: Path  # ../shared/data
    work: Path  # the people build's work folder (its fold models: folds/fK)
    models: Path  # the shipped models (temporal/ is replaced when the rule says so)
    cfg: TemporalConfig = field(default_factory=TemporalConfig)


def development_drivers(models: Path) -> dict[str, int]:
    """Each FL3D development driver's fold, from the people build's results beside the models
    (the fold models themselves are in its ``--work`` folder)."""
    path = models / "people_results.json"
    if not path.is_file():
        raise TrainingError(f"{path}: missing; run `python -m training reproduce --out {models}`")
    folds = json.loads(path.read_text()).get("fold_models", {})
    out = {}
    for f, people in folds.items():
        for p in people:
            out[p.removeprefix("fl3d:")] = int(f.removeprefix("f"))
    if not out:
        raise TrainingError(f"{path}: no FL3D fold models listed")
    return out


def build_real(rc: RealBuildConfig) -> dict:
    """Record, evaluate leave-one-driver-out, apply the rule, and export when it ships."""
    t0 = time.monotonic()
    settings = Settings()
    shipped = rc.models / "temporal" / "temporal.onnx"
    if not shipped.is_file():
        raise TrainingError(f"{shipped}: no shipped temporal model to compare with")
    noise_path = rc.models / "temporal" / "noise.json"
    fields: dict[str, Any] = {
        k: np.asarray(v) if isinstance(v, list) else v
        for k, v in json.loads(noise_path.read_text()).items()
    }
    noise = NoiseModel(**fields)
    folds = development_drivers(rc.models)
    models_for = {d: rc.work / "folds" / f"f{f}" for d, f in sorted(folds.items())}
    models_for[TEST_DRIVER] = rc.models
    log.info("recording %d FL3D drivers", len(models_for))
    drivers = fl3d_recordings(rc.data / "fl3d", models_for, with_models(settings, rc.models))
    awake = awake_recordings(rc.data / "videos", with_models(settings, rc.models), rotated=True)
    dev = [d for d in drivers if d != TEST_DRIVER]
    window = rc.cfg.window
    results: dict = {"config": asdict(rc.cfg), "real_share": REAL_SHARE, "folds": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        oof_runs, shipped_runs = {}, {}
        for d in dev:
            train = [drivers[o] for o in dev if o != d] + [awake[s] for s in AWAKE_TRAIN]
            x, y = labelled(train, window)
            model = fit_with_real(rc.cfg, noise, x, y)
            oof_runs[d] = replay(drivers[d], _to_onnx(model, rc.cfg, folder, d), settings)
            shipped_runs[d] = replay(drivers[d], shipped, settings)
            results["folds"][d] = {"windows": len(y), "drowsy_windows": int(y.sum())}
            log.info("fold %s: %s", d, oof_runs[d])
        results["oof"] = {
            "candidate": score_drivers(oof_runs, drivers),
            "shipped": score_drivers(shipped_runs, drivers),
        }
        x, y = labelled([drivers[d] for d in dev] + [awake[s] for s in AWAKE_TRAIN], window)
        final = fit_with_real(rc.cfg, noise, x, y)
        final_path = _to_onnx(final, rc.cfg, folder, "final")
        results["final_windows"] = {"windows": len(y), "drowsy_windows": int(y.sum())}
        results["awake"] = {
            "candidate": {k: replay(r, final_path, settings) for k, r in awake.items()},
            "shipped": {k: replay(r, shipped, settings) for k, r in awake.items()},
        }
        cand, ship = results["oof"]["candidate"], results["oof"]["shipped"]
        awake_alerts = sum(len(v["raised_s"]) for v in results["awake"]["candidate"].values())
        ships = (
            (cand["recall"] or 0) > (ship["recall"] or 0)
            and cand["false_alerts"] <= ship["false_alerts"]
            and awake_alerts == 0
        )
        results["ships"] = ships
        results["awake_alerts"] = awake_alerts
        chosen = final_path if ships else shipped
        test = {TEST_DRIVER: replay(drivers[TEST_DRIVER], chosen, settings)}
        results["final_test"] = score_drivers(test, drivers)
        results["final_test_runs"] = test
        if ships:
            results["export"] = export(
                final,
                shipped,
                rc.cfg,
                {"real_oof": {k: cand[k] for k in ("recall", "delay_s_median", "false_alerts")}},
                "2",
                force=True,
            )
    results["minutes"] = round((time.monotonic() - t0) / 60, 1)
    (rc.models / "temporal" / "real_results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results
