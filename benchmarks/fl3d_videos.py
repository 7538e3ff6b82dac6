"""FL3D night drivers as videos through the whole runtime: eye closures, microsleep alerts,
closure durations and temporal alerts, beside the ``EAR < 0.2`` baseline on the same frames.

Each driver's frames are put in frame-number order and timed by their numbers at 30 fps
(alert stretches keep every 3rd frame, so they play at 10 fps with the right clock; a
microsleep keeps every frame), resized to one size per driver, and fed to the runtime
pipeline as a camera would. Truth: frames in ``microsleep/`` are closed, ``alert/`` open
(``yawning/`` frames are left out of the eye scores); a closure is a run of consecutive
microsleep frame numbers.

    python benchmarks/fl3d_videos.py [--drivers P1042762] [--set runtime.estimator=cnn] [--json OUT]

Only people a model never trained on say anything: the shipped models' final-test driver is
P1042762 (training/protocol.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.contracts import AlertAction, AlertKind  # noqa: E402
from drowsy.pipeline import Pipeline  # noqa: E402
from drowsy.settings import Settings, apply_overrides  # noqa: E402
from training.fl3d import (  # noqa: E402
    FPS,
    DriverFrames,
    closures,
    driver_frames,
    drowsy_stretches,
    temporal_scores,
)

DATA = ROOT.parent / "shared" / "data" / "fl3d"
MIN_CLOSURE_FRAMES = 30  # >= 1 s at 30 fps: a microsleep the product must alert
EYE_ALERTS = {AlertKind.MICROSLEEP, AlertKind.SLEEP, AlertKind.UNRESPONSIVE}


def f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = float((truth & pred).sum())
    return 2 * tp / max(1.0, float(truth.sum() + pred.sum()))


def run_driver(df: DriverFrames, settings: Settings) -> dict:
    closed_truth, closed_pred, ear_pred, times = [], [], [], []
    raised: list[tuple[str, float]] = []
    withheld: dict[str, int] = defaultdict(int)
    temporal_raised = []
    closed_runs_pred: list[tuple[float, float]] = []
    run_start, prev_t = None, 0.0
    threshold = settings.signals.closed_threshold  # what the alert engine calls closed
    with Pipeline(settings) as pipe:
        for frame, lab in df.video():
            t = frame.timestamp_s
            r = pipe.process(frame)
            withheld[str(r.temporal_withheld)] += 1
            for u in r.updates:
                if u.action is AlertAction.RAISED and u.alert.kind in EYE_ALERTS:
                    raised.append((u.alert.kind.value, u.alert.start_s))
                if u.action is AlertAction.RAISED and u.alert.kind is AlertKind.DROWSY_TEMPORAL:
                    temporal_raised.append(u.alert.start_s)
            s = r.signals
            closed = bool(s.usable and s.eye_closed is not None and s.eye_closed >= threshold)
            if closed and run_start is None:
                run_start = t
            if not closed and run_start is not None:
                closed_runs_pred.append((run_start, prev_t))
                run_start = None
            prev_t = t
            if lab == "yawning":
                continue
            times.append(t)
            closed_truth.append(lab == "microsleep")
            closed_pred.append(closed)
            ear_pred.append(bool(s.ear is not None and s.ear < 0.2))
        pipe.finish()
    if run_start is not None:
        closed_runs_pred.append((run_start, prev_t))
    truth = np.array(closed_truth)
    gt = closures(df.numbers, df.labels)
    long_gt = [(a, b) for a, b in gt if b - a + 1 >= MIN_CLOSURE_FRAMES]
    hits, delays, duration_err = 0, [], []
    for a, b in long_gt:
        ta, tb = a / FPS, b / FPS
        got = [s for _, s in raised if ta - 0.2 <= s <= tb + 0.5]
        if got:
            hits += 1
            delays.append(min(got) - ta)
    for a, b in gt:
        ta, tb = a / FPS, b / FPS
        over = [(x, y) for x, y in closed_runs_pred if x <= tb and y >= ta]
        if over:
            x, y = max(over, key=lambda r: min(r[1], tb) - max(r[0], ta))
            duration_err.append(abs(round((y - x) * FPS) - (b - a)))
        else:
            duration_err.append(b - a + 1)
    true_alerts = sum(any(a / FPS - 0.2 <= s <= b / FPS + 0.5 for a, b in gt) for _, s in raised)
    return {
        "driver": df.driver,
        "frames": len(df.numbers),
        "closures": len(gt),
        "closures_ge_1s": len(long_gt),
        "alert_recall": hits / len(long_gt) if long_gt else None,
        "alerts_raised": len(raised),
        "alert_precision": true_alerts / len(raised) if raised else None,
        "alert_delay_s_median": float(np.median(delays)) if delays else None,
        "frame_closed_f1": f1(truth, np.array(closed_pred)),
        "frame_closed_f1_ear_0.2": f1(truth, np.array(ear_pred)),
        "closure_duration_error_frames_median": float(np.median(duration_err))
        if duration_err
        else None,
        "temporal_alerts": len(temporal_raised),
        "temporal_alert_times_s": temporal_raised,
        **temporal_scores(temporal_raised, drowsy_stretches(df.numbers, df.labels)),
        "temporal_withheld_frames": dict(withheld),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--drivers", nargs="*", default=["P1042762"])
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if not a.data.is_dir():
        print(f"error: {a.data}: no FL3D folder", file=sys.stderr)
        return 2
    settings = apply_overrides(Settings(), a.overrides)
    frames = driver_frames(a.data)
    out = [run_driver(frames[d], settings) for d in a.drivers]
    for r in out:
        print(json.dumps(r))
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
