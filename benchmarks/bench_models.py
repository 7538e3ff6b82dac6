"""Cost of the shipped CNN ensembles in ONNX Runtime on this machine.

Usage: python benchmarks/bench_models.py [--models DIR] [--threads N]

Reports: milliseconds per frame of the whole ensemble call (both eye crops through every eye
member, the mouth crop through every yawn member: one merged graph per task), milliseconds per
task for one crop, Grad-CAM milliseconds per alert, and the memory the loaded models take (RSS
growth).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.contracts import AlertKind, Frame  # noqa: E402
from drowsy.inference.ensemble import CnnEstimator  # noqa: E402
from drowsy.inference.explain import Explainer  # noqa: E402
from drowsy.inference.factory import SHIPPED_MODELS  # noqa: E402
from drowsy.scenario.render import actor  # noqa: E402
from drowsy.settings import Settings  # noqa: E402
from drowsy.vision.tracker import FaceTracker, TrackerOptions  # noqa: E402


def rss_mb() -> float:
    """Resident memory after freed heap pages went back to the OS (glibc keeps them otherwise,
    so what was freed before would count against whatever is measured next)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=SHIPPED_MODELS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-n", type=int, default=300)
    args = ap.parse_args()
    image = actor(None).open_eyes.image
    s = Settings()
    with FaceTracker(TrackerOptions(s.tracker, s.quality, s.gaze, static_images=True)) as tr:
        obs = tr.process(Frame(image, 0.0, 0))
    before = rss_mb()
    est = CnnEstimator(args.models, "auto", args.threads)
    loaded = rss_mb() - before
    from drowsy.contracts import Calibration

    per_frame = timed(lambda: est.estimate(obs, Calibration()), args.n)
    per_task = {
        ens.task: timed(lambda ens=ens: ens.predict([obs.crops.left_eye]), args.n)
        for ens in (est.eyes, est.yawn)
    }
    eyes_both = timed(lambda: est.eyes_closed(obs), args.n)  # what every frame costs
    explainer = Explainer(est)
    gradcam_ms = timed(lambda: explainer.explain(AlertKind.MICROSLEEP, image, obs, "raise"), 30)
    temporal = {}
    tpath = args.models / "temporal" / "temporal.onnx"
    if tpath.exists():
        from drowsy.contracts import Calibration as Cal
        from drowsy.inference.temporal import TemporalModel
        from drowsy.state.signals import build_signals

        tm = TemporalModel(tpath, threads=args.threads)
        x = np.zeros((1, tm.window, 10), np.float32)
        temporal["gru_ms_per_run"] = round(timed(lambda: tm.model.run(x, ["scores"]), 100), 3)
        # this portrait's real signals, 100 s of them at 30 fps
        first = build_signals(0, 0.0, obs, est.estimate(obs, Cal()), Cal(done=True), s.gaze)
        frames = [replace(first, index=i, timestamp_s=i / 30) for i in range(3000)]
        t0 = time.perf_counter()
        for f in frames:
            tm.update(f, Cal(done=True))
        temporal["ms_per_frame_at_30fps"] = round((time.perf_counter() - t0) * 1e3 / len(frames), 4)
    result = {
        "provider": est.provider,
        "threads": args.threads,
        "ensemble_ms_per_frame": round(per_frame, 3),
        "ensemble_ms_per_crop": {k: round(v, 3) for k, v in per_task.items()},
        "eyes_ms_per_frame_both_eyes": round(eyes_both, 3),
        "members": {
            ens.task: ", ".join(m.meta.extra.get("arch", "?") for m in ens.members)
            + f" at {ens.input_size} px"
            for ens in (est.eyes, est.yawn)
        },
        "gradcam_ms_per_alert": round(gradcam_ms, 2),
        "models_rss_mb": round(loaded, 1),
        "temporal": temporal,
        "model_bytes": {
            f"{p.parent.name}/{p.name}": p.stat().st_size
            for p in sorted(args.models.glob("*/*.onnx"))
        },
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
