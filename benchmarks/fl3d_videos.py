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
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.contracts import AlertAction, AlertKind, Frame  # noqa: E402
from drowsy.pipeline import Pipeline  # noqa: E402
from drowsy.settings import Settings, apply_overrides  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "fl3d"
FPS = 30.0
MIN_CLOSURE_FRAMES = 30  # >= 1 s at 30 fps: a microsleep the product must alert
NAME = re.compile(r"^(?P<driver>P\d+).*?__frame(?P<frame>\d+)$")
EYE_ALERTS = {AlertKind.MICROSLEEP, AlertKind.SLEEP, AlertKind.UNRESPONSIVE}


@dataclass
class DriverFrames:
    driver: str
    numbers: list[int]
    labels: list[str]  # alert / microsleep / yawning
    paths: list[Path]


def driver_frames(root: Path) -> dict[str, DriverFrames]:
    rows = defaultdict(list)
    for cls in ("alert", "microsleep", "yawning"):
        for p in (root / cls).glob("*.jpg"):
            m = NAME.match(p.stem)
            if m:
                rows[m["driver"]].append((int(m["frame"]), cls, p))
    out = {}
    for d, r in rows.items():
        r.sort()
        out[d] = DriverFrames(d, [x[0] for x in r], [x[1] for x in r], [x[2] for x in r])
    return out


def closures(numbers: list[int], labels: list[str]) -> list[tuple[int, int]]:
    """(first, last) frame numbers of each run of consecutive microsleep frames."""
    runs, start, prev = [], None, None
    for n, lab in zip(numbers, labels, strict=True):
        if lab == "microsleep" and start is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            runs.append((start, prev))
            start = None
        if lab == "microsleep":
            start = prev = n
    if start is not None:
        runs.append((start, prev))
    return runs


def drowsy_stretches(numbers: list[int], labels: list[str], gap_s: float = 10.0):
    """(start, end) seconds of each drowsy stretch: microsleep and yawning frames, merged where
    less than ``gap_s`` apart. What the temporal model should alert on; the rest of the video
    (alert frames) it should not."""
    times = [n / FPS for n, lab in zip(numbers, labels, strict=True) if lab != "alert"]
    out: list[list[float]] = []
    for t in times:
        if out and t - out[-1][1] < gap_s:
            out[-1][1] = t
        else:
            out.append([t, t])
    return [(a, b) for a, b in out]


def temporal_scores(raised: list[float], stretches: list[tuple[float, float]], after_s=5.0):
    """Recall over drowsy stretches (an alert from its start to ``after_s`` past its end), the
    delay from the stretch's start, and the alerts outside every stretch (false)."""
    hits, delays = 0, []
    for a, b in stretches:
        got = [s for s in raised if a <= s <= b + after_s]
        if got:
            hits += 1
            delays.append(min(got) - a)
    false = [s for s in raised if not any(a <= s <= b + after_s for a, b in stretches)]
    return {
        "temporal_stretches": len(stretches),
        "temporal_recall": hits / len(stretches) if stretches else None,
        "temporal_delay_s_median": float(np.median(delays)) if delays else None,
        "temporal_false_alerts": len(false),
    }


def f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = float((truth & pred).sum())
    return 2 * tp / max(1.0, float(truth.sum() + pred.sum()))


def run_driver(df: DriverFrames, settings: Settings) -> dict:
    first = cv2.imread(str(df.paths[0]))
    h, w = first.shape[:2]
    closed_truth, closed_pred, ear_pred, times = [], [], [], []
    raised: list[tuple[str, float]] = []
    withheld: dict[str, int] = defaultdict(int)
    temporal_raised = []
    closed_runs_pred: list[tuple[float, float]] = []
    run_start, prev_t = None, 0.0
    threshold = settings.signals.closed_threshold  # what the alert engine calls closed
    with Pipeline(settings) as pipe:
        for idx, (n, lab, p) in enumerate(zip(df.numbers, df.labels, df.paths, strict=True)):
            img = cv2.imread(str(p))
            if img.shape[:2] != (h, w):
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            t = n / FPS
            r = pipe.process(Frame(img, t, idx))
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
