"""Per-stage cost of the pipeline and end-to-end speed of ``analyze`` on a 640x480 video.

Usage: python benchmarks/bench_pipeline.py [VIDEO] [--json]

Without VIDEO it uses ../shared/data/videos/webcam_glasses_3.avi when present, else the built-in
sample video. Prints a Markdown table (the one in the README) with the machine it ran on.
Decoding alone is the floor: nothing that reads the video can be faster.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drowsy.alertlog import AlertLog  # noqa: E402
from drowsy.analyze import AnalyzeOptions, analyze_video  # noqa: E402
from drowsy.contracts import Alert, AlertKind, AlertLevel  # noqa: E402
from drowsy.pipeline import Pipeline  # noqa: E402
from drowsy.sample import sample_video  # noqa: E402
from drowsy.settings import Settings  # noqa: E402
from drowsy.sources import VideoFileSource  # noqa: E402

DEFAULT_VIDEO = ROOT.parent / "shared" / "data" / "videos" / "webcam_glasses_3.avi"


def decode_only(path: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    with VideoFileSource(path) as src:
        n = sum(1 for _ in src)
    return n, time.perf_counter() - t0


def stage_times(path: Path) -> dict[str, float]:
    """Median milliseconds per frame of each stage."""
    samples: dict[str, list[float]] = {"decode": []}
    with VideoFileSource(path) as src, Pipeline(Settings()) as pipe:
        it = iter(src)
        while True:
            t0 = time.perf_counter()
            frame = next(it, None)
            if frame is None:
                break
            samples["decode"].append((time.perf_counter() - t0) * 1e3)
            result = pipe.process(frame)
            for k, v in result.timings_ms.items():
                samples.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in samples.items()}


def log_commit_ms(n: int = 200) -> float:
    """Milliseconds to commit one alert change (WAL, synchronous=FULL)."""
    with tempfile.TemporaryDirectory() as tmp, AlertLog(Path(tmp) / "log.sqlite") as log:
        session = log.start_session("bench", {}, {})
        t0 = time.perf_counter()
        for i in range(n):
            log.record(session, Alert(i, AlertKind.MICROSLEEP, AlertLevel.WARNING, i, i))
        return (time.perf_counter() - t0) * 1e3 / n


def end_to_end(path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        opts = AnalyzeOptions(
            Path(tmp) / "out", Path(tmp) / "log.sqlite", Settings(), progress=False
        )
        t0 = time.perf_counter()
        summary = analyze_video(path, Path(tmp) / "out" / path.stem, opts)
        wall = time.perf_counter() - t0
    return {"frames": summary["frames"], "wall_s": wall, "duration_s": summary["duration_s"]}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, no GPU used"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    video = args.video or (DEFAULT_VIDEO if DEFAULT_VIDEO.exists() else sample_video())
    with VideoFileSource(video) as src:
        size = src.size
    n, decode_s = decode_only(video)
    stages = stage_times(video)
    stages["log (per alert commit)"] = log_commit_ms()
    e2e = end_to_end(video)
    result = {
        "video": video.name,
        "size": size,
        "machine": machine(),
        "decode_fps": n / decode_s,
        "analyze_fps": e2e["frames"] / e2e["wall_s"],
        "realtime_factor": e2e["duration_s"] / e2e["wall_s"],
        "stage_ms": stages,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"Video: {video.name} ({size[0]}x{size[1]}, {n} frames). Machine: {result['machine']}.\n")
    print("| stage | ms per frame (median) |\n|---|---|")
    for k, v in stages.items():
        print(f"| {k} | {v:.2f} |")
    print("\n| throughput | frames/s |\n|---|---|")
    print(f"| decode only (floor) | {result['decode_fps']:.0f} |")
    print(f"| `drowsy analyze` end to end | {result['analyze_fps']:.0f} |")
    print(
        f"\nanalyze runs at {result['analyze_fps'] / result['decode_fps']:.0%} of decode speed, "
        f"{result['realtime_factor']:.1f}x real time for this video."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
